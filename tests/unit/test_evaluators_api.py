"""The evaluators API in-process: create, read, change, delete, queue runs, who may."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from heliograph.app import create_app
from heliograph.bootstrap import ensure_defaults
from heliograph.config import Settings
from heliograph.runtime import Runtime
from tests.unit.test_prompts_api import Api

EVALUATORS = "/api/0/projects/default/default/llm/evaluators/"
JUDGE = {
    "name": "helpfulness",
    "kind": "llm_judge",
    "config": {"template": "Was this helpful? {{output}}"},
    "output": {"type": "numeric", "min": 1, "max": 5},
    "threshold": 3,
    "sampling_rate": 0.25,
    "daily_budget_usd": 5,
    "filter": {"prompt_name": "support"},
}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    settings = Settings(data_dir=tmp_path / "data")
    runtime = Runtime(settings)
    try:
        welcome = ensure_defaults(runtime.store, settings.base_url)
        assert welcome.api_token is not None
        client = TestClient(create_app(settings, runtime), base_url="http://testserver")
        client.headers["Authorization"] = f"Bearer {welcome.api_token}"
        yield Api(client, runtime, welcome.project, welcome.public_key, welcome.api_token)
    finally:
        runtime.close()


def test_evaluators_over_the_api(api: Api) -> None:
    created = api.client.post(EVALUATORS, json=JUDGE)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["name"] == "helpfulness" and body["window"] == 5 and body["enabled"]
    assert body["output"] == {"type": "numeric", "min": 1.0, "max": 5.0}
    assert body["today"]["scored"] == 0
    one = f"{EVALUATORS}{body['id']}/"
    assert api.client.get(one).json()["filter"] == {"prompt_name": "support"}
    assert api.client.post(EVALUATORS, json=JUDGE).status_code == 409
    bad = api.client.post(EVALUATORS, json={**JUDGE, "name": "x", "sampling_rate": 3})
    assert bad.status_code == 400 and "sampling_rate" in bad.json()["detail"]
    changed = api.client.put(one, json={"enabled": False, "threshold": 2.5})
    assert changed.status_code == 200
    assert (changed.json()["enabled"], changed.json()["threshold"]) == (False, 2.5)
    assert changed.json()["config"]["template"] == "Was this helpful? {{output}}"
    check = api.client.post(
        EVALUATORS,
        json={"name": "valid-json", "kind": "json_schema", "config": {"schema": {}}},
    )
    assert check.status_code == 201
    assert [e["name"] for e in api.client.get(EVALUATORS).json()] == ["helpfulness", "valid-json"]

    run = api.client.post(one + "runs/", json={"range": "7d", "prompt_name": "support", "limit": 5})
    assert run.status_code == 202, run.text
    assert run.json()["state"] == "queued" and run.json()["limit"] == 5
    assert run.json()["filters"]["prompt_name"] == "support" and run.json()["filters"]["since"]
    assert api.client.post(one + "runs/", json={"limit": 5000}).status_code == 400
    assert [r["id"] for r in api.client.get(one + "runs/").json()] == [run.json()["id"]]

    assert api.client.delete(one).status_code == 204
    assert api.client.get(one).status_code == 404
    assert api.client.get(f"{EVALUATORS}999999/").status_code == 404


def test_members_queue_runs_but_only_admins_define_evaluators(api: Api) -> None:
    one = f"{EVALUATORS}{api.client.post(EVALUATORS, json=JUDGE).json()['id']}/"
    member = {"Authorization": f"Bearer {api.member_token('member')}"}
    assert api.client.post(EVALUATORS, json={**JUDGE, "name": "m"}, headers=member).status_code == (
        403
    )
    assert api.client.put(one, json={"daily_budget_usd": 1000}, headers=member).status_code == 403
    assert api.client.delete(one, headers=member).status_code == 403
    assert api.client.post(one + "runs/", json={}, headers=member).status_code == 202
    assert api.client.get(one, headers=member).status_code == 200


def test_every_evaluator_route_is_in_the_openapi_schema(api: Api) -> None:
    from heliograph.api.evaluators import routes

    paths = api.client.get("/api/openapi.json").json()["paths"]
    for route in routes:
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)  # type: ignore[attr-defined]
        documented = paths.get(path)
        assert documented is not None, path
        for method in route.methods - {"HEAD"}:  # type: ignore[attr-defined]
            assert method.lower() in documented
