"""The Evaluators pages, in process: an admin defines, edits and switches evaluators; a
member queues a run but cannot change one; a viewer only reads."""

from __future__ import annotations

import time

from starlette.testclient import TestClient

from heliograph.evals.definition import make_evaluator
from heliograph.evals.records import EvaluatorUsage, day_of
from heliograph.runtime import Runtime
from tests.unit.test_prompt_pages import csrf, runtime, signed_in

__all__ = ["runtime"]

PAGES = "/default/default/llm/evaluators/"


def form(token: str, **fields: str) -> dict[str, str]:
    return {
        "csrf_token": token,
        "name": "helpfulness",
        "kind": "llm_judge",
        "template": "Is this helpful? {{output}}",
        "output_type": "numeric",
        "output_min": "0",
        "output_max": "1",
        "sampling_rate": "0.5",
        "daily_budget_usd": "2",
        "threshold": "0.6",
        "window": "3",
        "filter_prompt": "support",
        "enabled": "on",
        **fields,
    }


def test_an_admin_defines_and_edits_evaluators(runtime: Runtime) -> None:
    client: TestClient = signed_in(runtime, "admin")
    listing = client.get(PAGES)
    assert listing.status_code == 200 and "No evaluators yet." in listing.text
    assert 'href="/default/default/llm/evaluators/"' in listing.text  # the LLM tab
    token = csrf(listing.text)
    refused = client.post(PAGES, data=form(token, sampling_rate="5"))
    assert refused.status_code == 400 and "sampling_rate" in refused.text
    made = client.post(PAGES, data=form(token))
    assert made.status_code == 200 and "Evaluator created" in made.text
    [evaluator] = runtime.store.list_evaluators()
    assert evaluator.filter.prompt_name == "support" and evaluator.window == 3
    assert evaluator.config["template"] == "Is this helpful? {{output}}"
    page = f"{PAGES}{evaluator.id}/"
    saved = client.post(page, data=form(token, action="save", threshold="0.4", enabled=""))
    assert "Saved." in saved.text
    changed = runtime.store.get_evaluator(1, evaluator.id)
    assert changed is not None and changed.threshold == 0.4 and not changed.enabled
    client.post(page, data={"csrf_token": token, "action": "toggle"})
    assert runtime.store.get_evaluator(1, evaluator.id).enabled  # type: ignore[union-attr]
    check = client.post(PAGES, data={
        "csrf_token": token, "name": "short", "kind": "length",
        "config": '{"max": 500}', "enabled": "on",
    })  # fmt: skip
    assert check.status_code == 200
    runtime.store.add_evaluator_usage(
        1, evaluator.id, day_of(time.time()), EvaluatorUsage(3, 2, 1, 0, 0, 0.5)
    )
    listed = client.get(PAGES).text
    assert 'data-evaluator="short"' in listed and "free" in listed and "$0.50" in listed
    gone = client.post(page, data={"csrf_token": token, "action": "delete"})
    assert gone.status_code == 200 and 'data-evaluator="helpfulness"' not in gone.text


def test_members_run_and_viewers_read(runtime: Runtime) -> None:
    made = runtime.store.create_evaluator(
        make_evaluator(1, {"name": "valid", "kind": "json_schema", "config": {"schema": {}}})
    )
    page = f"{PAGES}{made.id}/"
    member = signed_in(runtime, "member")
    shown = member.get(page)
    assert shown.status_code == 200 and 'id="run-evaluator"' in shown.text
    assert 'id="edit-evaluator"' not in shown.text
    token = csrf(shown.text)
    queued = member.post(page, data={"csrf_token": token, "action": "run", "range": "7d",
                                      "limit": "20", "prompt_name": "support"})  # fmt: skip
    assert queued.status_code == 200 and "Run queued" in queued.text
    [run] = runtime.store.evaluator_runs(1, made.id)
    assert run.limit == 20 and run.filters["prompt_name"] == "support"
    assert member.post(page, data={"csrf_token": token, "action": "toggle"}).status_code == 403
    assert member.post(PAGES, data=form(token)).status_code == 403
    viewer = signed_in(runtime, "viewer")
    seen = viewer.get(page)
    assert seen.status_code == 200 and 'id="run-evaluator"' not in seen.text
    assert viewer.post(page, data={"csrf_token": csrf(seen.text) if "csrf_token" in seen.text
                                   else "", "action": "run"}).status_code == 403  # fmt: skip
    assert viewer.get(f"{PAGES}999999/").status_code == 404
