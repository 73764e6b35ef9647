"""The LLM dashboard for some of the calls: a model, environment, release, user or property.

The dashboard's figures come from rollups kept per hour and model, which
cannot say what the calls of one environment or one user cost. With a filter
the figures are summed from the calls themselves instead: read through the
generations list (:meth:`~heliograph.store.contract.LlmReads.llm_events`,
every backend), newest first, at most :data:`SCAN_CALLS` of them, and the
page says when the range held more. Percentiles use the rollups' latency
buckets, so a filtered chart reads like an unfiltered one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from heliograph.query.llm import (
    TOP_TRACES,
    LlmDashboard,
    ModelRow,
    SeriesPoint,
    TimeWindow,
    property_filter,
    stats_from,
)
from heliograph.store.base import Project
from heliograph.store.llm_latency import latency_bucket, merge
from heliograph.store.llm_records import LlmEventFilter, UsageRow
from heliograph.store.llm_rows import HourAcc

if TYPE_CHECKING:
    from heliograph.store.contract import LlmReads

__all__ = ["SCAN_CALLS", "DashboardFilters", "FilteredDashboard", "build_filtered_dashboard"]

SCAN_CALLS = 50_000
_PAGE = 1_000


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value[:200] or None


@dataclass(frozen=True, slots=True)
class DashboardFilters:
    """What the dashboard is narrowed to (``?model=&provider=&environment=&release=&user=``)."""

    model: str | None = None
    provider: str | None = None
    environment: str | None = None
    release: str | None = None
    user: str | None = None
    where: str | None = None  # a property condition (query.llm.property_filter)

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> DashboardFilters:
        return cls(**{f.name: _clean(params.get(f.name)) for f in fields(cls)})

    def query(self) -> dict[str, str]:
        return {f.name: value for f in fields(self) if (value := getattr(self, f.name))}

    def __bool__(self) -> bool:
        return bool(self.query())


@dataclass(frozen=True, slots=True)
class FilteredDashboard:
    view: LlmDashboard
    scanned: int
    complete: bool


def _usage(sums: HourAcc, slot: int | None, model: str = "", provider: str = "") -> UsageRow:
    """Calls summed as the rollups sum them, as the row a rollup read answers."""
    return UsageRow(slot, model, provider, *sums.values())


def build_filtered_dashboard(
    store: LlmReads, project: Project, window: TimeWindow, filters: DashboardFilters
) -> FilteredDashboard:
    """The dashboard's figures over the calls ``filters`` keep (see the module docstring)."""
    query = LlmEventFilter(
        project.id,
        since=window.since,
        until=window.until,
        model=filters.model,
        provider=filters.provider,
        distinct_id=filters.user,
        environment=filters.environment,
        release=filters.release,
        properties=tuple(f for f in [property_filter(filters.where)] if f),
    )
    slot_size = 86400 if window.unit == "day" else 3600
    by_slot: dict[int, HourAcc] = {}
    slot_latency: dict[int, dict[int, int]] = {}
    by_model: dict[tuple[str, str], HourAcc] = {}
    model_latency: dict[tuple[str, str], dict[int, int]] = {}
    trace_cost: dict[str, float] = {}
    scanned = 0
    cursor: str | None = None
    while scanned < SCAN_CALLS:
        rows, cursor = store.llm_events(
            query, limit=min(_PAGE, SCAN_CALLS - scanned), cursor=cursor
        )
        for row in rows:
            slot = int(row.timestamp // slot_size)
            pair = (row.model or "", row.provider or "")
            by_slot.setdefault(slot, HourAcc()).add(row)
            by_model.setdefault(pair, HourAcc()).add(row)
            if row.latency_s is not None:
                bucket = latency_bucket(row.latency_s)
                histogram = slot_latency.setdefault(slot, {})
                histogram[bucket] = histogram.get(bucket, 0) + 1
                histogram = model_latency.setdefault(pair, {})
                histogram[bucket] = histogram.get(bucket, 0) + 1
            if row.trace_id and row.total_cost_usd:
                trace_cost[row.trace_id] = trace_cost.get(row.trace_id, 0.0) + row.total_cost_usd
        scanned += len(rows)
        if cursor is None:
            break
    series = [
        SeriesPoint(
            slot=slot,
            start=window.slot_start(slot),
            label=window.slot_label(slot),
            stats=stats_from(
                [_usage(by_slot[slot], slot)] if slot in by_slot else [],
                slot_latency.get(slot),
            ),
        )
        for slot in window.slots
    ]
    totals = stats_from(
        [_usage(s, None) for s in by_slot.values()],
        merge(slot_latency.values()),
    )
    known_cost = totals.cost_usd or 0.0
    models = []
    ranked = sorted(
        by_model, key=lambda key: (-by_model[key].cost_usd, -by_model[key].requests, key)
    )
    for model, provider in ranked:
        sums = by_model[(model, provider)]
        stats = stats_from(
            [_usage(sums, None, model, provider)], model_latency.get((model, provider))
        )
        share = 100.0 * (stats.cost_usd or 0.0) / known_cost if known_cost else 0.0
        models.append(ModelRow(model, provider, stats, share))
    costliest = sorted(trace_cost, key=lambda t: -trace_cost[t])[:TOP_TRACES]
    top = [t for t in (store.llm_trace(project.id, trace) for trace in costliest) if t]
    view = LlmDashboard(project, window, series, totals, models, top, [], None, [])
    return FilteredDashboard(view, scanned, cursor is None)
