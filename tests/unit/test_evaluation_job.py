"""The evaluation job on a real SQLite store and queue, with a fake judge: sampling,
the cursor across restarts, the daily budget, judge calls recorded in the internal
project, scores saved, quality regressions queued as error events, on-demand runs."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from heliograph.bootstrap import INTERNAL_PROJECT, ensure_internal_project
from heliograph.evals.definition import Evaluator, make_evaluator
from heliograph.evals.engine import JudgeReply
from heliograph.evals.job import EvaluationJob, sampled
from heliograph.evals.records import day_of
from heliograph.selfmon import judge_recorder
from heliograph.store import open_queue, open_store
from heliograph.store.base import DigestBatch, Project
from heliograph.store.contract import Store
from heliograph.store.queue import PayloadQueue
from heliograph.store.score_records import ScoreFilter
from tests.contract.builders import ai_event

PRICES = {"input_token_price": 0.000001, "output_token_price": 0.000002}
CALL_COST = 1000 * 0.000001 + 100 * 0.000002


class Judge:
    """Answers the scores it is given, in turn (the last one again when they run out)."""

    def __init__(self, *scores: object) -> None:
        self.scores = list(scores) or [0.9]
        self.calls = 0

    def __call__(self, messages: Sequence[Mapping[str, str]], model: str, limit: int) -> JudgeReply:
        score = self.scores[min(self.calls, len(self.scores) - 1)]
        self.calls += 1
        text = orjson.dumps({"score": score, "reasoning": f"because {score}"}).decode()
        return JudgeReply(text, model or "judge-model", "openai", 1000, 100, 0.05)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path}/heliograph.sqlite3", create=True)
    yield opened
    opened.close()


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[PayloadQueue]:
    opened = open_queue(tmp_path / "queue", 0)
    yield opened
    opened.close()


@pytest.fixture
def project(store: Store) -> Project:
    org = store.create_organization("acme", "Acme")
    return store.create_project(org.id, "shop", "Shop")


def record(store: Store, project: Project, at: float, output: str = "Hello", **props: Any) -> str:
    event = ai_event(project.id, trace=uuid.uuid4().hex, at=at)
    event.properties.update({
        "$ai_span_id": uuid.uuid4().hex[:16],
        "$ai_input": [{"role": "user", "content": "Hi"}],
        "$ai_output_choices": [{"role": "assistant", "content": output}],
        **props,
    })  # fmt: skip
    store.record(DigestBatch(analytics=[event]))
    return event.event_id


def evaluator(store: Store, project: Project, **data: Any) -> Evaluator:
    definition = {"name": "helpfulness", "kind": "llm_judge", "config": dict(PRICES), **data}
    return store.create_evaluator(make_evaluator(project.id, definition))


def job(store: Store, queue: PayloadQueue, judge: Judge | None, **options: Any) -> EvaluationJob:
    return EvaluationJob(
        store, queue, judge, record_judge_call=judge_recorder(queue, store), **options
    )


def queued(queue: PayloadQueue, kind: str) -> list[Any]:
    return [orjson.loads(p.body) for p in queue.oldest(1000) if p.kind == kind]


def test_new_generations_are_scored_and_judge_calls_recorded(
    store: Store, queue: PayloadQueue, project: Project
) -> None:
    made = evaluator(store, project, threshold=0.5)
    ids = [record(store, project, made.created_at + i + 1) for i in range(3)]
    judge = Judge(0.9, 0.2, 0.7)
    report = job(store, queue, judge).run_once(now=made.created_at + 100)
    assert judge.calls == 3 and report.usage.scored == 3 and report.usage.failed == 1
    scores, _ = store.list_scores(ScoreFilter(project.id, source="evaluator"), limit=10)
    by_id = {s.id: s for s in scores}
    assert set(by_id) == {f"eval-{made.id}-{i}" for i in ids}
    second = by_id[f"eval-{made.id}-{ids[1]}"]
    assert (second.name, second.value, second.comment) == ("helpfulness", 0.2, "because 0.2")
    assert second.context.model == "gpt-4o-mini" and second.observation_id
    # Every judge call is an $ai_generation of the internal project, naming what it judged.
    internal = ensure_internal_project(store)
    deadline = time.monotonic() + 5  # judge calls are queued without waiting for the commit
    while len(calls := [p for p in queue.oldest(100) if p.kind == "posthog"]) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert len(calls) == 3 and {p.project_id for p in calls} == {internal.id}
    props = orjson.loads(calls[0].body)[0]["properties"]
    assert props["$ai_span_name"] == "evaluator" and props["evaluator"] == "helpfulness"
    assert props["evaluated_event_id"] == ids[0] and props["$ai_input_tokens"] == 1000
    usage = store.evaluator_usage(made.id, day_of(made.created_at + 100))
    assert (usage.scored, usage.passed, usage.failed) == (3, 2, 1)
    assert usage.cost_usd == pytest.approx(3 * CALL_COST)


def test_the_daily_budget_stops_judge_calls(
    store: Store, queue: PayloadQueue, project: Project
) -> None:
    made = evaluator(store, project, daily_budget_usd=CALL_COST * 2.5)
    for i in range(5):
        record(store, project, made.created_at + i + 1)
    judge = Judge()
    report = job(store, queue, judge).run_once(now=made.created_at + 100)
    assert judge.calls == 3  # the third starts below the budget; then it is spent
    assert (report.usage.scored, report.budget_skipped) == (3, 2)
    usage = store.evaluator_usage(made.id, day_of(made.created_at + 100))
    assert usage.skipped == 2 and usage.cost_usd == pytest.approx(3 * CALL_COST)
    # Spent for today, in a new process too: more generations are skipped, not judged.
    record(store, project, made.created_at + 10)
    job(store, queue, judge).run_once(now=made.created_at + 100)
    assert judge.calls == 3


def test_sampling_is_the_same_on_every_run(
    store: Store, queue: PayloadQueue, project: Project
) -> None:
    made = evaluator(store, project, sampling_rate=0.3, daily_budget_usd=100)
    ids = [record(store, project, made.created_at + i + 1) for i in range(40)]
    expected = {i for i in ids if sampled(made.id, i, 0.3)}
    assert 4 <= len(expected) <= 24
    job(store, queue, Judge()).run_once(now=made.created_at + 100)
    scores, _ = store.list_scores(ScoreFilter(project.id, source="evaluator"), limit=100)
    assert {s.id.removeprefix(f"eval-{made.id}-") for s in scores} == expected


def test_the_cursor_resumes_after_a_restart(
    store: Store, queue: PayloadQueue, project: Project
) -> None:
    made = evaluator(store, project)
    for i in range(3):
        record(store, project, made.created_at + i + 1)
    judge = Judge()
    job(store, queue, judge, batch=2).run_once(now=made.created_at + 100)
    assert judge.calls == 2  # a batch at most per pass
    job(store, queue, judge).run_once(now=made.created_at + 100)  # a new process
    assert judge.calls == 3
    job(store, queue, judge).run_once(now=made.created_at + 100)
    assert judge.calls == 3
    record(store, project, made.created_at + 50)
    record(store, project, made.created_at + 99)  # too recent: digest may still be writing
    job(store, queue, judge).run_once(now=made.created_at + 100)
    assert judge.calls == 4


def test_generations_without_text_or_outside_the_filter_are_not_judged(
    store: Store, queue: PayloadQueue, project: Project
) -> None:
    made = evaluator(store, project, filter={"prompt_name": "support"})
    record(store, project, made.created_at + 1, **{"$ai_prompt_name": "other"})
    record(store, project, made.created_at + 2, **{"$ai_prompt_name": "support"})
    silent = record(store, project, made.created_at + 3, **{"$ai_prompt_name": "support"})
    stored = store.get_event(project.id, silent)
    assert stored is not None
    judge = Judge()
    # A project that does not keep payloads: digest stored no text.
    event = stored.event
    event.event_id = uuid.uuid4().hex
    del event.properties["$ai_output_choices"]
    event.timestamp = made.created_at + 4
    store.record(DigestBatch(analytics=[event]))
    report = job(store, queue, judge).run_once(now=made.created_at + 100)
    assert judge.calls == 2 and report.usage.skipped == 1


def test_a_failing_structured_output_check_queues_one_error_event_per_failure(
    store: Store, queue: PayloadQueue, project: Project
) -> None:
    made = store.create_evaluator(
        make_evaluator(project.id, {
            "name": "valid-json",
            "kind": "json_schema",
            "config": {"schema": {"type": "object", "required": ["answer"]}},
        })
    )  # fmt: skip
    store.create_prompt_version(
        project.id, "support", type="text", prompt="Answer {{q}} as JSON", config={},
        labels=(), commit_message="", user_id=None,
    )  # fmt: skip
    prompt = {"$ai_prompt_name": "support", "$ai_prompt_version": 1}
    record(store, project, made.created_at + 1, '{"answer": "ok"}', **prompt)
    bad = record(store, project, made.created_at + 2, "Sorry, I cannot", **prompt)
    report = job(store, queue, None, base_url="http://h.test").run_once(now=made.created_at + 100)
    assert report.regressions == 1
    [event] = queued(queue, "sentry_store")
    assert event["fingerprint"] == ["llm-quality", "valid-json", "support"]
    assert (
        event["message"]
        == "Quality regression: valid-json below 0.5 for prompt support v1 (gpt-4o-mini)"
    )
    assert event["tags"]["prompt_version"] == "1" and event["tags"]["evaluator"] == "valid-json"
    quality = event["contexts"]["llm_quality"]
    assert quality["prompt"] == "Answer {{q}} as JSON" and quality["output"] == "Sorry, I cannot"
    assert "not valid JSON" in quality["reasoning"]
    assert quality["generation"] == f"http://h.test/acme/shop/llm/generations/{bad}/"
    # A rerun (after a crash before the cursor moved) queues the same event id: no duplicate.
    store.move_evaluator_cursor(made.id, 0, "")
    job(store, queue, None).run_once(now=made.created_at + 100)
    ids = {e["event_id"] for e in queued(queue, "sentry_store")}
    assert len(ids) == 1


def test_a_judge_group_regresses_on_its_window_mean_across_restarts(
    store: Store, queue: PayloadQueue, project: Project
) -> None:
    made = evaluator(store, project, threshold=0.5, window=3, daily_budget_usd=100)
    at = made.created_at
    v1 = {"$ai_prompt_name": "support", "$ai_prompt_version": 1}
    for i in range(3):  # one low score among high ones: no issue
        record(store, project, at + i + 1, **v1)
    job(store, queue, Judge(0.9, 0.9, 0.1)).run_once(now=at + 100)
    assert queued(queue, "sentry_store") == []
    # A restart: the window is read back from the stored scores, then drops below.
    record(store, project, at + 10, **v1)
    report = job(store, queue, Judge(0.1)).run_once(now=at + 100)
    assert report.regressions == 1  # mean(0.9, 0.1, 0.1) < 0.5
    [event] = queued(queue, "sentry_store")
    assert event["contexts"]["llm_quality"]["window_mean"] == pytest.approx(1.1 / 3)
    assert event["contexts"]["llm_quality"]["reasoning"] == "because 0.1"


def test_on_demand_runs_score_a_filter_within_a_limit(
    store: Store, queue: PayloadQueue, project: Project
) -> None:
    made = evaluator(store, project, enabled=False, threshold=0.5)
    for i in range(4):
        record(store, project, made.created_at - 1000 + i, **{"$ai_prompt_name": "support"})
    record(store, project, made.created_at - 900, **{"$ai_prompt_name": "other"})
    run = store.queue_evaluator_run(
        project.id, made.id, {"prompt_name": "support", "since": made.created_at - 2000}, 3,
        user_id=None,
    )  # fmt: skip
    judge = Judge(0.1)
    report = job(store, queue, judge).run_once(now=made.created_at)
    assert report.runs == 1 and judge.calls == 3
    [done] = store.evaluator_runs(project.id, made.id)
    assert done.id == run.id and done.state == "done"
    assert (done.usage.scored, done.usage.failed) == (3, 3)
    assert done.usage.cost_usd == pytest.approx(3 * CALL_COST)
    assert queued(queue, "sentry_store") == []  # backfills score; they open no issue


def test_the_internal_project_is_never_judged(
    store: Store, queue: PayloadQueue, project: Project
) -> None:
    org = store.get_organization("acme")
    assert org is not None
    internal = store.create_project(org.id, INTERNAL_PROJECT, "Internal")
    made = evaluator(store, internal)
    record(store, internal, made.created_at + 1)
    judge = Judge()
    job(store, queue, judge).run_once(now=time.time() + 100)
    assert judge.calls == 0
