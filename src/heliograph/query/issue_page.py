"""The issue page's read model: header, trends, tag breakdown, one event.

Fixed cost per page: the tag counts (one query), the 30-day hourly trend (one
query, from which the 24-hour chart is a slice), the event and its two
neighbours by index. Nothing scales with the number of events in the issue.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson

from heliograph.query.event_view import EventView, FrameOrder, event_view
from heliograph.query.issue_list import split_title
from heliograph.query.serialize import event_json, short_id
from heliograph.sourcemaps.resolve import SourceMapResolver
from heliograph.store.base import Issue, Project, StoredEvent, TagCount

if TYPE_CHECKING:
    from heliograph.store.contract import IssueStore

TREND_DAYS = 30
TOP_TAG_VALUES = 5
# The tags readers look for first; the rest follow alphabetically.
_TAG_ORDER = ("environment", "release", "user", "level", "server_name")


class EventNotFound(LookupError):
    """The requested event is not one of this issue's."""


@dataclass(frozen=True, slots=True)
class TagValue:
    value: str
    count: int
    percent: float


@dataclass(frozen=True, slots=True)
class TagBreakdown:
    key: str
    values: list[TagValue]
    other_percent: float  # events with another value, or without this tag


@dataclass(frozen=True, slots=True)
class EventNavigation:
    """Event ids for the newer/older/latest/oldest links (None: no such link)."""

    current: str
    newer: str | None
    older: str | None
    latest: str | None
    oldest: str | None


@dataclass(frozen=True, slots=True)
class IssuePage:
    issue: Issue
    project: Project
    short_id: str
    title_type: str | None  # "ZeroDivisionError" of "ZeroDivisionError: division by zero"
    title_value: str
    environments: list[str]
    tags: list[TagBreakdown]
    hourly: list[int]  # the last 24 hours, oldest first
    daily: list[int]  # the last TREND_DAYS UTC days, oldest first (today partial)
    end_hour: int  # hours since the epoch of the last hourly bucket
    stored: StoredEvent | None
    event: EventView | None
    navigation: EventNavigation | None
    raw_json: str
    api_url: str


def tag_breakdowns(tags: list[TagCount], times_seen: int) -> list[TagBreakdown]:
    grouped: dict[str, list[TagCount]] = {}
    for tag in tags:
        grouped.setdefault(tag.key, []).append(tag)
    total = max(times_seen, 1)

    def rank(key: str) -> tuple[int, str]:
        return (_TAG_ORDER.index(key) if key in _TAG_ORDER else len(_TAG_ORDER), key)

    breakdowns = []
    for key in sorted(grouped, key=rank):
        values = [TagValue(t.value, t.count, 100.0 * t.count / total) for t in grouped[key]]
        shown = sum(v.count for v in values)
        breakdowns.append(TagBreakdown(key, values, max(0.0, 100.0 * (total - shown) / total)))
    return breakdowns


def daily_totals(hourly: list[int], end_hour: int) -> list[int]:
    """Sum hourly buckets into UTC days; ``hourly`` must start at a day boundary."""
    start = end_hour - len(hourly) + 1
    days: dict[int, int] = {}
    for offset, count in enumerate(hourly):
        day = (start + offset) // 24
        days[day] = days.get(day, 0) + count
    return [days[d] for d in sorted(days)]


def _navigation(store: IssueStore, issue: Issue, current: str) -> EventNavigation:
    newer, older = store.event_neighbours(issue.id, current) or (None, None)
    latest = store.latest_event(issue.id) if newer else None
    return EventNavigation(
        current=current,
        newer=newer,
        older=older,
        latest=latest.event.event_id if latest else None,
        oldest=store.oldest_event_id(issue.id) if older else None,
    )


def _event(store: IssueStore, issue: Issue, event_id: str | None) -> StoredEvent | None:
    if not event_id:
        return store.latest_event(issue.id)
    stored = store.get_event(issue.project_id, event_id)
    if stored is None or stored.issue_id != issue.id:
        raise EventNotFound(event_id)
    return stored


def build_issue_page(
    store: IssueStore,
    issue: Issue,
    project: Project,
    *,
    event_id: str | None = None,
    order: FrameOrder = "newest",
    sourcemaps: SourceMapResolver | None = None,
) -> IssuePage:
    """Everything the issue page shows; :class:`EventNotFound` for a foreign event id.

    With ``sourcemaps``, an event stored with minified frames (its maps uploaded
    after it arrived) is resolved for display; what is stored is not changed.
    """
    stored = _event(store, issue, event_id)
    if stored is not None and sourcemaps is not None:
        sourcemaps.resolve(stored.event)
    end_hour = int(time.time() // 3600)
    hours = (TREND_DAYS - 1) * 24 + end_hour % 24 + 1  # starts at a UTC midnight
    hourly = store.issue_trend([issue.id], hours=hours).get(issue.id, [0] * hours)
    tags = store.issue_tags(issue.id, top=TOP_TAG_VALUES)
    title_type, title_value = split_title(issue.title)
    raw_json = ""
    api_url = ""
    if stored is not None:
        raw = event_json(stored, title=issue.title)
        raw_json = orjson.dumps(raw, option=orjson.OPT_INDENT_2, default=str).decode()
        api_url = (
            f"/api/0/projects/{project.organization_slug}/{project.slug}/events/{stored.event_id}/"
        )
    return IssuePage(
        issue=issue,
        project=project,
        short_id=short_id(project, issue),
        title_type=title_type,
        title_value=title_value,
        environments=[t.value for t in tags if t.key == "environment"],
        tags=tag_breakdowns(tags, issue.times_seen),
        hourly=hourly[-24:],
        daily=daily_totals(hourly, end_hour),
        end_hour=end_hour,
        stored=stored,
        event=event_view(stored.event, order) if stored else None,
        navigation=_navigation(store, issue, stored.event_id) if stored else None,
        raw_json=raw_json,
        api_url=api_url,
    )
