"""LLM analytics through the storage contract: typed rows, rollups, traces, read models.

Posthog payloads go through the real decoder and ``prepare_event`` into a store opened
by URL; the page builders then read it back through :class:`~heliograph.store.contract.Store`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from heliograph.digest.grouping import compute_grouping
from heliograph.digest.prepare import prepare_event
from heliograph.model import Event, Exception_
from heliograph.protocols import posthog_event
from heliograph.query.llm import build_dashboard, build_generation_list, build_session_list
from heliograph.query.llm_detail import build_generation_page, build_trace_page
from heliograph.store import open_store
from heliograph.store.base import DigestBatch, GroupedEvent, Project
from heliograph.store.contract import Store
from heliograph.store.llm_records import LlmEventFilter, TraceFilter
from heliograph.web.llm_links import trace_url_if_recorded

NOW = 1_780_000_000.0  # a fixed "now", mid-hour


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    db = open_store(f"sqlite:///{tmp_path / 'heliograph.sqlite3'}")
    yield db
    db.close()


@pytest.fixture
def project(store: Store) -> Project:
    org = store.create_organization("acme", "Acme")
    return store.create_project(org.id, "shop", "Shop")


def ph(
    name: str, properties: dict[str, Any], *, at: float, distinct_id: str = "user-1"
) -> dict[str, Any]:
    return {
        "event": name,
        "distinct_id": distinct_id,
        "uuid": str(uuid.uuid4()),
        "timestamp": at,
        "properties": properties,
    }


def record(store: Store, project: Project, raws: list[dict[str, Any]]) -> list[Event]:
    events = []
    for raw in raws:
        event = posthog_event.to_event(raw, project_id=project.id, received_at=NOW)
        prepared = prepare_event(event, project)
        assert isinstance(prepared, Event)
        events.append(prepared)
    store.record(DigestBatch(analytics=events))
    return events


def generation(
    trace: str, *, at: float, model: str = "gpt-4o-mini", **props: Any
) -> dict[str, Any]:
    properties = {
        "$ai_trace_id": trace,
        "$ai_model": model,
        "$ai_provider": "openai",
        "$ai_input_tokens": 1000,
        "$ai_output_tokens": 100,
        "$ai_latency": 2.0,
        **props,
    }
    return ph("$ai_generation", properties, at=at)


def test_generation_becomes_a_typed_row(store: Store, project: Project) -> None:
    [event] = record(
        store,
        project,
        [
            generation(
                "tr-1", at=NOW - 60, **{"$ai_time_to_first_token": 0.4, "$ai_session_id": "s1"}
            )
        ],
    )
    row = store.llm_event(project.id, event.event_id)
    assert row is not None
    assert (row.model, row.provider, row.input_tokens, row.output_tokens) == (
        "gpt-4o-mini",
        "openai",
        1000,
        100,
    )
    assert row.total_cost_usd is not None and row.total_cost_usd > 0
    assert row.cost_source == "price_table"
    assert (row.latency_s, row.ttft_s, row.session_id, row.distinct_id) == (
        2.0,
        0.4,
        "s1",
        "user-1",
    )
    # PostHog stamps a call when it ends: it started its latency earlier.
    assert row.timestamp == pytest.approx(NOW - 60) and row.started_at == pytest.approx(NOW - 62)


def test_otlp_spans_start_at_their_timestamp(store: Store, project: Project) -> None:
    raw = generation("tr-otlp", at=NOW - 60, **{"$otel_span_kind": "client"})
    [event] = record(store, project, [raw])
    row = store.llm_event(project.id, event.event_id)
    assert row is not None and row.started_at == pytest.approx(NOW - 60)


def test_unknown_model_has_no_cost_and_is_counted_unpriced(store: Store, project: Project) -> None:
    record(
        store,
        project,
        [
            generation("tr-a", at=NOW - 100, model="acme-llm-7b"),
            generation("tr-a", at=NOW - 90),
        ],
    )
    view = build_dashboard(store, project, {"range": "24h"}, now=NOW)
    models = {m.model: m.stats for m in view.models}
    assert models["acme-llm-7b"].cost_usd is None and models["acme-llm-7b"].unpriced == 1
    assert models["gpt-4o-mini"].cost_usd is not None and models["gpt-4o-mini"].unpriced == 0
    assert view.totals.requests == 2 and view.totals.unpriced == 1
    assert view.totals.cost_usd == pytest.approx(models["gpt-4o-mini"].cost_usd)
    trace = store.llm_trace(project.id, "tr-a")
    assert trace is not None and trace.unpriced == 1 and trace.generations == 2


def test_replayed_batch_adds_nothing(store: Store, project: Project) -> None:
    events = record(store, project, [generation("tr-r", at=NOW - 30)])
    store.record(DigestBatch(analytics=events))  # digest crashed after commit: replay
    view = build_dashboard(store, project, {}, now=NOW)
    assert view.totals.requests == 1
    trace = store.llm_trace(project.id, "tr-r")
    assert trace is not None and trace.events == 1


def test_dashboard_buckets_percentiles_and_errors(store: Store, project: Project) -> None:
    hour = 3600
    raws = [
        generation("t1", at=NOW - 2 * hour, **{"$ai_latency": lat}) for lat in (1.0, 2.0, 3.0, 4.0)
    ]
    raws.append(generation("t2", at=NOW - 10, **{"$ai_is_error": True, "$ai_error": "boom"}))
    record(store, project, raws)
    view = build_dashboard(store, project, {"range": "24h", "bucket": "hour"}, now=NOW)
    assert len(view.series) == 24 and view.window.unit == "hour"
    busy = view.series[-3].stats
    assert busy.requests == 4 and busy.p50 == pytest.approx(2.0, rel=0.03)
    assert busy.p95 == pytest.approx(4.0, rel=0.03)
    assert view.series[-1].stats.errors == 1 and view.series[-1].stats.error_rate == 1.0
    assert view.totals.error_rate == pytest.approx(0.2)
    daily = build_dashboard(store, project, {"range": "7d"}, now=NOW)
    assert daily.window.unit == "day" and len(daily.series) == 7
    assert sum(p.stats.requests for p in daily.series) == 5
    assert daily.totals.p95 == pytest.approx(4.0, rel=0.03)


def test_top_traces_by_cost(store: Store, project: Project) -> None:
    record(
        store,
        project,
        [
            generation("cheap", at=NOW - 50, **{"$ai_input_tokens": 10}),
            generation("dear", at=NOW - 40, **{"$ai_input_tokens": 100000}),
            generation("old", at=NOW - 40 * 86400, **{"$ai_input_tokens": 10**6}),
        ],
    )
    top = store.llm_top_traces(project.id, NOW - 86400, NOW + 1)
    assert [t.trace_id for t in top] == ["dear", "cheap"]


def test_pseudo_trace_and_trace_event(store: Store, project: Project) -> None:
    record(
        store,
        project,
        [
            generation("pseudo", at=NOW - 100, **{"$ai_span_name": "summarize"}),
            generation("pseudo", at=NOW - 95),
            ph(
                "$ai_span",
                {
                    "$ai_trace_id": "real",
                    "$ai_span_id": "s1",
                    "$ai_span_name": "tool",
                    "$ai_latency": 1.0,
                },
                at=NOW - 50,
            ),
            generation("real", at=NOW - 49, **{"$ai_parent_id": "s1"}),
            ph(
                "$ai_trace",
                {"$ai_trace_id": "real", "$ai_span_name": "agent", "$ai_latency": 5.0},
                at=NOW - 45,
            ),
        ],
    )
    pseudo = store.llm_trace(project.id, "pseudo")
    real = store.llm_trace(project.id, "real")
    assert pseudo is not None and not pseudo.has_trace_event and pseudo.name == "summarize"
    assert pseudo.latency_s == pytest.approx(7.0)  # first start (NOW - 102) to last end (NOW - 95)
    assert real is not None and real.has_trace_event and real.name == "agent"
    assert real.latency_s == 5.0 and real.events == 3 and real.generations == 1
    page = build_trace_page(store, project, "real")
    assert page is not None
    assert [(n.kind, n.depth) for n in page.tree.rows] == [
        ("trace", 0),
        ("span", 1),
        ("generation", 2),
    ]
    assert build_trace_page(store, project, "nope") is None


def test_generations_filters_and_cursor_pages(store: Store, project: Project) -> None:
    raws = [
        generation(f"t{i}", at=NOW - 1000 + i, model="gpt-4o-mini" if i % 2 else "gpt-4.1")
        for i in range(7)
    ]
    raws.append(generation("t-err", at=NOW - 10, **{"$ai_is_error": True}))
    record(store, project, raws)
    seen: list[str] = []
    cursor = None
    while True:
        page, cursor = store.llm_events(LlmEventFilter(project.id), limit=3, cursor=cursor)
        seen += [r.trace_id or "" for r in page]
        if cursor is None:
            break
    assert seen == ["t-err", "t6", "t5", "t4", "t3", "t2", "t1", "t0"]
    only_41, _ = store.llm_events(LlmEventFilter(project.id, model="gpt-4.1"), limit=50)
    assert {r.model for r in only_41} == {"gpt-4.1"} and len(only_41) == 4
    errors, _ = store.llm_events(LlmEventFilter(project.id, errors_only=True), limit=50)
    assert [r.trace_id for r in errors] == ["t-err"]
    by_trace, _ = store.llm_events(LlmEventFilter(project.id, trace_id="t3"), limit=50)
    assert len(by_trace) == 1
    listing = build_generation_list(store, project, {"cursor": "garbage"}, now=NOW)
    assert listing.error and len(listing.rows) == 8 and listing.models == ["gpt-4.1", "gpt-4o-mini"]


def test_personless_events_have_no_user(store: Store, project: Project) -> None:
    raw = generation("t-anon", at=NOW - 5, **{"$process_person_profile": False})
    raw["distinct_id"] = "t-anon"
    [event] = record(store, project, [raw])
    row = store.llm_event(project.id, event.event_id)
    assert row is not None and row.distinct_id is None


def test_sessions_group_traces(store: Store, project: Project) -> None:
    record(
        store,
        project,
        [
            generation("a", at=NOW - 300, **{"$ai_session_id": "s1"}),
            generation("b", at=NOW - 200, **{"$ai_session_id": "s1"}),
            generation("c", at=NOW - 100, **{"$ai_session_id": "s2"}),
            generation("d", at=NOW - 50),
        ],
    )
    sessions = build_session_list(store, project, {}, now=NOW).rows
    assert [(s.session_id, s.traces, s.generations) for s in sessions] == [
        ("s2", 1, 1),
        ("s1", 2, 2),
    ]
    first, cursor = store.llm_sessions(project.id, since=0, limit=1)
    second, end = store.llm_sessions(project.id, since=0, limit=1, cursor=cursor)
    assert [s.session_id for s in first + second] == ["s2", "s1"] and end is None
    traces, _ = store.llm_traces(TraceFilter(project.id, session_id="s1"), limit=10)
    assert {t.trace_id for t in traces} == {"a", "b"}


def test_errors_link_to_their_llm_trace(store: Store, project: Project) -> None:
    trace_id = uuid.uuid4().hex
    record(store, project, [generation(trace_id, at=NOW - 20)])
    error = Event(
        project_id=project.id,
        event_id=uuid.uuid4().hex,
        timestamp=NOW - 19,
        trace_id=trace_id,
        exceptions=[Exception_(type="PaymentError", value="declined")],
    )
    grouping = compute_grouping(error)
    store.record(
        DigestBatch(
            errors=[
                GroupedEvent(error, grouping.hash, grouping.version, "PaymentError: declined", "")
            ]
        )
    )
    [linked] = store.llm_trace_errors(project.id, trace_id)
    assert linked.title == "PaymentError: declined" and linked.issue_id is not None
    assert trace_url_if_recorded(store, project, trace_id) == f"/acme/shop/llm/traces/{trace_id}/"
    assert trace_url_if_recorded(store, project, uuid.uuid4().hex) is None
    page = build_trace_page(store, project, trace_id)
    assert page is not None and [e.event_id for e in page.errors] == [error.event_id]


def test_generation_page_payloads_follow_the_project_policy(store: Store, project: Project) -> None:
    prompt = [{"role": "user", "content": "<b>secret</b> question"}]
    [dropped] = record(store, project, [generation("p", at=NOW - 9, **{"$ai_input": prompt})])
    page = build_generation_page(store, project, dropped.event_id)
    assert page is not None and page.payloads == [] and page.payloads_dropped

    store.update_project(project.id, keep_llm_payloads=1)
    kept_project = store.get_project_by_id(project.id)
    assert kept_project is not None
    output = [{"role": "assistant", "content": [{"type": "text", "text": "an answer"}]}]
    [kept] = record(
        store,
        kept_project,
        [generation("p", at=NOW - 8, **{"$ai_input": prompt, "$ai_output_choices": output})],
    )
    page = build_generation_page(store, kept_project, kept.event_id)
    assert page is not None and not page.payloads_dropped
    assert [(s.title, [(m.role, m.text) for m in s.messages]) for s in page.payloads] == [
        ("Input", [("user", "<b>secret</b> question")]),
        ("Output", [("assistant", "an answer")]),
    ]
    assert build_generation_page(store, project, "0" * 32) is None


def test_dashboard_reads_stay_fast_with_no_data(store: Store, project: Project) -> None:
    started = time.perf_counter()
    view = build_dashboard(store, project, {"range": "30d"}, now=NOW)
    assert time.perf_counter() - started < 1.0
    assert view.totals.requests == 0 and view.totals.cost_usd is None and view.models == []
