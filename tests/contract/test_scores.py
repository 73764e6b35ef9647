"""Scores on LLM output: upserts by id, the scored generation's context, lists, summaries."""

from __future__ import annotations

import time

import pytest

from heliograph.model import Event
from heliograph.store.base import DigestBatch, Project
from heliograph.store.contract import Store
from heliograph.store.score_records import (
    Score,
    ScoreContext,
    ScoreFilter,
    ScoreQuery,
    make_score,
)
from tests.contract.builders import HOUR, ai_event

T0 = float((int(time.time()) // 86400 - 3) * 86400 + 21 * 3600)


def generation(
    project: Project, span: str, *, trace: str, model: str, at: float, **props: str
) -> Event:
    event = ai_event(project.id, trace=trace, at=at, model=model)
    event.properties["$ai_span_id"] = span
    event.properties.update(props)
    return event


def score(project: Project, name: str, value: object, **fields: object) -> Score:
    fields.setdefault("timestamp", T0 + 120)
    fields.setdefault("source", "api")
    return make_score(project.id, name=name, value=value, **fields)  # type: ignore[arg-type]


def test_a_score_is_kept_with_its_generations_context(store: Store, project: Project) -> None:
    gen = generation(
        project,
        "span-1",
        trace="tr-1",
        model="gpt-4o",
        at=T0,
        **{"$ai_prompt_name": "greeting", "$ai_prompt_version": "3", "$feature/new-ui": "test"},
    )
    assert store.record(DigestBatch(analytics=[gen])).rejected == ()
    [saved] = store.save_scores(
        [
            score(
                project,
                "helpful",
                0.75,
                id="s-1",
                trace_id="tr-1",
                observation_id="span-1",
                comment="good",
            )
        ]
    )
    assert (saved.id, saved.name, saved.data_type, saved.value) == (
        "s-1",
        "helpful",
        "numeric",
        0.75,
    )
    assert saved.context == ScoreContext("gpt-4o", "openai", "greeting", "3", (("new-ui", "test"),))
    assert store.get_score(project.id, "s-1") == saved
    assert saved.comment == "good" and saved.source == "api"
    [by_call] = store.save_scores([score(project, "x", 1, observation_id="span-1")])
    assert by_call.trace_id == "tr-1" and by_call.context.model == "gpt-4o"


def test_the_same_id_replaces_a_score(store: Store, project: Project) -> None:
    store.save_scores([score(project, "helpful", 0.2, id="s-1", trace_id="tr-1")])
    store.save_scores([score(project, "helpful", 0.9, id="s-1", trace_id="tr-1")])
    found, cursor = store.list_scores(ScoreFilter(project.id), limit=10)
    assert [(s.id, s.value) for s in found] == [("s-1", 0.9)] and cursor is None


def test_scores_from_a_batch_and_a_generation_that_comes_later(
    store: Store, project: Project
) -> None:
    early = score(project, "thumbs", True, id="early", observation_id="span-2", source="feedback")
    store.record(DigestBatch(scores=[early]))
    assert store.get_score(project.id, "early").context.model is None  # type: ignore[union-attr]
    gen = generation(
        project, "span-2", trace="tr-2", model="claude", at=T0, **{"$feature/exp": "control"}
    )
    same_batch = score(project, "rating", "good", id="with-it", trace_id="tr-2")
    store.record(DigestBatch(analytics=[gen], scores=[same_batch]))
    filled = store.get_score(project.id, "early")
    assert filled is not None and filled.context.model == "claude"
    assert filled.context.flags == (("exp", "control"),) and filled.trace_id == "tr-2"
    assert (filled.data_type, filled.value) == ("boolean", 1.0)
    with_it = store.get_score(project.id, "with-it")
    assert with_it is not None and with_it.context.model == "claude"
    assert (with_it.data_type, with_it.string_value) == ("categorical", "good")
    store.record(DigestBatch(scores=[early]))  # a replay changes nothing
    assert len(store.list_scores(ScoreFilter(project.id), limit=10)[0]) == 2


def test_lists_filter_and_page(store: Store, project: Project, other_project: Project) -> None:
    store.save_scores(
        [
            score(
                project, "a", n, id=f"s{n}", trace_id="tr-1" if n % 2 else "tr-2", timestamp=T0 + n
            )
            for n in range(5)
        ]
    )
    store.save_scores([score(other_project, "a", 1, id="s1", trace_id="tr-1")])
    first, cursor = store.list_scores(ScoreFilter(project.id), limit=3)
    assert [s.id for s in first] == ["s4", "s3", "s2"] and cursor
    rest, end = store.list_scores(ScoreFilter(project.id), limit=3, cursor=cursor)
    assert [s.id for s in rest] == ["s1", "s0"] and end is None
    odd, _ = store.list_scores(ScoreFilter(project.id, trace_id="tr-1"), limit=10)
    assert [s.id for s in odd] == ["s3", "s1"]
    assert store.delete_score(project.id, "s3") and not store.delete_score(project.id, "s3")
    assert store.get_score(project.id, "s3") is None
    assert store.get_score(other_project.id, "s1") is not None


def test_summaries_group_by_model_prompt_flag_and_time(store: Store, project: Project) -> None:
    gens = [
        generation(
            project,
            "g1",
            trace="t1",
            model="m-a",
            at=T0,
            **{"$ai_prompt_name": "p", "$ai_prompt_version": "1", "$feature/f": "x"},
        ),
        generation(
            project,
            "g2",
            trace="t2",
            model="m-b",
            at=T0 + HOUR,
            **{"$ai_prompt_name": "p", "$ai_prompt_version": "2", "$feature/f": "y"},
        ),
    ]
    store.record(DigestBatch(analytics=gens))
    store.save_scores(
        [
            score(project, "q", 1.0, id="1", observation_id="g1", timestamp=T0 + 10),
            score(project, "q", 0.5, id="2", observation_id="g1", timestamp=T0 + 20),
            score(project, "q", 0.0, id="3", observation_id="g2", timestamp=T0 + HOUR + 5),
            score(project, "label", "bad", id="4", trace_id="t2", timestamp=T0 + HOUR + 6),
            score(project, "label", "bad", id="5", trace_id="t1", timestamp=T0 + 30),
            score(project, "label", "good", id="6", trace_id="t1", timestamp=T0 + 40),
        ]
    )
    query = ScoreQuery(project.id, T0, T0 + 2 * HOUR)
    whole = {s.name: s for s in store.score_summary(query)}
    assert (whole["q"].count, whole["q"].mean, whole["q"].low, whole["q"].high) == (
        3,
        0.5,
        0.0,
        1.0,
    )
    assert whole["label"].categories == {"bad": 2, "good": 1} and whole["label"].mean is None
    by_model = {
        (s.name, s.group.key): (s.count, s.mean)
        for s in store.score_summary(ScoreQuery(project.id, T0, T0 + 2 * HOUR, group_by="model"))
    }
    assert by_model[("q", "m-a")] == (2, 0.75) and by_model[("q", "m-b")] == (1, 0.0)
    assert by_model[("label", "m-b")] == (1, None)
    by_prompt = {
        (s.name, s.group.label): s.count
        for s in store.score_summary(
            ScoreQuery(project.id, T0, T0 + 2 * HOUR, name="q", group_by="prompt")
        )
    }
    assert by_prompt == {("q", "p v1"): 2, ("q", "p v2"): 1}
    by_flag = {
        s.group.key: s.categories
        for s in store.score_summary(
            ScoreQuery(project.id, T0, T0 + 2 * HOUR, name="label", group_by="flag", flag="f")
        )
    }
    assert by_flag == {"x": {"bad": 1, "good": 1}, "y": {"bad": 1}}
    series = store.score_series(ScoreQuery(project.id, T0, T0 + 2 * HOUR, name="q"), "hour")
    hour = int(T0 // HOUR)
    assert [(b.bucket, b.count, b.mean) for b in series] == [(hour, 2, 0.75), (hour + 1, 1, 0.0)]
    daily = store.score_series(ScoreQuery(project.id, T0, T0 + 2 * HOUR), "day")
    assert {(b.name, b.count) for b in daily} == {("q", 3), ("label", 3)}
    assert store.score_summary(ScoreQuery(project.id, T0 + 3 * HOUR, T0 + 4 * HOUR)) == []


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "", "value": 1, "trace_id": "t"},
        {"name": "x", "value": 1},
        {"name": "x", "value": float("nan"), "trace_id": "t"},
        {"name": "x", "value": "maybe", "data_type": "boolean", "trace_id": "t"},
        {"name": "x", "value": "high", "data_type": "numeric", "trace_id": "t"},
        {"name": "x", "value": 1, "data_type": "stars", "trace_id": "t"},
        {"name": "x" * 201, "value": 1, "trace_id": "t"},
    ],
)
def test_bad_scores_are_refused_with_a_reason(fields: dict[str, object]) -> None:
    from heliograph.store.score_records import ScoreError

    with pytest.raises(ScoreError) as refused:
        make_score(1, source="api", timestamp=T0, **fields)  # type: ignore[arg-type]
    assert str(refused.value)


def test_retention_removes_old_scores_and_keeps_recent_ones(store: Store, project: Project) -> None:
    now = time.time()
    store.update_project(project.id, retention_days=7)
    gen = generation(project, "g-old", trace="t-old", model="m", at=now - 30 * 86400,
                     **{"$feature/f": "x"})  # fmt: skip
    store.record(DigestBatch(analytics=[gen]))
    store.save_scores(
        [
            score(project, "q", 1, id="old", observation_id="g-old", timestamp=now - 20 * 86400),
            score(project, "q", 1, id="new", trace_id="t-new", timestamp=now - 3600),
        ]
    )
    store.purge_expired(now=now)
    assert store.get_score(project.id, "old") is None
    assert store.get_score(project.id, "new") is not None
