"""The issue's events page (``/issues/{id}/events/``): its events in a table, searchable.

A page of its own rather than part of the issue page, which keeps its fixed
cost (:mod:`heliograph.query.issue_page`); this one costs what
:func:`~heliograph.query.event_scan.find_issue_events` bounds. A search it
cannot understand is shown with the reason, never answered with an empty
table (or a 500).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from heliograph.digest.titles import event_title
from heliograph.model import Event
from heliograph.query.event_scan import EventPage, find_issue_events
from heliograph.query.event_search import parse_event_search, request_url
from heliograph.query.issue_list import split_title
from heliograph.query.search import SearchContext
from heliograph.query.serialize import short_id
from heliograph.store.base import Issue, Project, StoredEvent

if TYPE_CHECKING:
    from heliograph.store.contract import IssueStore

PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class EventRow:
    stored: StoredEvent
    title: str  # "ValueError: bad input": the event's own, which may differ from the issue's
    user: str | None  # user_label
    where: str | None  # the request URL, else the transaction


@dataclass(frozen=True, slots=True)
class IssueEvents:
    issue: Issue
    project: Project
    short_id: str
    title_type: str | None
    title_value: str
    query: str  # the search box, as typed
    rows: list[EventRow]
    cursor: str | None
    next_cursor: str | None
    error: str | None
    # The scan stopped after this many events before the page was full (event_scan).
    stopped_after: int | None


def user_label(event: Event) -> str | None:
    """Who it happened to, as one short label: email, username, id, IP, else distinct id."""
    user = event.user
    if user is not None:
        for value in (user.email, user.username, user.id, user.ip_address, user.name):
            if value:
                return str(value)
    return event.distinct_id or None


def where(event: Event) -> str | None:
    """The page or endpoint: the request's URL, else the transaction."""
    return request_url(event) or event.transaction or None


def event_row(stored: StoredEvent) -> EventRow:
    event = stored.event
    return EventRow(stored, event_title(event), user_label(event), where(event))


def build_issue_events(
    store: IssueStore,
    issue: Issue,
    project: Project,
    params: Mapping[str, str],
    context: SearchContext | None = None,
) -> IssueEvents:
    """One page of the issue's events matching ``query=``, after ``cursor=``."""
    query = params.get("query", "")
    cursor = params.get("cursor") or None
    error = None
    page = EventPage([], None)
    try:
        search = parse_event_search(project.id, query, context)
        page = find_issue_events(store, issue.id, search, limit=PAGE_SIZE, cursor=cursor)
    except ValueError as exc:  # a SearchError, or a cursor edited by hand
        error = str(exc)
    title_type, title_value = split_title(issue.title)
    return IssueEvents(
        issue=issue,
        project=project,
        short_id=short_id(project, issue),
        title_type=title_type,
        title_value=title_value,
        query=query,
        rows=[event_row(stored) for stored in page.events],
        cursor=cursor,
        next_cursor=page.next_cursor,
        error=error,
        stopped_after=page.stopped_after,
    )
