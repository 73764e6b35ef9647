"""An issue's events filtered on typed columns within a bounded scan, and searched page by page.

``issue_events(..., filters=IssueEventFilter(...))`` is the store's part of the
events tab's search (level, environment, release, time; ``scan`` bounds the
events looked at); :func:`heliograph.query.event_scan.find_issue_events`
adds the rest (tags, users, text) on top. Both must page without skipping
or repeating an event, on every backend.
"""

from __future__ import annotations

import time

import pytest

from heliograph.query.event_scan import find_issue_events
from heliograph.query.event_search import parse_event_search
from heliograph.store.base import Issue, IssueEventFilter, IssueFilter, Project, StoredEvent
from heliograph.store.contract import Store
from tests.contract.builders import error, record_errors

NOW = time.time()


def the_issue(store: Store, project: Project) -> Issue:
    issues, _ = store.list_issues(IssueFilter(project.id, status=None), limit=10, cursor=None)
    assert len(issues) == 1, issues
    return issues[0]


@pytest.fixture
def issue(store: Store, project: Project) -> Issue:
    """Twenty events of one issue, 10 s apart (event ``n`` is ``n * 10`` s old, so newest
    first is n = 0..19), two of them at one instant; each ``n % 2`` prod / dev, ``n % 4 == 0``
    a warning, ``n < 10`` release 2.0 else 1.0, ``n % 5 == 0`` the gold customer's."""
    for n in range(20):
        at = NOW - 10 * n if n != 7 else NOW - 60  # 6 and 7 tie
        record_errors(
            store,
            error(
                project.id,
                "g",
                at=at,
                event_id=f"{n:032x}",
                level="warning" if n % 4 == 0 else "error",
                environment="prod" if n % 2 else "dev",
                release="2.0" if n < 10 else "1.0",
                tags={"tier": "gold"} if n % 5 == 0 else {},
                user_id=f"u{n % 3}",
            ),
        )
    return the_issue(store, project)


def numbers(events: list[StoredEvent]) -> list[int]:
    return [int(stored.event_id, 16) for stored in events]


def newest_first(store: Store, issue: Issue) -> list[int]:
    events, _ = store.issue_events(issue.id, limit=100, cursor=None)
    return numbers(events)


def walk(store: Store, issue: Issue, filters: IssueEventFilter, limit: int) -> list[list[int]]:
    """Every page, following cursors to the end."""
    pages: list[list[int]] = []
    cursor: str | None = None
    for _ in range(100):
        events, cursor = store.issue_events(issue.id, limit=limit, cursor=cursor, filters=filters)
        assert len(events) <= limit
        pages.append(numbers(events))
        if cursor is None:
            return pages
    raise AssertionError("the cursor never ended")


def test_typed_filters_keep_the_matching_events_in_order(store: Store, issue: Issue) -> None:
    everything = newest_first(store, issue)
    assert sorted(everything) == list(range(20))

    def kept(filters: IssueEventFilter) -> list[int]:
        events, cursor = store.issue_events(issue.id, limit=100, cursor=None, filters=filters)
        assert cursor is None
        return numbers(events)

    assert kept(IssueEventFilter()) == everything
    assert kept(IssueEventFilter(level="warning")) == [n for n in everything if n % 4 == 0]
    assert kept(IssueEventFilter(environment="prod")) == [n for n in everything if n % 2]
    assert kept(IssueEventFilter(release="1.0")) == [n for n in everything if n >= 10]
    assert kept(IssueEventFilter(level="error", environment="dev", release="2.0")) == [2, 6]
    assert kept(IssueEventFilter(environment="nowhere")) == []
    assert kept(IssueEventFilter(since=NOW - 35)) == [0, 1, 2, 3]
    assert kept(IssueEventFilter(until=NOW - 175)) == [18, 19]
    assert kept(IssueEventFilter(since=NOW - 55, until=NOW - 35)) == [4, 5]


def test_filtered_pages_neither_skip_nor_repeat(store: Store, issue: Issue) -> None:
    prod = IssueEventFilter(environment="prod")
    pages = walk(store, issue, prod, limit=3)
    assert [n for page in pages for n in page] == [n for n in newest_first(store, issue) if n % 2]
    assert all(len(page) == 3 for page in pages[:-1])


def test_a_scan_bound_stops_short_with_a_cursor_where_it_stopped(
    store: Store, issue: Issue
) -> None:
    order = newest_first(store, issue)
    warnings = IssueEventFilter(level="warning", scan=6)  # n = 0, 4, 8, 12, 16
    events, cursor = store.issue_events(issue.id, limit=10, cursor=None, filters=warnings)
    assert numbers(events) == [n for n in order[:6] if n % 4 == 0]
    assert cursor is not None  # the scan ran out, not the events
    pages = walk(store, issue, warnings, limit=10)
    assert [n for page in pages for n in page] == [n for n in order if n % 4 == 0]
    assert len(pages) == 4  # 6 + 6 + 6 + 2 events scanned
    # A full page inside the window ends at its last event, as without a bound.
    events, cursor = store.issue_events(
        issue.id, limit=1, cursor=None, filters=IssueEventFilter(level="warning", scan=20)
    )
    assert numbers(events) == [0]
    rest, _ = store.issue_events(
        issue.id, limit=10, cursor=cursor, filters=IssueEventFilter(level="warning")
    )
    assert numbers(rest) == [n for n in order if n % 4 == 0][1:]


def test_a_scan_that_reaches_the_last_event_ends_the_paging(store: Store, issue: Issue) -> None:
    events, cursor = store.issue_events(
        issue.id, limit=50, cursor=None, filters=IssueEventFilter(scan=20)
    )
    assert len(events) == 20 and cursor is None
    with pytest.raises(ValueError, match="scan"):
        store.issue_events(issue.id, limit=5, cursor=None, filters=IssueEventFilter(scan=0))


def test_a_search_pages_through_the_issue_within_the_scan_cap(
    store: Store, issue: Issue, project: Project
) -> None:
    order = newest_first(store, issue)
    search = parse_event_search(project.id, "environment:prod user.id:u1")
    expected = [n for n in order if n % 2 and n % 3 == 1]  # 1, 7, 13, 19
    found: list[int] = []
    cursor: str | None = None
    stops = []
    for _ in range(50):
        page = find_issue_events(
            store, issue.id, search, limit=1, cursor=cursor, scan_cap=5, step=2
        )
        found += numbers(page.events)
        stops.append(page.stopped_after)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert found == expected
    assert 5 in stops  # some pages ended at the cap, empty or short, and Older went on

    # Text and tags are the decoded event's; one big page holds them all.
    gold = find_issue_events(
        store,
        issue.id,
        parse_event_search(project.id, "tier:gold valueerror"),
        limit=10,
        cursor=None,
    )
    assert numbers(gold.events) == [n for n in order if n % 5 == 0]
    assert gold.next_cursor is None and gold.stopped_after is None


def test_a_full_page_ends_right_after_its_last_match(
    store: Store, issue: Issue, project: Project
) -> None:
    order = newest_first(store, issue)
    search = parse_event_search(project.id, "user.id:u0")  # n % 3 == 0
    expected = [n for n in order if n % 3 == 0]
    found: list[int] = []
    cursor: str | None = None
    while True:
        page = find_issue_events(store, issue.id, search, limit=2, cursor=cursor, step=8)
        assert page.stopped_after is None
        found += numbers(page.events)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert found == expected


def test_a_typed_search_reports_where_the_cap_stopped_it(
    store: Store, issue: Issue, project: Project
) -> None:
    search = parse_event_search(project.id, "release:1.0")  # the 10 oldest
    page = find_issue_events(store, issue.id, search, limit=5, cursor=None, scan_cap=10)
    assert page.events == [] and page.stopped_after == 10 and page.next_cursor
    older = find_issue_events(store, issue.id, search, limit=5, cursor=page.next_cursor)
    assert numbers(older.events) == [n for n in newest_first(store, issue) if n >= 10][:5]
