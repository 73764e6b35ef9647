"""LLM analytics: typed rows, hourly/daily rollups, latency histograms, traces, sessions."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import pytest

from heliograph.model import Event
from heliograph.store.base import DigestBatch, Project
from heliograph.store.contract import Store
from heliograph.store.llm_records import LlmEventFilter, TraceFilter, TraceRecord, UsageRow
from tests.contract.builders import HOUR, ai_event, error, pageview

# 21:00 UTC three days ago: on the hour, at the same time of day on every run, and
# well within retention (a store may drop events past it at any time, as
# ClickHouse's TTL does, before any purge).
T0 = float((int(time.time()) // 86400 - 3) * 86400 + 21 * 3600)
H0 = int(T0 // HOUR)
assert T0 == H0 * HOUR


def record(store: Store, *events: Event) -> None:
    result = store.record(DigestBatch(analytics=list(events)))
    assert result.rejected == ()


def usage_tuple(row: UsageRow) -> tuple[object, ...]:
    return (
        row.slot,
        row.model,
        row.provider,
        row.requests,
        row.errors,
        row.input_tokens,
        row.output_tokens,
        round(row.cost_usd, 9),
        row.priced,
        row.latency_count,
    )


def test_a_generation_becomes_a_typed_row(store: Store, project: Project) -> None:
    event = ai_event(
        project.id, trace="tr-1", at=T0 + 60, session="s-1", cost=0.25, latency=2.0, parent="tr-1"
    )
    record(store, event)
    row = store.llm_event(project.id, event.event_id)
    assert row is not None
    assert (row.project_id, row.event_id, row.name) == (project.id, event.event_id, event.name)
    assert (row.model, row.provider) == ("gpt-4o-mini", "openai")
    assert (row.input_tokens, row.output_tokens) == (1000, 100)
    assert row.total_cost_usd == pytest.approx(0.25)
    assert (row.trace_id, row.parent_id, row.session_id, row.distinct_id) == (
        "tr-1",
        "tr-1",
        "s-1",
        "user-1",
    )
    assert row.latency_s == pytest.approx(2.0) and row.is_error is False
    # A PostHog generation is stamped when it ends: it started its latency earlier.
    assert row.timestamp == pytest.approx(T0 + 60)
    assert row.started_at == pytest.approx(T0 + 58)


def test_other_analytics_make_no_llm_rows(store: Store, project: Project) -> None:
    view = pageview(project.id, at=T0, trace="tr-web")
    record(store, view)
    assert store.get_event(project.id, view.event_id) is not None
    assert store.llm_event(project.id, view.event_id) is None
    assert store.llm_events(LlmEventFilter(project.id), limit=10) == ([], None)
    assert store.llm_trace_exists(project.id, "tr-web") is False


def test_usage_sums_generations_per_hour_and_per_day(store: Store, project: Project) -> None:
    record(
        store,
        ai_event(project.id, trace="a", at=T0 + 10, cost=0.5),
        ai_event(project.id, trace="a", at=T0 + 20, cost=None, is_error=True),  # unpriced
        ai_event(project.id, trace="b", at=T0 + HOUR + 5, cost=0.25, input_tokens=10),
        ai_event(project.id, trace="c", at=T0 + 30 * HOUR, cost=1.0, latency=None),
        ai_event(project.id, "$ai_embedding", trace=None, at=T0 + 30, cost=0.125),
    )
    hourly = store.llm_usage_by_time(project.id, H0, H0 + 48, "hour")
    assert [usage_tuple(r) for r in hourly] == [
        (H0, "", "", 3, 1, 3000, 300, 0.625, 2, 3),
        (H0 + 1, "", "", 1, 0, 10, 100, 0.25, 1, 1),
        (H0 + 30, "", "", 1, 0, 1000, 100, 1.0, 1, 0),
    ]
    assert hourly[0].latency_sum == pytest.approx(6.0)
    # A range is inclusive at both ends and leaves other hours out.
    assert [r.slot for r in store.llm_usage_by_time(project.id, H0 + 1, H0 + 1, "hour")] == [H0 + 1]
    # Days are UTC days (hour // 24); T0 is late in its day, so T0 + 30 h is two days on.
    daily = store.llm_usage_by_time(project.id, H0, H0 + 48, "day")
    assert H0 // 24 == (H0 + 1) // 24 == (H0 + 30) // 24 - 2
    assert [(r.slot, r.requests, round(r.cost_usd, 9)) for r in daily] == [
        (H0 // 24, 4, 0.875),
        (H0 // 24 + 2, 1, 1.0),
    ]


def test_usage_by_model_most_used_first(
    store: Store, project: Project, other_project: Project
) -> None:
    record(
        store,
        ai_event(project.id, trace="a", at=T0 + 1, model="claude", provider="anthropic"),
        ai_event(project.id, trace="a", at=T0 + 2, model="gpt-4o-mini"),
        ai_event(project.id, trace="a", at=T0 + 3, model="gpt-4o-mini", cost=0.02),
        ai_event(project.id, trace="b", at=T0 + 5 * HOUR, model="late"),
        ai_event(other_project.id, trace="x", at=T0 + 4, model="elsewhere"),
    )
    rows = store.llm_usage_by_model(project.id, H0, H0 + 1)
    assert [(r.slot, r.model, r.provider, r.requests) for r in rows] == [
        (None, "gpt-4o-mini", "openai", 2),
        (None, "claude", "anthropic", 1),
    ]
    assert rows[0].cost_usd == pytest.approx(0.03)
    assert store.llm_models(project.id, H0) == [
        ("claude", "anthropic"),
        ("gpt-4o-mini", "openai"),
        ("late", "openai"),
    ]
    assert store.llm_models(project.id, H0 + 1) == [("late", "openai")]


def test_latency_histograms_count_every_timed_generation(store: Store, project: Project) -> None:
    record(
        store,
        ai_event(project.id, trace="a", at=T0 + 1, latency=0.1),
        ai_event(project.id, trace="a", at=T0 + 2, latency=0.1),
        ai_event(project.id, trace="a", at=T0 + 3, latency=10.0, model="big"),
        ai_event(project.id, trace="a", at=T0 + HOUR + 1, latency=1.0),
        ai_event(project.id, trace="a", at=T0 + 4, latency=None),  # untimed: not in a histogram
        ai_event(project.id, "$ai_span", trace="a", at=T0 + 5, latency=3.0),  # not a call
    )
    by_hour = store.llm_latency_by_time(project.id, H0, H0 + 1, "hour")
    assert set(by_hour) == {H0, H0 + 1}
    assert sorted(by_hour[H0].values()) == [1, 2]  # two latencies, two buckets
    assert sum(by_hour[H0 + 1].values()) == 1
    day = H0 // 24
    by_day = store.llm_latency_by_time(project.id, day - 1, day + 1, "day")
    assert sum(sum(buckets.values()) for buckets in by_day.values()) == 4
    by_model = store.llm_latency_by_model(project.id, H0, H0 + 1, "hour")
    assert {key: sum(b.values()) for key, b in by_model.items()} == {
        ("gpt-4o-mini", "openai"): 3,
        ("big", "openai"): 1,
    }
    # The slower model's bucket is above the faster one's.
    assert max(by_model[("big", "openai")]) > max(by_hour[H0 + 1])


def test_a_pseudo_trace_rolls_up_its_calls(store: Store, project: Project) -> None:
    record(
        store,
        ai_event(project.id, trace="tr", at=T0 + 10, latency=4.0, cost=0.5, input_tokens=7),
        ai_event(project.id, trace="tr", at=T0 + 30, latency=5.0, cost=None, is_error=True),
        ai_event(project.id, "$ai_span", trace="tr", at=T0 + 40, latency=1.0, parent="x"),
    )
    trace = store.llm_trace(project.id, "tr")
    assert trace is not None and trace.has_trace_event is False
    assert (trace.events, trace.generations, trace.errors, trace.unpriced) == (3, 2, 1, 1)
    assert (trace.input_tokens, trace.output_tokens) == (1007, 200)
    assert trace.cost_usd == pytest.approx(0.5)
    assert trace.started_at == pytest.approx(T0 + 6) and trace.ended_at == pytest.approx(T0 + 40)
    assert trace.name == "gpt-4o-mini"  # no trace event: named after its root call
    assert store.llm_trace_exists(project.id, "tr") is True
    assert store.llm_trace(project.id, "nope") is None


def test_a_trace_event_names_the_trace_and_events_come_in_start_order(
    store: Store, project: Project
) -> None:
    late_call = ai_event(project.id, trace="tr", at=T0 + 20, latency=1.0, parent="root")
    early_call = ai_event(project.id, trace="tr", at=T0 + 12, latency=10.0, parent="root")
    root = ai_event(
        project.id, "$ai_trace", trace="tr", at=T0 + 30, latency=30.0, span_name="checkout agent"
    )
    record(store, late_call, root)
    record(store, early_call)  # traces grow across batches
    trace = store.llm_trace(project.id, "tr")
    assert trace is not None
    assert trace.has_trace_event is True and trace.name == "checkout agent"
    assert trace.latency_s == pytest.approx(30.0)
    assert (trace.events, trace.generations) == (3, 2)
    events = store.llm_trace_events(project.id, "tr")
    assert [e.event_id for e in events] == [root.event_id, early_call.event_id, late_call.event_id]
    assert [e.started_at for e in events] == pytest.approx([T0, T0 + 2, T0 + 19])


@pytest.fixture
def five_traces(store: Store, project: Project) -> list[str]:
    """Traces t0..t4 started a minute apart; t1 and t3 in session s-odd, t3 failed."""
    events = []
    for n in range(5):
        events.append(
            ai_event(
                project.id,
                trace=f"t{n}",
                at=T0 + 60 * n,
                latency=1.0,
                cost=0.01 * (n + 1),
                session="s-odd" if n % 2 else "s-even",
                is_error=n == 3,
                distinct_id=f"user-{n % 2}",
            )
        )
    record(store, *events)
    return [f"t{n}" for n in range(5)]


def walk_traces(store: Store, filters: TraceFilter, limit: int) -> list[TraceRecord]:
    found: list[TraceRecord] = []
    cursor: str | None = None
    while True:
        page, cursor = store.llm_traces(filters, limit=limit, cursor=cursor)
        found += page
        if cursor is None:
            return found


def test_trace_list_newest_first_with_filters_and_cursor(
    store: Store, project: Project, five_traces: list[str]
) -> None:
    newest_first = five_traces[::-1]
    assert [t.trace_id for t in walk_traces(store, TraceFilter(project.id), 2)] == newest_first
    assert [t.trace_id for t in walk_traces(store, TraceFilter(project.id), 5)] == newest_first
    assert [
        t.trace_id for t in walk_traces(store, TraceFilter(project.id, session_id="s-odd"), 1)
    ] == ["t3", "t1"]
    assert [
        t.trace_id for t in walk_traces(store, TraceFilter(project.id, errors_only=True), 2)
    ] == ["t3"]
    # Traces start a second before their call's timestamp: t1 at T0 + 59, t3 at T0 + 179.
    window = TraceFilter(project.id, since=T0 + 59, until=T0 + 179)
    assert [t.trace_id for t in walk_traces(store, window, 10)] == ["t2", "t1"]
    assert [
        t.trace_id for t in walk_traces(store, TraceFilter(project.id, distinct_id="user-0"), 10)
    ] == ["t4", "t2", "t0"]


def test_top_traces_are_the_costliest_in_the_range(
    store: Store, project: Project, five_traces: list[str]
) -> None:
    record(store, ai_event(project.id, trace="free", at=T0 + 90, cost=0.0))
    top = store.llm_top_traces(project.id, T0, T0 + 3600, limit=3)
    assert [t.trace_id for t in top] == ["t4", "t3", "t2"]
    assert [t.trace_id for t in store.llm_top_traces(project.id, T0 - 1, T0 + 100)] == [
        "t1",
        "t0",
    ]


def test_sessions_group_traces_most_recent_first(
    store: Store, project: Project, five_traces: list[str]
) -> None:
    sessions, cursor = store.llm_sessions(project.id, since=T0 - 1, limit=10)
    assert cursor is None
    assert [(s.session_id, s.traces, s.generations, s.errors) for s in sessions] == [
        ("s-even", 3, 3, 0),
        ("s-odd", 2, 2, 1),
    ]
    assert sessions[0].cost_usd == pytest.approx(0.01 + 0.03 + 0.05)
    assert sessions[1].input_tokens == 2000
    assert sessions[0].started_at == pytest.approx(T0 - 1)
    first, cursor = store.llm_sessions(project.id, since=T0 - 1, limit=1)
    assert [s.session_id for s in first] == ["s-even"] and cursor is not None
    rest, end = store.llm_sessions(project.id, since=T0 - 1, limit=1, cursor=cursor)
    assert [s.session_id for s in rest] == ["s-odd"] and end is None
    # Only sessions with a trace started since ``since``.
    late, _ = store.llm_sessions(project.id, since=T0 + 200, limit=10)
    assert [(s.session_id, s.traces) for s in late] == [("s-even", 1)]


def test_generations_far_apart_in_time_page_newest_first(store: Store, project: Project) -> None:
    """Minutes, hours, days and weeks apart: a store may look back in steps, never skip one."""
    now = time.time()
    ages = [60.0, 2 * HOUR, 30 * HOUR, 3 * 24 * HOUR, 20 * 24 * HOUR, 60 * 24 * HOUR]
    events = [ai_event(project.id, trace=None, at=now - age) for age in ages]
    record(store, *reversed(events))
    for limit in (1, 2, 4):
        found: list[str] = []
        cursor: str | None = None
        while True:
            page, cursor = store.llm_events(LlmEventFilter(project.id), limit=limit, cursor=cursor)
            assert len(page) <= limit
            found += [row.event_id for row in page]
            if cursor is None:
                break
        assert found == [event.event_id for event in events]
    until = LlmEventFilter(project.id, until=now - 10 * 24 * HOUR)
    page, cursor = store.llm_events(until, limit=1)
    assert [row.event_id for row in page] == [events[4].event_id] and cursor is not None


def test_llm_events_filter_and_page(store: Store, project: Project) -> None:
    calls = [
        ai_event(project.id, trace=f"t{n % 2}", at=T0 + n, model="a" if n < 4 else "b")
        for n in range(6)
    ]
    failing = ai_event(project.id, trace="t9", at=T0 + 10, is_error=True, model="a")
    span = ai_event(project.id, "$ai_span", trace="t0", at=T0 + 11)
    record(store, *calls, failing, span)

    def ids(filters: LlmEventFilter, limit: int = 100) -> list[str]:
        found: list[str] = []
        cursor: str | None = None
        while True:
            page, cursor = store.llm_events(filters, limit=limit, cursor=cursor)
            found += [row.event_id for row in page]
            if cursor is None:
                return found

    newest_first = [failing.event_id] + [c.event_id for c in calls[::-1]]
    assert ids(LlmEventFilter(project.id)) == newest_first  # spans are not listed by default
    assert ids(LlmEventFilter(project.id), limit=3) == newest_first
    assert ids(LlmEventFilter(project.id, model="b")) == [calls[5].event_id, calls[4].event_id]
    assert ids(LlmEventFilter(project.id, errors_only=True)) == [failing.event_id]
    assert ids(LlmEventFilter(project.id, trace_id="t1"), limit=1) == [
        calls[5].event_id,
        calls[3].event_id,
        calls[1].event_id,
    ]
    assert ids(LlmEventFilter(project.id, since=T0 + 2, until=T0 + 4)) == [
        calls[3].event_id,
        calls[2].event_id,
    ]
    assert ids(LlmEventFilter(project.id, names=("$ai_span",))) == [span.event_id]


def test_generations_and_traces_filter_by_session_environment_and_release(
    store: Store, project: Project
) -> None:
    """What the API's filters ask of the store: exact matches, combined with the rest."""
    prod = ai_event(project.id, trace="p", at=T0 + 1, session="s-1", environment="production",
                    release="1.0")  # fmt: skip
    staging = ai_event(project.id, trace="s", at=T0 + 2, session="s-1", environment="staging",
                       release="1.1")  # fmt: skip
    bare = ai_event(project.id, trace="b", at=T0 + 3)
    record(store, prod, staging, bare)

    def ids(**filters: str) -> list[str]:
        rows, _ = store.llm_events(replace(LlmEventFilter(project.id), **filters), limit=10)
        return [row.event_id for row in rows]

    def traces(**filters: str) -> list[str]:
        return [
            t.trace_id for t in walk_traces(store, replace(TraceFilter(project.id), **filters), 1)
        ]

    assert ids(session_id="s-1") == [staging.event_id, prod.event_id]
    assert ids(environment="production") == [prod.event_id]
    assert ids(release="1.1") == [staging.event_id]
    assert ids(session_id="s-1", release="1.0", model="gpt-4o-mini") == [prod.event_id]
    assert ids(environment="nowhere") == []
    assert traces(environment="staging") == ["s"]
    assert traces(release="1.0") == ["p"]
    assert traces(environment="production", release="1.1") == []


def test_replayed_llm_events_do_not_double_any_rollup(
    store: Store, project: Project, reopen: Callable[[], Store]
) -> None:
    batch = [
        ai_event(project.id, trace="tr", at=T0 + 10, session="s"),
        ai_event(project.id, trace="tr", at=T0 + 20, session="s", is_error=True),
        ai_event(project.id, "$ai_trace", trace="tr", at=T0 + 30, span_name="agent"),
    ]

    def snapshot(s: Store) -> tuple[object, ...]:
        return (
            s.llm_usage_by_time(project.id, H0, H0 + 1, "hour"),
            s.llm_usage_by_model(project.id, H0, H0 + 1),
            s.llm_latency_by_time(project.id, H0, H0 + 1, "hour"),
            s.llm_trace(project.id, "tr"),
            s.llm_trace_events(project.id, "tr"),
            s.llm_sessions(project.id, since=T0 - 60, limit=10),
        )

    record(store, *batch)
    before = snapshot(store)
    record(store, *batch)
    record(store, batch[1])
    assert snapshot(store) == before
    again = reopen()  # a digest restarted after a crash replays its last batch
    again.record(DigestBatch(analytics=batch))
    assert snapshot(again) == before
    trace = again.llm_trace(project.id, "tr")
    assert trace is not None and (trace.events, trace.generations, trace.errors) == (3, 2, 1)


def test_trace_errors_link_error_events_to_their_issue(store: Store, project: Project) -> None:
    record(store, ai_event(project.id, trace="ab" * 16, at=T0))
    failure = error(project.id, "boom", at=T0 + 5, trace_id="ab" * 16, title="RuntimeError: x")
    store.record(DigestBatch(errors=[failure, error(project.id, "other", trace_id="cd" * 16)]))
    [found] = store.llm_trace_errors(project.id, "ab" * 16)
    stored = store.get_event(project.id, failure.event.event_id)
    assert stored is not None
    assert (found.event_id, found.issue_id, found.title, found.level) == (
        failure.event.event_id,
        stored.issue_id,
        "RuntimeError: x",
        "error",
    )
    assert found.timestamp == pytest.approx(T0 + 5)
    assert store.llm_trace_errors(project.id, "ef" * 16) == []


def test_errors_only_traces_include_those_with_an_application_error(
    store: Store, project: Project, other_project: Project
) -> None:
    record(
        store,
        ai_event(project.id, trace="a1" * 16, at=T0),  # calls fine, the app then failed
        ai_event(project.id, trace="b2" * 16, at=T0 + 60, is_error=True),  # a failed call
        ai_event(project.id, trace="c3" * 16, at=T0 + 120),  # all well
    )
    store.record(
        DigestBatch(
            errors=[
                error(project.id, "boom", at=T0 + 5, trace_id="a1" * 16),
                error(other_project.id, "boom", at=T0 + 5, trace_id="c3" * 16),
            ]
        )
    )
    failing = walk_traces(store, TraceFilter(project.id, errors_only=True, since=T0 - 10), 10)
    assert [t.trace_id for t in failing] == ["b2" * 16, "a1" * 16]


def test_llm_reads_are_per_project(store: Store, project: Project, other_project: Project) -> None:
    event = ai_event(other_project.id, trace="tr", at=T0, session="s")
    record(store, event)
    assert store.llm_event(project.id, event.event_id) is None
    assert store.llm_trace(project.id, "tr") is None
    assert store.llm_usage_by_time(project.id, H0 - 1, H0 + 1, "hour") == []
    assert store.llm_sessions(project.id, since=0, limit=5) == ([], None)
    assert store.llm_traces(TraceFilter(project.id), limit=5) == ([], None)
    assert store.llm_trace(other_project.id, "tr") is not None


def test_generations_are_summed_per_feature_flag_value(store: Store, project: Project) -> None:
    calls = []
    for n, (variant, cost, failed) in enumerate(
        [("short", 0.25, False), ("short", 0.5, True), ("long", 1.0, False), (None, 9.0, False)]
    ):
        call = ai_event(project.id, trace=f"t{n}", at=T0 + n, cost=cost, latency=n + 1.0,
                        is_error=failed)  # fmt: skip
        if variant:
            call.properties["$feature/checkout-copy"] = variant
            call.properties["$feature/new-checkout"] = True
        call.properties["$feature/ignored"] = 3  # neither a variant nor a boolean
        calls.append(call)
    calls.append(ai_event(project.id, "$ai_span", trace="t0", at=T0))  # not a generation
    calls[-1].properties["$feature/checkout-copy"] = "short"
    record(store, *calls)
    record(store, *calls)  # a replay counts nothing again
    assert store.llm_flags(project.id, H0 - 1) == ["checkout-copy", "new-checkout"]
    rows = {row.value: row for row in store.llm_usage_by_flag(
        project.id, "checkout-copy", H0 - 1, H0 + 1)}  # fmt: skip
    assert sorted(rows) == ["long", "short"]
    short = rows["short"]
    assert (short.requests, short.errors, short.priced) == (2, 1, 2)
    assert short.cost_usd == pytest.approx(0.75) and short.error_rate == 0.5
    assert short.mean_latency == pytest.approx(1.5)
    [on] = store.llm_usage_by_flag(project.id, "new-checkout", H0 - 1, H0 + 1)
    assert (on.value, on.requests) == ("true", 3)
    assert store.llm_usage_by_flag(project.id, "checkout-copy", H0 + 2, H0 + 9) == []


def test_a_trace_belongs_to_the_user_a_later_span_names(store: Store, project: Project) -> None:
    """Anonymous OTel spans carry the trace id as their distinct id; a user's id wins over it,
    in one batch or across batches, whichever arrives first."""
    for trace, batches in (("t-one-batch", 1), ("t-two-batches", 2)):
        anonymous = ai_event(project.id, trace=trace, at=T0, distinct_id=trace)
        named = ai_event(project.id, "$ai_span", trace=trace, at=T0 + 1, distinct_id="cust-42")
        if batches == 1:
            record(store, anonymous, named)
        else:
            record(store, anonymous)
            record(store, named)
        later = ai_event(project.id, trace=trace, at=T0 + 2, distinct_id=trace)
        record(store, later)
        found = store.llm_trace(project.id, trace)
        assert found is not None and found.distinct_id == "cust-42", trace
    mine = walk_traces(store, TraceFilter(project.id, distinct_id="cust-42"), 10)
    assert sorted(t.trace_id for t in mine) == ["t-one-batch", "t-two-batches"]


def test_generations_sorted_by_cost_or_latency_and_filtered_by_environment(
    store: Store, project: Project
) -> None:
    costs = [0.05, None, 0.20, 0.01, 0.20, 0.003]
    events = [
        ai_event(
            project.id,
            trace=f"s{n}",
            at=T0 + n,
            cost=cost,
            latency=float(n),
            environment="production" if n % 2 == 0 else "staging",
            event_id=f"{n:032x}",
        )
        for n, cost in enumerate(costs)
    ]
    record(store, *events)

    def walk(**fields: object) -> list[str]:
        found: list[str] = []
        cursor: str | None = None
        while True:
            query = LlmEventFilter(project.id, **fields)  # type: ignore[arg-type]
            page, cursor = store.llm_events(query, limit=2, cursor=cursor)
            found += [row.event_id[-1] for row in page]
            if cursor is None:
                return found

    # The costliest first, ties by id (newest row first); unknown costs last.
    assert walk(sort="cost") == ["4", "2", "0", "3", "5", "1"]
    assert walk(sort="latency") == ["5", "4", "3", "2", "1", "0"]
    assert walk(sort="cost", environment="production") == ["4", "2", "0"]
    assert walk(environment="staging") == ["5", "3", "1"]
    assert walk(release="9.9") == []
    staging = walk_traces(store, TraceFilter(project.id, environment="staging"), 10)
    assert [t.trace_id for t in staging] == ["s5", "s3", "s1"]


def test_sessions_narrow_to_a_user_or_an_environment(store: Store, project: Project) -> None:
    record(
        store,
        ai_event(
            project.id, trace="n1", at=T0, session="s-a", distinct_id="ann", environment="prod"
        ),
        ai_event(
            project.id, trace="n2", at=T0 + 1, session="s-b", distinct_id="bob", environment="dev"
        ),
    )

    def sessions(**narrowed: str) -> list[str]:
        found, _ = store.llm_sessions(project.id, since=T0 - 60, limit=10, **narrowed)
        return sorted(s.session_id for s in found)

    assert sessions() == ["s-a", "s-b"]
    assert sessions(distinct_id="ann") == ["s-a"]
    assert sessions(environment="dev") == ["s-b"]
    assert sessions(release="1.0") == []
