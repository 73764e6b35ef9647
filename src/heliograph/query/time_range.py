"""The issue list's time range: the last 24 hours ... 30 days, or two UTC dates.

An issue is in the range when it was seen in it: its last event is not older
than the start and its first is not newer than the end. Both bounds are
columns of the issue row, so the range costs no event read. (For a custom
range in the past this keeps an issue whose events fall on both sides of the
range but none inside it: rare, and exactness would mean reading its hourly
counts for every listed issue.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from heliograph.query.search import SearchError
from heliograph.store.base import IssueFilter

# The choices of the select, in order; "" is any time.
RANGES = (
    ("", "Any time"),
    ("24h", "Last 24 hours"),
    ("7d", "Last 7 days"),
    ("14d", "Last 14 days"),
    ("30d", "Last 30 days"),
    ("custom", "Custom"),
)
_SECONDS = {"24h": 86400, "7d": 7 * 86400, "14d": 14 * 86400, "30d": 30 * 86400}


@dataclass(frozen=True, slots=True)
class TimeRange:
    """What the URL asked for (``range``, ``start``, ``end``) and the bounds it makes."""

    name: str
    start: str  # YYYY-MM-DD, for the custom range's inputs
    end: str
    since: float | None
    until: float | None


ANY_TIME = TimeRange("", "", "", None, None)


def parse_time_range(params: Mapping[str, str], now: float) -> TimeRange:
    """``range=24h|7d|14d|30d`` or ``range=custom&start=2026-11-01&end=2026-11-07`` (UTC days,
    both included); :class:`~heliograph.query.search.SearchError` for anything else."""
    name = params.get("range", "")
    start, end = params.get("start", ""), params.get("end", "")
    if not name:
        return ANY_TIME
    if name in _SECONDS:
        return TimeRange(name, start, end, now - _SECONDS[name], None)
    if name != "custom":
        choices = ", ".join(n for n, _ in RANGES if n)
        raise SearchError(f"unknown time range {name!r}: use one of {choices}")
    since = _day(start, "start") if start else None
    until = _day(end, "end") + 86400 - 0.001 if end else None
    if since is not None and until is not None and since > until:
        raise SearchError("the time range ends before it starts")
    return TimeRange(name, start, end, since, until)


def _day(value: str, which: str) -> float:
    try:
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=timezone.utc)
    except ValueError:
        raise SearchError(f"the range's {which} must be a date such as 2026-11-01") from None
    return day.timestamp()


def within(filters: IssueFilter, time_range: TimeRange) -> IssueFilter:
    """``filters`` keeping only issues seen in the range (narrowing any bound already set)."""
    since, until = time_range.since, time_range.until
    if since is not None and (filters.last_seen_from is None or since > filters.last_seen_from):
        filters = replace(filters, last_seen_from=since)
    if until is not None and (filters.first_seen_to is None or until < filters.first_seen_to):
        filters = replace(filters, first_seen_to=until)
    return filters
