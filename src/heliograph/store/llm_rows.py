"""LLM rows between Python and any backend's ``llm_*`` tables: batch rollups, and rows back.

Writing, every backend sums a batch's new ``llm_events`` rows in Python
first (:class:`LlmRollups`), so a batch of 500 events costs a handful of
upserts, not 500; only the upserts themselves are SQL of a dialect. The sums
and the rule naming a trace (its ``$ai_trace`` event, then a root span, then
a root call, then anything) are the same whatever the backend, so they live
here.

Reading, rows of ``llm_events`` and ``llm_traces`` selected in the column
order below become records the same way on every backend (flags are stored
as 0/1 integers).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from heliograph.llm_vocabulary import AI_SPAN, AI_TRACE, PRICED_EVENTS
from heliograph.store.llm_latency import latency_bucket
from heliograph.store.llm_records import LlmEventRecord, TraceRecord

__all__ = [
    "EVENT_COLUMNS",
    "MAX_TRACE_EVENTS",
    "TRACE_COLUMNS",
    "HourAcc",
    "LlmRollups",
    "TraceAcc",
    "event_record",
    "trace_record",
]

# Which event names a trace: the $ai_trace event, then a root span, then the rest.
_RANK_TRACE, _RANK_ROOT_SPAN, _RANK_ROOT_CALL, _RANK_OTHER = 0, 1, 2, 3

# The most events of one trace a read returns (a runaway agent loop may log far more).
MAX_TRACE_EVENTS = 2000

# llm_events and llm_traces columns in the order of LlmEventRecord and TraceRecord.
EVENT_COLUMNS = (
    "id, project_id, event_id, name, timestamp, started_at, trace_id, span_id, parent_id, "
    "session_id, distinct_id, model, provider, input_tokens, output_tokens, cache_read_tokens, "
    "cache_creation_tokens, reasoning_tokens, total_cost_usd, cost_source, latency_s, ttft_s, "
    "is_error, error, http_status, span_name, environment, release"
)
TRACE_COLUMNS = (
    "id, project_id, trace_id, started_at, ended_at, name, has_trace_event, trace_latency_s, "
    "events, generations, errors, input_tokens, output_tokens, cost_usd, unpriced, session_id, "
    "distinct_id, environment, release"
)


def event_record(row: Iterable[Any]) -> LlmEventRecord:
    """An ``llm_events`` row selected as :data:`EVENT_COLUMNS` (``sqlite3.Row`` or ``PgRow``)."""
    values = list(row)
    values[22] = bool(values[22])  # is_error
    return LlmEventRecord(*values)


def trace_record(row: Iterable[Any]) -> TraceRecord:
    """An ``llm_traces`` row selected as :data:`TRACE_COLUMNS`."""
    values = list(row)
    values[6] = bool(values[6])  # has_trace_event
    return TraceRecord(*values)


# --- rollups ------------------------------------------------------------------------


@dataclass(slots=True)
class HourAcc:
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
class TraceAcc:
    """One trace's additions from this batch, in ``llm_traces`` column order."""

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

    def add(self, row: LlmEventRecord) -> None:
        end = row.started_at + (row.latency_s or 0.0)
        self.started_at = min(self.started_at, row.started_at)
        self.ended_at = max(self.ended_at, end)
        rank, name = _name_candidate(row)
        if rank < self.name_rank:
            self.name_rank, self.name = rank, name
        self.events += 1
        self.errors += row.is_error
        if row.name == AI_TRACE:
            self.has_trace_event = 1
            self.trace_latency_s = row.latency_s
        elif row.name in PRICED_EVENTS:
            self.generations += 1
            self.input_tokens += row.input_tokens or 0
            self.output_tokens += row.output_tokens or 0
            if row.total_cost_usd is None:
                self.unpriced += 1
            else:
                self.cost_usd += row.total_cost_usd
        self.session_id = self.session_id or row.session_id
        # A user's id wins over the trace's own (what anonymous OTel spans carry).
        if self.distinct_id is None or self.distinct_id == row.trace_id:
            self.distinct_id = row.distinct_id or self.distinct_id
        self.environment = self.environment or row.environment
        self.release = self.release or row.release

    def values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)


def _name_candidate(row: LlmEventRecord) -> tuple[int, str | None]:
    if row.name == AI_TRACE:
        return _RANK_TRACE, row.span_name
    is_root = not row.parent_id or row.parent_id == row.trace_id
    if is_root and row.name == AI_SPAN:
        return _RANK_ROOT_SPAN, row.span_name
    if is_root:
        return _RANK_ROOT_CALL, row.span_name or row.model
    return _RANK_OTHER, row.span_name or row.model


@dataclass(slots=True)
class LlmRollups:
    """What one batch's new rows add to ``llm_hourly``, the latency histograms and traces.

    Keys are the rollup tables' primary keys: ``(project_id, hour, model,
    provider)`` for ``hourly``, the same plus the bucket for the latency
    histograms (``day`` in place of ``hour`` for ``latency_daily``), and
    ``(project_id, trace_id)`` for ``traces``. Hours and days are whole
    hours and UTC days since the epoch.
    """

    hourly: dict[tuple[int, int, str, str], HourAcc] = field(default_factory=dict)
    latency_hourly: dict[tuple[int, int, str, str, int], int] = field(default_factory=dict)
    latency_daily: dict[tuple[int, int, str, str, int], int] = field(default_factory=dict)
    traces: dict[tuple[int, str], TraceAcc] = field(default_factory=dict)

    def add(self, row: LlmEventRecord) -> None:
        """Count a row that was new (never a replay: the caller skips those)."""
        if row.trace_id:
            key = (row.project_id, row.trace_id)
            trace = self.traces.get(key)
            if trace is None:
                end = row.started_at + (row.latency_s or 0.0)
                trace = self.traces[key] = TraceAcc(row.started_at, end)
            trace.add(row)
        if row.name not in PRICED_EVENTS:
            return
        hour = int(row.timestamp // 3600)
        model, provider = row.model or "", row.provider or ""
        hour_key = (row.project_id, hour, model, provider)
        acc = self.hourly.get(hour_key)
        if acc is None:
            acc = self.hourly[hour_key] = HourAcc()
        acc.add(row)
        if row.latency_s is not None:
            bucket = latency_bucket(row.latency_s)
            by_hour = (row.project_id, hour, model, provider, bucket)
            self.latency_hourly[by_hour] = self.latency_hourly.get(by_hour, 0) + 1
            by_day = (row.project_id, hour // 24, model, provider, bucket)
            self.latency_daily[by_day] = self.latency_daily.get(by_day, 0) + 1
