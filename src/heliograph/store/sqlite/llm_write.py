"""LLM analytics events into typed rows and rollups, in digest's transaction.

``events`` keeps every event as a JSON blob; the LLM pages need numbers
(tokens, cost, latency) per model per hour and traces as trees, which JSON
blobs cannot give fast. For every ``$ai_*`` event, :func:`record_llm_events`
writes, inside the same transaction as the event itself:

* one ``llm_events`` row: the typed columns (model, tokens, cost, latency,
  trace/span/parent ids...);
* for generations and embeddings, additions to ``llm_hourly`` (requests,
  errors, tokens, cost) and to the latency histograms ``llm_latency_hourly``
  and ``llm_latency_daily`` (see :mod:`heliograph.store.llm_latency`);
* additions to the trace's ``llm_traces`` row (start, end, name, counts,
  tokens, cost), which makes the trace list and "top traces by cost" an
  index read. A trace with no ``$ai_trace`` event (a pseudo-trace) gets a
  row all the same, from its children.

Rollups are summed in Python per batch first, so a batch of 500 events costs
a handful of upserts, not 500. A replayed event (its id already stored) is
skipped before anything is added, so counts never double.

Which events get a row and how an event becomes one (columns, value reading,
``started_at``) is shared by every backend: :mod:`heliograph.store.llm_shaping`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from heliograph.llm_vocabulary import AI_SPAN, AI_TRACE, PRICED_EVENTS
from heliograph.model import Event
from heliograph.store.llm_latency import latency_bucket
from heliograph.store.llm_records import LlmEventRecord
from heliograph.store.llm_shaping import is_llm_event, llm_record

__all__ = ["record_llm_events", "write_llm_rows"]

# Which event names a trace: the $ai_trace event, then a root span, then the rest.
_RANK_TRACE, _RANK_ROOT_SPAN, _RANK_ROOT_CALL, _RANK_OTHER = 0, 1, 2, 3

_COLUMNS = (
    "id, project_id, event_id, name, timestamp, started_at, trace_id, span_id, parent_id, "
    "session_id, distinct_id, model, provider, input_tokens, output_tokens, cache_read_tokens, "
    "cache_creation_tokens, reasoning_tokens, total_cost_usd, cost_source, latency_s, ttft_s, "
    "is_error, error, http_status, span_name, environment, release"
)
_EVENT_ROW_ID = "SELECT id FROM events WHERE project_id = ? AND event_id = ?"
_INSERT = (
    f"INSERT OR IGNORE INTO llm_events ({_COLUMNS}) "
    f"VALUES ({', '.join('?' * len(_COLUMNS.split(',')))})"
)


def record_llm_events(conn: sqlite3.Connection, events: Iterable[Event]) -> None:
    """Write the typed rows and rollups of the ``$ai_*`` events among ``events``.

    Call it after the events themselves were inserted, in the same transaction.
    """
    rows = []
    for event in events:
        if not is_llm_event(event):
            continue
        found = conn.execute(_EVENT_ROW_ID, (event.project_id, event.event_id)).fetchone()
        if found is not None:
            rows.append(llm_record(event, found[0]))
    if rows:
        write_llm_rows(conn, rows)


def write_llm_rows(conn: sqlite3.Connection, rows: Iterable[LlmEventRecord]) -> int:
    """Insert rows (skipping ids already stored) and add the new ones to the rollups.

    Returns how many rows were new. Also the bulk loader's entry point
    (``bench/analytics.py``), so benchmarks exercise the real write path.
    """
    hourly: dict[tuple[int, int, str, str], _HourAcc] = {}
    latency_hourly: dict[tuple[int, int, str, str, int], int] = {}
    latency_daily: dict[tuple[int, int, str, str, int], int] = {}
    traces: dict[tuple[int, str], _TraceAcc] = {}
    added = 0
    for row in rows:
        if conn.execute(_INSERT, row).rowcount != 1:
            continue  # a replay: already counted
        added += 1
        if row.trace_id:
            _add_to_trace(traces, row)
        if row.name not in PRICED_EVENTS:
            continue
        hour = int(row.timestamp // 3600)
        model, provider = row.model or "", row.provider or ""
        key = (row.project_id, hour, model, provider)
        acc = hourly.get(key)
        if acc is None:
            acc = hourly[key] = _HourAcc()
        acc.add(row)
        if row.latency_s is not None:
            bucket = latency_bucket(row.latency_s)
            hour_key = (row.project_id, hour, model, provider, bucket)
            latency_hourly[hour_key] = latency_hourly.get(hour_key, 0) + 1
            day_key = (row.project_id, hour // 24, model, provider, bucket)
            latency_daily[day_key] = latency_daily.get(day_key, 0) + 1
    _flush(conn, hourly, latency_hourly, latency_daily, traces)
    return added


# --- rollups ------------------------------------------------------------------------


@dataclass(slots=True)
class _HourAcc:
    """One (hour, model, provider)'s additions from this batch, in column order."""

    requests: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0
    priced: int = 0
    latency_sum: float = 0.0
    latency_count: int = 0
    ttft_sum: float = 0.0
    ttft_count: int = 0

    def add(self, row: LlmEventRecord) -> None:
        self.requests += 1
        self.errors += row.is_error
        self.input_tokens += row.input_tokens or 0
        self.output_tokens += row.output_tokens or 0
        self.cache_read_tokens += row.cache_read_tokens or 0
        self.cache_creation_tokens += row.cache_creation_tokens or 0
        self.reasoning_tokens += row.reasoning_tokens or 0
        if row.total_cost_usd is not None:
            self.cost_usd += row.total_cost_usd
            self.priced += 1
        if row.latency_s is not None:
            self.latency_sum += row.latency_s
            self.latency_count += 1
        if row.ttft_s is not None:
            self.ttft_sum += row.ttft_s
            self.ttft_count += 1

    def values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)


@dataclass(slots=True)
class _TraceAcc:
    """One trace's additions from this batch."""

    started_at: float
    ended_at: float
    name: str | None = None
    name_rank: int = 9
    has_trace_event: int = 0
    trace_latency_s: float | None = None
    events: int = 0
    generations: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    unpriced: int = 0
    session_id: str | None = None
    distinct_id: str | None = None
    environment: str | None = None
    release: str | None = None

    def values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)


def _add_to_trace(traces: dict[tuple[int, str], _TraceAcc], row: LlmEventRecord) -> None:
    assert row.trace_id is not None
    end = row.started_at + (row.latency_s or 0.0)
    acc = traces.get((row.project_id, row.trace_id))
    if acc is None:
        acc = traces[(row.project_id, row.trace_id)] = _TraceAcc(row.started_at, end)
    acc.started_at = min(acc.started_at, row.started_at)
    acc.ended_at = max(acc.ended_at, end)
    rank, name = _name_candidate(row)
    if rank < acc.name_rank:
        acc.name_rank, acc.name = rank, name
    acc.events += 1
    acc.errors += row.is_error
    if row.name == AI_TRACE:
        acc.has_trace_event = 1
        acc.trace_latency_s = row.latency_s
    elif row.name in PRICED_EVENTS:
        acc.generations += 1
        acc.input_tokens += row.input_tokens or 0
        acc.output_tokens += row.output_tokens or 0
        if row.total_cost_usd is None:
            acc.unpriced += 1
        else:
            acc.cost_usd += row.total_cost_usd
    acc.session_id = acc.session_id or row.session_id
    acc.distinct_id = acc.distinct_id or row.distinct_id
    acc.environment = acc.environment or row.environment
    acc.release = acc.release or row.release


def _name_candidate(row: LlmEventRecord) -> tuple[int, str | None]:
    if row.name == AI_TRACE:
        return _RANK_TRACE, row.span_name
    is_root = not row.parent_id or row.parent_id == row.trace_id
    if is_root and row.name == AI_SPAN:
        return _RANK_ROOT_SPAN, row.span_name
    if is_root:
        return _RANK_ROOT_CALL, row.span_name or row.model
    return _RANK_OTHER, row.span_name or row.model


_HOURLY_UPSERT = """
INSERT INTO llm_hourly (project_id, hour, model, provider, requests, errors, input_tokens,
    output_tokens, cache_read_tokens, cache_creation_tokens, reasoning_tokens, cost_usd, priced,
    latency_sum, latency_count, ttft_sum, ttft_count)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (project_id, hour, model, provider) DO UPDATE SET
    requests = requests + excluded.requests, errors = errors + excluded.errors,
    input_tokens = input_tokens + excluded.input_tokens,
    output_tokens = output_tokens + excluded.output_tokens,
    cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
    cache_creation_tokens = cache_creation_tokens + excluded.cache_creation_tokens,
    reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens,
    cost_usd = cost_usd + excluded.cost_usd, priced = priced + excluded.priced,
    latency_sum = latency_sum + excluded.latency_sum,
    latency_count = latency_count + excluded.latency_count,
    ttft_sum = ttft_sum + excluded.ttft_sum, ttft_count = ttft_count + excluded.ttft_count
"""
_LATENCY_UPSERT = """
INSERT INTO {table} (project_id, {unit}, model, provider, bucket, count) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (project_id, {unit}, model, provider, bucket) DO UPDATE SET
    count = count + excluded.count
"""
_TRACE_UPSERT = """
INSERT INTO llm_traces (project_id, trace_id, started_at, ended_at, name, name_rank,
    has_trace_event, trace_latency_s, events, generations, errors, input_tokens, output_tokens,
    cost_usd, unpriced, session_id, distinct_id, environment, release)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (project_id, trace_id) DO UPDATE SET
    started_at = MIN(started_at, excluded.started_at),
    ended_at = MAX(ended_at, excluded.ended_at),
    name = CASE WHEN excluded.name_rank < name_rank THEN excluded.name ELSE name END,
    name_rank = MIN(name_rank, excluded.name_rank),
    has_trace_event = MAX(has_trace_event, excluded.has_trace_event),
    trace_latency_s = COALESCE(excluded.trace_latency_s, trace_latency_s),
    events = events + excluded.events, generations = generations + excluded.generations,
    errors = errors + excluded.errors, input_tokens = input_tokens + excluded.input_tokens,
    output_tokens = output_tokens + excluded.output_tokens,
    cost_usd = cost_usd + excluded.cost_usd, unpriced = unpriced + excluded.unpriced,
    session_id = COALESCE(session_id, excluded.session_id),
    distinct_id = COALESCE(distinct_id, excluded.distinct_id),
    environment = COALESCE(environment, excluded.environment),
    release = COALESCE(release, excluded.release)
"""


def _flush(
    conn: sqlite3.Connection,
    hourly: dict[tuple[int, int, str, str], _HourAcc],
    latency_hourly: dict[tuple[int, int, str, str, int], int],
    latency_daily: dict[tuple[int, int, str, str, int], int],
    traces: dict[tuple[int, str], _TraceAcc],
) -> None:
    conn.executemany(_HOURLY_UPSERT, [(*key, *acc.values()) for key, acc in hourly.items()])
    conn.executemany(
        _LATENCY_UPSERT.format(table="llm_latency_hourly", unit="hour"),
        [(*key, count) for key, count in latency_hourly.items()],
    )
    conn.executemany(
        _LATENCY_UPSERT.format(table="llm_latency_daily", unit="day"),
        [(*key, count) for key, count in latency_daily.items()],
    )
    conn.executemany(_TRACE_UPSERT, [(*key, *acc.values()) for key, acc in traces.items()])
