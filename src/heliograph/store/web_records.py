"""What the web analytics, events explorer and people roles take and return.

Plain records, the same for every backend, and the one reading of a property
value as text (:func:`property_text`) that every backend's filters and
breakdowns agree on: SQLite and PostgreSQL apply it in Python, ClickHouse
spells the same rule in SQL (``store/clickhouse/web_reads.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from heliograph.store.base import TimeUnit

__all__ = [
    "FILTER_OPERATORS",
    "MAX_FILTERS",
    "MAX_PROPERTY_KEY",
    "MAX_VALUE_TEXT",
    "WEB_DIMENSIONS",
    "EventBreakdown",
    "EventNameCount",
    "EventQuery",
    "FilterOperator",
    "Person",
    "PersonLlmUsage",
    "PropertyFilter",
    "VisitorCounts",
    "WebHour",
    "WebTop",
    "matches",
    "property_text",
]

# What the dashboard breaks pageviews and sessions down by. "country" is the ISO
# 3166 code of ``$geoip_country_code`` (set at ingest when a GeoIP database is
# configured), recorded only for pageviews that have one.
WEB_DIMENSIONS = ("page", "referrer", "browser", "os", "device", "country")
FilterOperator = Literal["eq", "neq", "contains", "is_set", "is_not_set"]
FILTER_OPERATORS: tuple[FilterOperator, ...] = ("eq", "neq", "contains", "is_set", "is_not_set")
# Bounds on what a query may ask: hostile input costs no more than these.
MAX_FILTERS = 10
MAX_PROPERTY_KEY = 200
# A value is compared, grouped and shown as at most this much text.
MAX_VALUE_TEXT = 200


@dataclass(frozen=True, slots=True)
class WebHour:
    """One hour of a project's pageviews; sessions and bounces counted at the session's start."""

    hour: int
    pageviews: int
    sessions: int
    bounces: int


@dataclass(frozen=True, slots=True)
class WebTop:
    """One value of a dimension (a path, a referring domain, a browser...) over a range."""

    value: str
    pageviews: int
    sessions: int


@dataclass(frozen=True, slots=True)
class VisitorCounts:
    """Unique visitors (estimated, see ``store/hll.py``): over the range, and per bucket."""

    total: int
    by_bucket: dict[int, int]


@dataclass(frozen=True, slots=True)
class EventNameCount:
    name: str
    events: int


@dataclass(frozen=True, slots=True)
class PropertyFilter:
    """``properties[key] <operator> value``; ``value`` unused by is_set / is_not_set."""

    key: str
    operator: FilterOperator
    value: str = ""


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Which analytics events: a project, a time range ``[since, until)``, and conditions."""

    project_id: int
    since: float
    until: float
    name: str | None = None
    filters: tuple[PropertyFilter, ...] = ()
    distinct_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EventBreakdown:
    """Matching events per bucket, split by the values of one property (or not split).

    ``series`` maps a value (``None``: the property is not set; ``""`` when
    not split) to counts per bucket start (seconds), for the top values only;
    ``buckets`` counts every matching event per bucket start, whatever its
    value (what the chart shows). ``complete`` is False when the backend
    counted only the newest ``scanned`` events of the range.
    """

    unit: TimeUnit
    total: int
    top: list[tuple[str | None, int]]
    series: dict[str | None, dict[int, int]]
    scanned: int
    complete: bool = True
    buckets: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Person:
    """A person: one profile, several distinct ids (up to 100 of them listed)."""

    id: int
    project_id: int
    properties: dict[str, Any]
    created_at: float
    last_seen: float
    distinct_ids: tuple[str, ...] = ()
    # Named by an $identify or $create_alias (people_events.py: who may be merged).
    identified: bool = False

    @property
    def label(self) -> str:
        """What lists call the person: an email or name if known, else a distinct id."""
        for key in ("email", "$email", "name", "$name", "username"):
            value = self.properties.get(key)
            if isinstance(value, str) and value:
                return value[:MAX_VALUE_TEXT]
        return self.distinct_ids[0] if self.distinct_ids else str(self.id)


@dataclass(frozen=True, slots=True)
class PersonLlmUsage:
    """A person's LLM calls (generations and embeddings) since a time."""

    requests: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    unpriced: int = 0
    by_model: list[tuple[str, int, float]] = field(default_factory=list)


def property_text(properties: Mapping[str, Any], key: str) -> str | None:
    """A property's value as the text filters compare and breakdowns group by.

    Missing or JSON null: None. Strings as they are; true/false; anything
    else as its compact JSON (``1``, ``1.5``, ``["a"]``), the same text the
    stored document holds. Cut to :data:`MAX_VALUE_TEXT` characters.
    """
    value = properties.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return value[:MAX_VALUE_TEXT]
    if isinstance(value, bool):
        return "true" if value else "false"
    try:
        text = orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):
        return None
    return text[:MAX_VALUE_TEXT]


def _holds(text: str | None, condition: PropertyFilter) -> bool:
    if condition.operator == "is_set":
        return text is not None
    if condition.operator == "is_not_set":
        return text is None
    if condition.operator == "eq":
        return text == condition.value
    if condition.operator == "neq":
        return text != condition.value
    return text is not None and condition.value.lower() in text.lower()


def matches(properties: Mapping[str, Any], filters: Sequence[PropertyFilter]) -> bool:
    """Whether an event's properties meet every filter (``neq`` holds when unset)."""
    return all(_holds(property_text(properties, f.key), f) for f in filters)
