"""Read models of the LLM analytics pages: dashboard, generations, traces, sessions.

Each ``build_*`` function takes the store, the project and the request's
query parameters (already a plain mapping) and returns one frozen view
model; the web handlers only render them. Unknown or malformed parameters
fall back to defaults (a bad cursor is reported in ``error``), so a hand-edited
URL never produces a 500.

Money is never guessed: ``cost_usd`` is None when no call in the group had a
known price, and ``unpriced`` counts the calls without one, so the pages
can say "unknown" instead of showing $0.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from heliograph.store.base import Project, TimeUnit
from heliograph.store.llm_latency import histogram_percentile, merge
from heliograph.store.llm_records import (
    GENERATION_SORTS,
    FlagUsageRow,
    GenerationSort,
    LlmEventFilter,
    LlmEventRecord,
    SessionRecord,
    TraceFilter,
    TraceRecord,
    UsageRow,
)
from heliograph.store.web_records import PropertyFilter

if TYPE_CHECKING:
    from heliograph.store.contract import LlmReads

__all__ = [
    "RANGES",
    "GenerationFilters",
    "GenerationList",
    "LlmDashboard",
    "ModelRow",
    "SeriesPoint",
    "SessionList",
    "Stats",
    "TimeWindow",
    "TraceList",
    "build_dashboard",
    "build_generation_list",
    "build_session_list",
    "build_trace_list",
    "stats_from",
    "time_window",
]

RANGES: dict[str, int] = {"24h": 24, "7d": 7 * 24, "30d": 30 * 24}
UNITS: dict[str, tuple[TimeUnit, ...]] = {"24h": ("hour",), "7d": ("day", "hour"), "30d": ("day",)}
LIST_RANGES = ("24h", "7d", "30d", "all")
# Every LLM page opens on the same range, and its tabs carry the one chosen.
DEFAULT_RANGE = "7d"
PAGE_SIZE = 50
_BAD_CURSOR = "That page link is no longer valid; showing the first page."
TOP_TRACES = 10


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """The dashboard's range: ``slots`` hours or UTC days, the last one being now's."""

    range_key: str
    unit: TimeUnit
    slots: list[int]
    first_hour: int
    last_hour: int

    @property
    def since(self) -> float:
        return self.first_hour * 3600.0

    @property
    def until(self) -> float:
        return (self.last_hour + 1) * 3600.0

    def slot_start(self, slot: int) -> float:
        return slot * (86400.0 if self.unit == "day" else 3600.0)

    def slot_label(self, slot: int) -> str:
        moment = datetime.fromtimestamp(self.slot_start(slot), tz=timezone.utc)
        return moment.strftime("%b %d" if self.unit == "day" else "%b %d, %H:00 UTC")


def time_window(range_key: str | None, unit: str | None, now: float) -> TimeWindow:
    """The window for ``?range=`` and ``?bucket=``; unknown values get the defaults."""
    key = range_key if range_key in RANGES else DEFAULT_RANGE
    units = UNITS[key]
    chosen: TimeUnit = next((u for u in units if u == unit), units[0])
    last_hour = int(now // 3600)
    hours = RANGES[key]
    if chosen == "hour":
        slots = list(range(last_hour - hours + 1, last_hour + 1))
        return TimeWindow(key, chosen, slots, slots[0], last_hour)
    today = last_hour // 24
    days = list(range(today - hours // 24 + 1, today + 1))
    return TimeWindow(key, chosen, days, days[0] * 24, last_hour)


@dataclass(frozen=True, slots=True)
class Stats:
    """Usage of a group of generations: one time slot, one model, or the whole range."""

    requests: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float | None = None  # None: no call here had a known price
    unpriced: int = 0
    p50: float | None = None
    p95: float | None = None
    avg_latency: float | None = None
    avg_ttft: float | None = None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def stats_from(rows: Sequence[UsageRow], histogram: Mapping[int, int] | None) -> Stats:
    """Sum usage rows into one :class:`Stats`, with percentiles from ``histogram``."""
    requests = sum(r.requests for r in rows)
    priced = sum(r.priced for r in rows)
    latency_count = sum(r.latency_count for r in rows)
    ttft_count = sum(r.ttft_count for r in rows)
    return Stats(
        requests=requests,
        errors=sum(r.errors for r in rows),
        input_tokens=sum(r.input_tokens for r in rows),
        output_tokens=sum(r.output_tokens for r in rows),
        cache_read_tokens=sum(r.cache_read_tokens for r in rows),
        reasoning_tokens=sum(r.reasoning_tokens for r in rows),
        cost_usd=sum(r.cost_usd for r in rows) if priced else None,
        unpriced=requests - priced,
        p50=histogram_percentile(histogram, 0.5) if histogram else None,
        p95=histogram_percentile(histogram, 0.95) if histogram else None,
        avg_latency=sum(r.latency_sum for r in rows) / latency_count if latency_count else None,
        avg_ttft=sum(r.ttft_sum for r in rows) / ttft_count if ttft_count else None,
    )


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    slot: int
    start: float
    label: str
    stats: Stats


@dataclass(frozen=True, slots=True)
class ModelRow:
    model: str  # "" when the events named none
    provider: str
    stats: Stats
    cost_share: float  # percent of the range's known cost


@dataclass(frozen=True, slots=True)
class LlmDashboard:
    project: Project
    window: TimeWindow
    series: list[SeriesPoint]
    totals: Stats
    models: list[ModelRow]
    top_traces: list[TraceRecord]
    # Feature flags the range's generations carried, the one shown, and its values' sums.
    flags: list[str]
    flag: str | None
    flag_rows: list[FlagUsageRow]


def build_dashboard(
    store: LlmReads, project: Project, params: Mapping[str, str], now: float | None = None
) -> LlmDashboard:
    """Everything the dashboard shows: seven rollup reads, whatever the traffic.

    ``?flag=<key>`` picks the feature flag whose values are compared (by
    default, the first one the range's generations carried).
    """
    window = time_window(
        params.get("range"), params.get("bucket"), time.time() if now is None else now
    )
    first, last = window.slots[0], window.slots[-1]
    by_slot = {
        row.slot: row
        for row in store.llm_usage_by_time(
            project.id, window.first_hour, window.last_hour, window.unit
        )
    }
    slot_histograms = store.llm_latency_by_time(project.id, first, last, window.unit)
    series = [
        SeriesPoint(
            slot=slot,
            start=window.slot_start(slot),
            label=window.slot_label(slot),
            stats=stats_from([by_slot[slot]] if slot in by_slot else [], slot_histograms.get(slot)),
        )
        for slot in window.slots
    ]
    totals = stats_from(list(by_slot.values()), merge(slot_histograms.values()))
    model_histograms = store.llm_latency_by_model(project.id, first, last, window.unit)
    known_cost = totals.cost_usd or 0.0
    models = []
    for row in store.llm_usage_by_model(project.id, window.first_hour, window.last_hour):
        stats = stats_from([row], model_histograms.get((row.model, row.provider)))
        share = 100.0 * (stats.cost_usd or 0.0) / known_cost if known_cost else 0.0
        models.append(ModelRow(row.model, row.provider, stats, share))
    top = store.llm_top_traces(project.id, window.since, window.until, limit=TOP_TRACES)
    flags = store.llm_flags(project.id, window.first_hour)
    wanted = _clean(params.get("flag"))
    flag = wanted if wanted in flags else (flags[0] if flags else None)
    flag_rows = (
        store.llm_usage_by_flag(project.id, flag, window.first_hour, window.last_hour)
        if flag
        else []
    )
    return LlmDashboard(project, window, series, totals, models, top, flags, flag, flag_rows)


# --- lists --------------------------------------------------------------------------


def _since(range_key: str, now: float) -> float | None:
    hours = RANGES.get(range_key)
    return now - hours * 3600 if hours else None


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value[:200] or None


def property_filter(text: str | None) -> PropertyFilter | None:
    """``?where=``: ``key=value``, ``key!=value`` or a bare ``key`` (the property is set)."""
    text = (text or "").strip()[:300]
    if not text:
        return None
    if "!=" in text:
        key, _, value = text.partition("!=")
        return PropertyFilter(key.strip(), "neq", value.strip()) if key.strip() else None
    if "=" in text:
        key, _, value = text.partition("=")
        return PropertyFilter(key.strip(), "eq", value.strip()) if key.strip() else None
    return PropertyFilter(text, "is_set")


@dataclass(frozen=True, slots=True)
class GenerationFilters:
    """The generations list's filters, as given in the URL."""

    range_key: str = DEFAULT_RANGE
    model: str | None = None
    provider: str | None = None
    user: str | None = None
    trace: str | None = None
    errors_only: bool = False
    environment: str | None = None
    release: str | None = None
    sort: GenerationSort = "newest"
    text: str | None = None  # words of prompts, completions, names, properties
    where: str | None = None  # a property condition: key=value, key!=value or key

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> GenerationFilters:
        range_key = params.get("range", DEFAULT_RANGE)
        sort = params.get("sort", "newest")
        return cls(
            range_key=range_key if range_key in LIST_RANGES else DEFAULT_RANGE,
            model=_clean(params.get("model")),
            provider=_clean(params.get("provider")),
            user=_clean(params.get("user")),
            trace=_clean(params.get("trace")),
            errors_only=params.get("errors") in ("1", "true", "on"),
            environment=_clean(params.get("environment")),
            release=_clean(params.get("release")),
            sort=next((s for s in GENERATION_SORTS if s == sort), "newest"),
            text=_clean(params.get("q")),
            where=_clean(params.get("where")),
        )

    def query(self) -> dict[str, str]:
        """The filters as URL parameters (empty ones left out)."""
        values = {
            "range": self.range_key if self.range_key != DEFAULT_RANGE else None,
            "model": self.model,
            "provider": self.provider,
            "user": self.user,
            "trace": self.trace,
            "errors": "1" if self.errors_only else None,
            "environment": self.environment,
            "release": self.release,
            "sort": self.sort if self.sort != "newest" else None,
            "q": self.text,
            "where": self.where,
        }
        return {k: v for k, v in values.items() if v}


@dataclass(frozen=True, slots=True)
class GenerationList:
    project: Project
    filters: GenerationFilters
    rows: list[LlmEventRecord]
    cursor: str | None
    next_cursor: str | None
    models: list[str]
    providers: list[str]
    error: str | None = None


def build_generation_list(
    store: LlmReads, project: Project, params: Mapping[str, str], now: float | None = None
) -> GenerationList:
    now = time.time() if now is None else now
    filters = GenerationFilters.from_params(params)
    query = LlmEventFilter(
        project_id=project.id,
        since=_since(filters.range_key, now),
        model=filters.model,
        provider=filters.provider,
        distinct_id=filters.user,
        trace_id=filters.trace,
        errors_only=filters.errors_only,
        environment=filters.environment,
        release=filters.release,
        sort=filters.sort,
        text=filters.text,
        properties=tuple(f for f in [property_filter(filters.where)] if f),
    )
    cursor = params.get("cursor") or None
    error = None
    try:
        rows, next_cursor = store.llm_events(query, limit=PAGE_SIZE, cursor=cursor)
    except ValueError:
        cursor, error = None, _BAD_CURSOR
        rows, next_cursor = store.llm_events(query, limit=PAGE_SIZE)
    pairs = store.llm_models(project.id, int(now // 3600) - 90 * 24)
    models = sorted({m for m, _ in pairs if m})
    providers = sorted({p for _, p in pairs if p})
    return GenerationList(project, filters, rows, cursor, next_cursor, models, providers, error)


@dataclass(frozen=True, slots=True)
class TraceList:
    project: Project
    range_key: str
    session_id: str | None
    user: str | None
    errors_only: bool
    rows: list[TraceRecord]
    cursor: str | None
    next_cursor: str | None
    error: str | None = None
    environment: str | None = None
    release: str | None = None
    model: str | None = None
    where: str | None = None

    def query(self) -> dict[str, str]:
        values = {
            "range": self.range_key if self.range_key != DEFAULT_RANGE else None,
            "session": self.session_id,
            "user": self.user,
            "errors": "1" if self.errors_only else None,
            "environment": self.environment,
            "release": self.release,
            "model": self.model,
            "where": self.where,
        }
        return {k: v for k, v in values.items() if v}


def build_trace_list(
    store: LlmReads, project: Project, params: Mapping[str, str], now: float | None = None
) -> TraceList:
    now = time.time() if now is None else now
    range_key = params.get("range", DEFAULT_RANGE)
    range_key = range_key if range_key in LIST_RANGES else DEFAULT_RANGE
    session_id, user = _clean(params.get("session")), _clean(params.get("user"))
    errors_only = params.get("errors") in ("1", "true", "on")
    environment, release = _clean(params.get("environment")), _clean(params.get("release"))
    model, where = _clean(params.get("model")), _clean(params.get("where"))
    query = TraceFilter(
        project_id=project.id,
        since=_since(range_key, now),
        session_id=session_id,
        distinct_id=user,
        errors_only=errors_only,
        environment=environment,
        release=release,
        model=model,
        properties=tuple(f for f in [property_filter(where)] if f),
    )
    cursor = params.get("cursor") or None
    error = None
    try:
        rows, next_cursor = store.llm_traces(query, limit=PAGE_SIZE, cursor=cursor)
    except ValueError:
        cursor, error = None, _BAD_CURSOR
        rows, next_cursor = store.llm_traces(query, limit=PAGE_SIZE)
    return TraceList(
        project,
        range_key,
        session_id,
        user,
        errors_only,
        rows,
        cursor,
        next_cursor,
        error,
        environment,
        release,
        model,
        where,
    )


@dataclass(frozen=True, slots=True)
class SessionList:
    project: Project
    range_key: str
    rows: list[SessionRecord]
    cursor: str | None
    next_cursor: str | None
    error: str | None = None
    user: str | None = None
    environment: str | None = None
    release: str | None = None

    def query(self) -> dict[str, str]:
        values = {
            "range": self.range_key if self.range_key != DEFAULT_RANGE else None,
            "user": self.user,
            "environment": self.environment,
            "release": self.release,
        }
        return {k: v for k, v in values.items() if v}


def build_session_list(
    store: LlmReads, project: Project, params: Mapping[str, str], now: float | None = None
) -> SessionList:
    now = time.time() if now is None else now
    range_key = params.get("range", DEFAULT_RANGE)
    range_key = range_key if range_key in RANGES else DEFAULT_RANGE
    since = now - RANGES[range_key] * 3600
    cursor = params.get("cursor") or None
    narrowed = {
        "distinct_id": _clean(params.get("user")),
        "environment": _clean(params.get("environment")),
        "release": _clean(params.get("release")),
    }
    error = None
    try:
        rows, next_cursor = store.llm_sessions(
            project.id, since=since, limit=PAGE_SIZE, cursor=cursor, **narrowed
        )
    except ValueError:
        cursor, error = None, _BAD_CURSOR
        rows, next_cursor = store.llm_sessions(project.id, since=since, limit=PAGE_SIZE, **narrowed)
    return SessionList(
        project,
        range_key,
        rows,
        cursor,
        next_cursor,
        error,
        user=narrowed["distinct_id"],
        environment=narrowed["environment"],
        release=narrowed["release"],
    )
