"""One page of an issue's events that match an event search, found at a bounded cost.

An issue may have millions of events and a search may match none of them,
so a page never looks at more than :data:`SCAN_CAP` events: what the store
filters on typed columns (level, environment, release, time) it filters in
SQL, within that many events; the rest of the search (tags, users, text) is
checked here on the decoded events, read in steps of :data:`STEP`. When the
cap stops the scan before the page is full, the page says so
(:attr:`EventPage.stopped_after`) and its cursor continues where the scan
stopped: *Older* searches the next events. The same URL always gives the
same page.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from heliograph.query.event_search import EventSearch
from heliograph.store.base import StoredEvent

if TYPE_CHECKING:
    from heliograph.store.contract import IssueStore

SCAN_CAP = 2000
STEP = 250


@dataclass(frozen=True, slots=True)
class EventPage:
    """Matching events, newest first, and the cursor of the next page (None: no more).

    ``stopped_after``: the scan looked at this many events (the cap) without
    filling the page, and ``next_cursor`` continues after them; None otherwise.
    """

    events: list[StoredEvent]
    next_cursor: str | None
    stopped_after: int | None = None


def find_issue_events(
    store: IssueStore,
    issue_id: int,
    search: EventSearch | None,
    *,
    limit: int,
    cursor: str | None,
    scan_cap: int | None = None,
    step: int | None = None,
) -> EventPage:
    """Up to ``limit`` of the issue's events after ``cursor`` that ``search`` matches,
    looking at ``scan_cap`` events at most (default :data:`SCAN_CAP`), ``step`` at a
    time (default :data:`STEP`).

    ValueError for a malformed cursor (the store's).
    """
    scan_cap = SCAN_CAP if scan_cap is None else scan_cap
    step = STEP if step is None else step
    if search is None or search.is_empty:
        events, next_cursor = store.issue_events(issue_id, limit=limit, cursor=cursor)
        return EventPage(events, next_cursor)
    if not search.needs_documents:  # all in SQL: one bounded read
        bounded = replace(search.store_filter, scan=scan_cap)
        events, next_cursor = store.issue_events(
            issue_id, limit=limit, cursor=cursor, filters=bounded
        )
        short = len(events) < limit and next_cursor is not None
        return EventPage(events, next_cursor, scan_cap if short else None)
    return _scan(store, issue_id, search, limit=limit, cursor=cursor, cap=scan_cap, step=step)


def _scan(
    store: IssueStore,
    issue_id: int,
    search: EventSearch,
    *,
    limit: int,
    cursor: str | None,
    cap: int,
    step: int,
) -> EventPage:
    """Read windows of ``step`` events until ``limit`` match, the events end, or ``cap``."""
    found: list[StoredEvent] = []
    scanned = 0
    while scanned < cap:
        window = replace(search.store_filter, scan=min(step, cap - scanned))
        start = cursor
        batch, cursor = store.issue_events(issue_id, limit=step, cursor=start, filters=window)
        scanned += window.scan or 0
        for index, stored in enumerate(batch):
            if not search.matches(stored.event):
                continue
            found.append(stored)
            if len(found) == limit:
                if index < len(batch) - 1:
                    # The page ends inside the window: the store's cursor right
                    # after this event is that of a page of index + 1 from the start.
                    _, cursor = store.issue_events(
                        issue_id, limit=index + 1, cursor=start, filters=window
                    )
                return EventPage(found, cursor)
        if cursor is None:
            return EventPage(found, None)
    return EventPage(found, cursor, scanned)
