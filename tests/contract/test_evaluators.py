"""Evaluators: unique names per project, cursors, usage that adds up, runs claimed once."""

from __future__ import annotations

import threading

import pytest

from heliograph.evals.definition import EvaluatorError, make_evaluator
from heliograph.evals.records import EvaluatorUsage
from heliograph.store.base import Project
from heliograph.store.contract import Store


def judge_definition(name: str = "helpfulness", **extra: object) -> dict[str, object]:
    return {
        "name": name,
        "kind": "llm_judge",
        "config": {"template": "Rate {{output}}", "input_token_price": 0.000001},
        "output": {"type": "numeric", "min": 0, "max": 1},
        "sampling_rate": 0.5,
        "daily_budget_usd": 2.5,
        "threshold": 0.6,
        "window": 3,
        "filter": {"prompt_name": "support", "property_key": "tier", "property_value": "gold"},
        **extra,
    }


def test_an_evaluator_is_kept_as_defined(store: Store, project: Project) -> None:
    created = store.create_evaluator(make_evaluator(project.id, judge_definition()))
    assert created.id > 0 and created.created_at > 0 and created.cursor_timestamp > 0
    found = store.get_evaluator(project.id, created.id)
    assert found == created
    assert found.config["template"] == "Rate {{output}}"
    assert found.filter.prompt_name == "support" and found.filter.property_value == "gold"
    assert (found.sampling_rate, found.daily_budget_usd, found.threshold, found.window) == (
        0.5,
        2.5,
        0.6,
        3,
    )
    assert store.get_evaluator(project.id + 1000, created.id) is None


def test_names_are_unique_per_project(store: Store, project: Project) -> None:
    first = store.create_evaluator(make_evaluator(project.id, judge_definition("a")))
    with pytest.raises(EvaluatorError):
        store.create_evaluator(make_evaluator(project.id, judge_definition("a")))
    second = store.create_evaluator(
        make_evaluator(project.id, {"name": "b", "kind": "length", "config": {"max": 10}})
    )
    with pytest.raises(EvaluatorError):
        store.update_evaluator(second.with_changes(name="a"))
    renamed = store.update_evaluator(second.with_changes(name="c", enabled=False))
    assert renamed is not None and renamed.name == "c" and not renamed.enabled
    assert [e.name for e in store.list_evaluators(project.id)] == ["a", "c"]
    assert [e.name for e in store.list_evaluators(enabled_only=True)] == ["a"]
    assert store.delete_evaluator(project.id, first.id)
    assert not store.delete_evaluator(project.id, first.id)
    assert [e.name for e in store.list_evaluators(project.id)] == ["c"]


def test_the_cursor_moves_and_survives_an_update(store: Store, project: Project) -> None:
    created = store.create_evaluator(make_evaluator(project.id, judge_definition()))
    store.move_evaluator_cursor(created.id, 1234.5, "abc")
    store.update_evaluator(created.with_changes(sampling_rate=1.0))
    found = store.get_evaluator(project.id, created.id)
    assert found is not None
    assert (found.cursor_timestamp, found.cursor_event_id, found.sampling_rate) == (
        1234.5,
        "abc",
        1.0,
    )
    # Paused, then switched back on: it judges from then on, not the pause's backlog.
    store.update_evaluator(found.with_changes(enabled=False))
    paused = store.get_evaluator(project.id, created.id)
    assert paused is not None and paused.cursor_timestamp == 1234.5
    resumed = store.update_evaluator(paused.with_changes(enabled=True))
    assert resumed is not None and resumed.cursor_timestamp > 1234.5
    assert resumed.cursor_event_id == ""


def test_usage_adds_up_across_writers(store: Store, project: Project) -> None:
    created = store.create_evaluator(make_evaluator(project.id, judge_definition()))
    one = EvaluatorUsage(scored=1, passed=1, cost_usd=0.25)

    def add() -> None:
        for _ in range(5):
            store.add_evaluator_usage(project.id, created.id, 100, one)

    threads = [threading.Thread(target=add) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store.add_evaluator_usage(project.id, created.id, 101, EvaluatorUsage(errors=2))
    today = store.evaluator_usage(created.id, 100)
    assert (today.scored, today.passed, today.errors) == (15, 15, 0)
    assert today.cost_usd == pytest.approx(3.75)
    assert store.evaluator_usage(created.id, 101).errors == 2
    assert store.evaluator_usage(created.id, 99) == EvaluatorUsage()


def test_runs_are_claimed_once_in_order(store: Store, project: Project) -> None:
    created = store.create_evaluator(make_evaluator(project.id, judge_definition()))
    first = store.queue_evaluator_run(project.id, created.id, {"model": "m"}, 50, user_id=None)
    second = store.queue_evaluator_run(project.id, created.id, {}, 10, user_id=None)
    assert first.state == "queued" and first.filters == {"model": "m"} and first.limit == 50
    claimed = store.claim_evaluator_run()
    assert claimed is not None and claimed.id == first.id and claimed.state == "running"
    assert (again := store.claim_evaluator_run()) is not None and again.id == second.id
    assert store.claim_evaluator_run() is None
    store.finish_evaluator_run(
        first.id, state="done", usage=EvaluatorUsage(scored=3, failed=1, cost_usd=0.5)
    )
    runs = store.evaluator_runs(project.id, created.id)
    assert [r.id for r in runs] == [second.id, first.id]
    assert runs[1].state == "done" and runs[1].usage.scored == 3 and runs[1].finished_at
    assert store.delete_evaluator(project.id, created.id)
    assert store.evaluator_runs(project.id, created.id) == []
