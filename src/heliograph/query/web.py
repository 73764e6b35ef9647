"""Read models of the web analytics dashboard, the events explorer and the people pages.

Pure functions over the :class:`~heliograph.store.contract.WebAnalytics` and
:class:`~heliograph.store.contract.People` roles: a range picked from the
query string becomes hours or days, rollups become figures and series, and
the explorer's query string becomes an :class:`EventQuery`, refusing what
it cannot read (:class:`QueryError`, a 400) rather than guessing.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from heliograph.store.base import Issue, StoredEvent, TimeUnit
from heliograph.store.contract import People, WebAnalytics
from heliograph.store.web_records import (
    FILTER_OPERATORS,
    MAX_FILTERS,
    MAX_PROPERTY_KEY,
    MAX_VALUE_TEXT,
    WEB_DIMENSIONS,
    EventBreakdown,
    EventNameCount,
    EventQuery,
    Person,
    PersonLlmUsage,
    PropertyFilter,
    WebTop,
)

__all__ = [
    "OPERATOR_LABELS",
    "RANGES",
    "Explorer",
    "PersonPage",
    "QueryError",
    "WebDashboard",
    "WebWindow",
    "build_explorer",
    "build_person_page",
    "build_web_dashboard",
    "parse_filters",
    "web_window",
]

# Range -> (bucket unit, how many buckets).
RANGES: dict[str, tuple[TimeUnit, int]] = {
    "24h": ("hour", 24),
    "7d": ("day", 7),
    "30d": ("day", 30),
}
OPERATOR_LABELS: dict[str, str] = {
    "eq": "=",
    "neq": "≠",
    "contains": "contains",
    "is_set": "is set",
    "is_not_set": "is not set",
}
_SIZE = {"hour": 3600, "day": 86400}


class QueryError(ValueError):
    """The explorer's query string asks for something it cannot mean (a 400)."""


@dataclass(frozen=True, slots=True)
class WebWindow:
    """A range as buckets: ``first``..``last`` hours or UTC days, both included."""

    range_key: str
    unit: TimeUnit
    first: int
    last: int

    @property
    def first_hour(self) -> int:
        return self.first if self.unit == "hour" else self.first * 24

    @property
    def last_hour(self) -> int:
        return self.last if self.unit == "hour" else self.last * 24 + 23

    @property
    def since(self) -> float:
        return float(self.first * _SIZE[self.unit])

    @property
    def until(self) -> float:
        return float((self.last + 1) * _SIZE[self.unit])

    def buckets(self) -> list[int]:
        return list(range(self.first, self.last + 1))

    def label(self, bucket: int) -> str:
        at = datetime.fromtimestamp(bucket * _SIZE[self.unit], UTC)
        return at.strftime("%H:00") if self.unit == "hour" else at.strftime("%b %d")


def web_window(range_key: str | None, now: float | None = None) -> WebWindow:
    """The range the page asked for (24h by default), ending with the current hour or day."""
    key = range_key if range_key in RANGES else "24h"
    unit, count = RANGES[key]
    current = int((time.time() if now is None else now) // _SIZE[unit])
    return WebWindow(key, unit, current - count + 1, current)


@dataclass(frozen=True, slots=True)
class WebPoint:
    label: str
    visitors: int
    pageviews: int
    sessions: int


@dataclass(frozen=True, slots=True)
class WebDashboard:
    window: WebWindow
    visitors: int
    pageviews: int
    sessions: int
    bounces: int
    series: list[WebPoint]
    tops: dict[str, list[WebTop]]

    @property
    def bounce_rate(self) -> float | None:
        return self.bounces / self.sessions if self.sessions else None


def build_web_dashboard(
    store: WebAnalytics, project_id: int, range_key: str | None, now: float | None = None
) -> WebDashboard:
    """The dashboard's figures, all from rollups (no raw event is read)."""
    window = web_window(range_key, now)
    hours = store.web_traffic(project_id, window.first_hour, window.last_hour)
    visitors = store.web_visitors(project_id, window.first, window.last, window.unit)
    per_bucket: dict[int, list[int]] = {}
    for hour in hours:
        bucket = hour.hour if window.unit == "hour" else hour.hour // 24
        sums = per_bucket.setdefault(bucket, [0, 0])
        sums[0] += hour.pageviews
        sums[1] += hour.sessions
    series = [
        WebPoint(
            window.label(bucket),
            visitors.by_bucket.get(bucket, 0),
            per_bucket.get(bucket, [0, 0])[0],
            per_bucket.get(bucket, [0, 0])[1],
        )
        for bucket in window.buckets()
    ]
    tops = {
        dimension: store.web_top(project_id, dimension, window.first_hour, window.last_hour)
        for dimension in WEB_DIMENSIONS
    }
    return WebDashboard(
        window=window,
        visitors=visitors.total,
        pageviews=sum(h.pageviews for h in hours),
        sessions=sum(h.sessions for h in hours),
        bounces=max(0, sum(h.bounces for h in hours)),
        series=series,
        tops=tops,
    )


def _clean(text: str, limit: int, what: str) -> str:
    if len(text) > limit:
        raise QueryError(f"{what} is longer than {limit} characters")
    if any(ord(ch) < 0x20 for ch in text):
        raise QueryError(f"{what} contains control characters")
    return text


def parse_filters(
    keys: Sequence[str], operators: Sequence[str], values: Sequence[str]
) -> tuple[PropertyFilter, ...]:
    """Filters from the form's repeated ``key``, ``op`` and ``value`` fields.

    Rows with no key are skipped (the form's empty row); an unknown operator,
    too many filters or an over-long key or value is a :class:`QueryError`.
    """
    found = []
    for index, key in enumerate(keys):
        key = key.strip()
        if not key:
            continue
        operator = operators[index] if index < len(operators) else "eq"
        if operator not in FILTER_OPERATORS:
            raise QueryError(f"unknown filter operator {operator[:20]!r}")
        value = values[index] if index < len(values) else ""
        found.append(
            PropertyFilter(
                _clean(key, MAX_PROPERTY_KEY, "a property name"),
                operator,
                _clean(value, MAX_VALUE_TEXT, "a filter value"),
            )
        )
        if len(found) > MAX_FILTERS:
            raise QueryError(f"at most {MAX_FILTERS} filters")
    return tuple(found)


@dataclass(frozen=True, slots=True)
class Explorer:
    window: WebWindow
    query: EventQuery
    breakdown_by: str | None
    names: list[EventNameCount]
    breakdown: EventBreakdown
    events: list[StoredEvent]
    next_cursor: str | None
    labels: list[str] = field(default_factory=list)
    totals: list[int] = field(default_factory=list)


def build_explorer(
    store: WebAnalytics,
    project_id: int,
    *,
    range_key: str | None,
    name: str | None,
    filters: tuple[PropertyFilter, ...],
    breakdown_by: str | None,
    cursor: str | None,
    limit: int = 50,
    now: float | None = None,
) -> Explorer:
    """The explorer's counts over time, top values and a page of matching events."""
    window = web_window(range_key, now)
    if name is not None:
        name = _clean(name, MAX_VALUE_TEXT, "an event name") or None
    if breakdown_by is not None:
        breakdown_by = _clean(breakdown_by.strip(), MAX_PROPERTY_KEY, "a property name") or None
    query = EventQuery(project_id, window.since, window.until, name, filters)
    breakdown = store.event_breakdown(query, breakdown_by, window.unit)
    events, next_cursor = store.find_events(query, limit=limit, cursor=cursor)
    size = _SIZE[window.unit]
    totals = [0] * len(window.buckets())
    for start, count in breakdown.buckets.items():  # every matching event, not only the top ten
        index = start // size - window.first
        if 0 <= index < len(totals):
            totals[index] += count
    return Explorer(
        window=window,
        query=query,
        breakdown_by=breakdown_by,
        names=store.event_names(project_id, window.first_hour, window.last_hour),
        breakdown=breakdown,
        events=events,
        next_cursor=next_cursor,
        labels=[window.label(b) for b in window.buckets()],
        totals=totals,
    )


@dataclass(frozen=True, slots=True)
class PersonPage:
    person: Person
    events: list[StoredEvent]
    issues: list[Issue]
    llm: PersonLlmUsage


def build_person_page(
    store: People, reads: WebAnalytics, person: Person, *, now: float | None = None
) -> PersonPage:
    """A person's recent events (30 days), their issues and their LLM usage (30 days)."""
    now = time.time() if now is None else now
    since = now - 30 * 86400
    query = EventQuery(person.project_id, since, now + 1, distinct_ids=person.distinct_ids)
    events, _ = reads.find_events(query, limit=25)
    return PersonPage(
        person=person,
        events=events,
        issues=store.person_issues(person.project_id, person.distinct_ids),
        llm=store.person_llm_usage(person.project_id, person.distinct_ids, since),
    )
