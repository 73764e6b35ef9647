"""Issues: grouping, status and regressions, listing with filters, sorts and cursors, events."""

from __future__ import annotations

import time

import pytest

from heliograph.store.base import DigestBatch, Issue, IssueFilter, IssueSort, Project
from heliograph.store.contract import Store
from tests.contract.builders import HOUR, error, record_errors


def one_issue(store: Store, project_id: int) -> Issue:
    issues, _ = store.list_issues(IssueFilter(project_id, status=None), limit=10, cursor=None)
    assert len(issues) == 1, issues
    return issues[0]


def listed(store: Store, filters: IssueFilter, limit: int = 100) -> list[str]:
    issues, _ = store.list_issues(filters, limit=limit, cursor=None)
    return [issue.group_hash for issue in issues]


def walk(store: Store, filters: IssueFilter, limit: int) -> list[Issue]:
    """Every page of a listing, following cursors to the end."""
    found: list[Issue] = []
    cursor: str | None = None
    for _ in range(100):
        page, cursor = store.list_issues(filters, limit=limit, cursor=cursor)
        assert len(page) <= limit
        found += page
        if cursor is None:
            return found
    raise AssertionError("the cursor never ended")


def walk_from(store: Store, filters: IssueFilter, cursor: str | None, limit: int) -> list[Issue]:
    """The pages after ``cursor``."""
    found: list[Issue] = []
    while cursor is not None:
        page, cursor = store.list_issues(filters, limit=limit, cursor=cursor)
        found += page
    return found


# -- grouping ---------------------------------------------------------------------


def test_events_with_one_group_hash_make_one_issue(store: Store, project: Project) -> None:
    now = time.time()
    record_errors(
        store,
        error(project.id, "g", at=now - 300, title="ValueError: first", release="1.0"),
        error(project.id, "g", at=now - 100, title="ValueError: newest", release="1.1"),
        error(project.id, "g", at=now - 200, title="ValueError: middle", level="warning"),
    )
    issue = one_issue(store, project.id)
    assert issue.project_id == project.id and issue.group_hash == "g"
    assert issue.times_seen == 3
    assert issue.first_seen == pytest.approx(now - 300)
    assert issue.last_seen == pytest.approx(now - 100)
    # The newest event names the issue, whatever order events arrive in.
    assert issue.title == "ValueError: newest" and issue.level == "error"
    assert (issue.first_release, issue.last_release) == ("1.0", "1.1")
    assert store.get_issue(issue.id) == issue


def test_a_late_older_event_moves_first_seen_not_the_title(store: Store, project: Project) -> None:
    now = time.time()
    record_errors(store, error(project.id, "g", at=now - 10, title="T: new"))
    record_errors(store, error(project.id, "g", at=now - 3600, title="T: old"))
    issue = one_issue(store, project.id)
    assert issue.title == "T: new"
    assert issue.first_seen == pytest.approx(now - 3600)
    assert issue.last_seen == pytest.approx(now - 10)


def test_group_hashes_separate_issues_within_and_across_projects(
    store: Store, project: Project, other_project: Project
) -> None:
    record_errors(
        store,
        error(project.id, "a"),
        error(project.id, "b"),
        error(project.id, "a"),
        error(other_project.id, "a"),
    )
    issues, _ = store.list_issues(IssueFilter(project.id), limit=10, cursor=None)
    assert sorted((i.group_hash, i.times_seen) for i in issues) == [("a", 2), ("b", 1)]
    assert one_issue(store, other_project.id).times_seen == 1
    assert store.get_issue(10_000_000) is None


# -- status -----------------------------------------------------------------------


def test_a_new_issue_is_unresolved_then_ongoing(store: Store, project: Project) -> None:
    record_errors(store, error(project.id))
    issue = one_issue(store, project.id)
    assert (issue.status, issue.substatus) == ("unresolved", "new")
    record_errors(store, error(project.id))
    again = store.get_issue(issue.id)
    assert again is not None and (again.status, again.substatus) == ("unresolved", "ongoing")


def test_a_resolved_issue_regresses_on_a_new_event(store: Store, project: Project) -> None:
    record_errors(store, error(project.id, release="1.0"))
    issue = one_issue(store, project.id)
    resolved = store.set_issue_status(issue.id, "resolved")
    assert resolved is not None and resolved.status == "resolved"
    assert resolved.resolved_in_release is None
    record_errors(store, error(project.id, release="1.0"))
    regressed = store.get_issue(issue.id)
    assert regressed is not None
    assert (regressed.status, regressed.substatus) == ("unresolved", "regressed")
    assert regressed.times_seen == 2


def test_resolved_in_next_release_waits_for_a_newer_release(store: Store, project: Project) -> None:
    record_errors(store, error(project.id, release="1.0"))
    issue = one_issue(store, project.id)
    resolved = store.set_issue_status(issue.id, "resolved", in_next_release=True)
    assert resolved is not None
    assert (resolved.status, resolved.substatus) == ("resolved", "in_next_release")
    assert resolved.resolved_in_release == "1.0"
    # Events of the release current at resolution (or of none) are expected until the fix ships.
    record_errors(store, error(project.id, release="1.0"), error(project.id))
    still = store.get_issue(issue.id)
    assert still is not None and still.status == "resolved" and still.times_seen == 3
    record_errors(store, error(project.id, release="1.1"))
    regressed = store.get_issue(issue.id)
    assert regressed is not None
    assert (regressed.status, regressed.substatus) == ("unresolved", "regressed")
    assert regressed.resolved_in_release is None and regressed.last_release == "1.1"


def test_an_ignored_issue_stays_ignored_but_keeps_counting(store: Store, project: Project) -> None:
    record_errors(store, error(project.id))
    issue = one_issue(store, project.id)
    ignored = store.set_issue_status(issue.id, "ignored")
    assert ignored is not None and (ignored.status, ignored.substatus) == ("ignored", "archived")
    record_errors(store, error(project.id))
    after = store.get_issue(issue.id)
    assert after is not None and after.status == "ignored" and after.times_seen == 2


def test_reopening_clears_the_resolution(store: Store, project: Project) -> None:
    record_errors(store, error(project.id, release="2.0"))
    issue = one_issue(store, project.id)
    store.set_issue_status(issue.id, "resolved", in_next_release=True)
    reopened = store.set_issue_status(issue.id, "unresolved")
    assert reopened is not None
    assert (reopened.status, reopened.substatus) == ("unresolved", "ongoing")
    assert reopened.resolved_in_release is None
    assert store.set_issue_status(10_000_000, "resolved") is None


# -- listing: filters -------------------------------------------------------------


@pytest.fixture
def varied(store: Store, project: Project, other_project: Project) -> Project:
    """Five issues of ``project`` that differ in status, level, environment and release."""
    now = time.time()
    record_errors(
        store,
        error(project.id, "db", title="OperationalError: database locked", environment="prod"),
        error(project.id, "db", title="OperationalError: database", environment="staging"),
        error(project.id, "db", title="OperationalError: database locked", release="2.0"),
        error(project.id, "key", title="KeyError: 'user_id'", level="warning", release="1.0"),
        error(project.id, "pct", title="ValueError: 100% done", culprit="app.progress"),
        error(project.id, "num", title="ValueError: 1000 done", culprit="app.count"),
        error(project.id, "gone", at=now - 60, environment="prod"),
        error(other_project.id, "db", title="OperationalError: database locked"),
    )
    issues, _ = store.list_issues(IssueFilter(project.id), limit=10, cursor=None)
    gone = next(i for i in issues if i.group_hash == "gone")
    store.set_issue_status(gone.id, "resolved")
    return project


def test_status_filter_defaults_to_unresolved(store: Store, varied: Project) -> None:
    assert sorted(listed(store, IssueFilter(varied.id))) == ["db", "key", "num", "pct"]
    assert listed(store, IssueFilter(varied.id, status="resolved")) == ["gone"]
    assert listed(store, IssueFilter(varied.id, status="ignored")) == []
    assert len(listed(store, IssueFilter(varied.id, status=None))) == 5


def test_level_environment_and_release_filters(store: Store, varied: Project) -> None:
    assert listed(store, IssueFilter(varied.id, level="warning")) == ["key"]
    # An issue matches an environment or release any of its events had.
    assert listed(store, IssueFilter(varied.id, environment="staging")) == ["db"]
    assert sorted(listed(store, IssueFilter(varied.id, status=None, environment="prod"))) == [
        "db",
        "gone",
    ]
    assert sorted(listed(store, IssueFilter(varied.id, release="2.0"))) == ["db"]
    assert listed(store, IssueFilter(varied.id, release="1.0", level="error")) == []
    assert listed(store, IssueFilter(varied.id, environment="nowhere")) == []


def test_any_tag_filters_and_combines(store: Store, project: Project) -> None:
    record_errors(
        store,
        error(project.id, "phone", tags={"device": "iPhone", "browser.name": "Mobile Safari"}),
        error(project.id, "mac", tags={"device": "Mac", "browser.name": "Chrome"}),
        error(project.id, "both", tags={"device": "iPhone"}),
        error(project.id, "both", tags={"browser.name": "Chrome"}),
    )
    by = IssueFilter(project.id, tags=(("device", "iPhone"),))
    assert sorted(listed(store, by)) == ["both", "phone"]
    both = IssueFilter(project.id, tags=(("device", "iPhone"), ("browser.name", "Chrome")))
    assert listed(store, both) == ["both"]  # values any of the issue's events had
    assert listed(store, IssueFilter(project.id, tags=(("device", "Pixel"),))) == []


def test_query_searches_title_and_culprit_literally(store: Store, varied: Project) -> None:
    assert listed(store, IssueFilter(varied.id, query="database")) == ["db"]
    assert listed(store, IssueFilter(varied.id, query="app.count")) == ["num"]
    # Search text is literal: no wildcards, whatever the backend's own syntax.
    assert listed(store, IssueFilter(varied.id, query="100%")) == ["pct"]
    assert listed(store, IssueFilter(varied.id, query="user_id")) == ["key"]
    assert listed(store, IssueFilter(varied.id, query="user%id")) == []
    assert sorted(listed(store, IssueFilter(varied.id, query="done"))) == ["num", "pct"]


def test_query_ignores_case(store: Store, varied: Project) -> None:
    """Users type "keyerror" for KeyError: every backend matches regardless of case."""
    assert listed(store, IssueFilter(varied.id, query="keyerror")) == ["key"]
    assert listed(store, IssueFilter(varied.id, query="APP.COUNT")) == ["num"]


# -- listing: sorts and cursors ---------------------------------------------------


@pytest.fixture
def many(store: Store, project: Project) -> list[str]:
    """Nine issues whose sort keys tie in threes: first seen, last seen and count."""
    now = time.time()
    batch = DigestBatch()
    for n in range(9):
        group = f"i{n}"
        first, last = now - 1000 - 100 * (n // 3), now - 10 * (n // 3)
        batch.errors.append(error(project.id, group, at=first))
        for _ in range(n // 3):
            batch.errors.append(error(project.id, group, at=first + 1))
        batch.errors.append(error(project.id, group, at=last))
    store.record(batch)
    return [f"i{n}" for n in range(9)]


@pytest.mark.parametrize("sort", ["last_seen", "first_seen", "count"])
def test_sorts_order_issues_descending(
    store: Store, project: Project, many: list[str], sort: IssueSort
) -> None:
    issues, _ = store.list_issues(IssueFilter(project.id, sort=sort), limit=20, cursor=None)
    assert len(issues) == 9
    column = {"last_seen": "last_seen", "first_seen": "first_seen", "count": "times_seen"}[sort]
    values = [getattr(i, column) for i in issues]
    assert values == sorted(values, reverse=True)
    assert len(set(values)) == 3  # the ties are real


@pytest.mark.parametrize("sort", ["last_seen", "first_seen", "count"])
@pytest.mark.parametrize("limit", [1, 2, 4, 9])
def test_cursors_walk_every_issue_once_in_order(
    store: Store, project: Project, many: list[str], sort: IssueSort, limit: int
) -> None:
    filters = IssueFilter(project.id, sort=sort)
    whole, cursor = store.list_issues(filters, limit=100, cursor=None)
    assert cursor is None
    walked = walk(store, filters, limit)
    assert [i.id for i in walked] == [i.id for i in whole]
    assert sorted(i.group_hash for i in walked) == many


def test_a_full_last_page_has_no_cursor(store: Store, project: Project, many: list[str]) -> None:
    first, cursor = store.list_issues(IssueFilter(project.id), limit=8, cursor=None)
    assert len(first) == 8 and cursor is not None
    rest, end = store.list_issues(IssueFilter(project.id), limit=1, cursor=cursor)
    assert len(rest) == 1 and end is None
    empty, none = store.list_issues(IssueFilter(project.id, level="fatal"), limit=5, cursor=None)
    assert (empty, none) == ([], None)


def test_new_issues_do_not_shift_later_pages(
    store: Store, project: Project, many: list[str]
) -> None:
    filters = IssueFilter(project.id)
    page, cursor = store.list_issues(filters, limit=4, cursor=None)
    record_errors(store, error(project.id, "newcomer"))  # newest of all: belongs on page one
    rest = walk_from(store, filters, cursor, limit=4)
    seen = [i.group_hash for i in page + rest]
    assert len(seen) == len(set(seen)) == 9 and "newcomer" not in seen


def test_cursors_combine_with_filters(store: Store, project: Project) -> None:
    now = time.time()
    record_errors(
        store,
        *[
            error(project.id, f"p{n}", at=now - n, environment="prod" if n % 2 else "dev")
            for n in range(7)
        ],
    )
    walked = walk(store, IssueFilter(project.id, environment="prod"), limit=2)
    assert [i.group_hash for i in walked] == ["p1", "p3", "p5"]


# -- an issue's events ------------------------------------------------------------


@pytest.fixture
def timeline(store: Store, project: Project) -> tuple[Issue, list[str]]:
    """Six events of one issue, two of them at the same instant; ids newest first."""
    now = time.time()
    times = [now - 50, now - 40, now - 30, now - 30, now - 20, now - 10]
    grouped = [error(project.id, "g", at=t) for t in times]
    for each in grouped:  # one batch each: arrival order is the tie-breaker
        record_errors(store, each)
    issue = one_issue(store, project.id)
    events, _ = store.issue_events(issue.id, limit=100, cursor=None)
    return issue, [e.event_id for e in events]


def test_issue_events_are_newest_first_and_paged(
    store: Store, timeline: tuple[Issue, list[str]]
) -> None:
    issue, newest_first = timeline
    assert len(newest_first) == len(set(newest_first)) == 6
    stamps = []
    for event_id in newest_first:
        stored = store.get_event(issue.project_id, event_id)
        assert stored is not None and stored.issue_id == issue.id
        stamps.append(stored.event.timestamp)
    assert stamps == sorted(stamps, reverse=True)
    paged: list[str] = []
    cursor: str | None = None
    while True:
        page, cursor = store.issue_events(issue.id, limit=4, cursor=cursor)
        paged += [e.event_id for e in page]
        if cursor is None:
            break
    assert paged == newest_first


def test_latest_and_oldest_event(store: Store, timeline: tuple[Issue, list[str]]) -> None:
    issue, newest_first = timeline
    latest = store.latest_event(issue.id)
    assert latest is not None and latest.event_id == newest_first[0]
    assert store.oldest_event_id(issue.id) == newest_first[-1]
    assert store.latest_event(10_000_000) is None
    assert store.oldest_event_id(10_000_000) is None


def test_neighbours_step_through_every_event_once(
    store: Store, timeline: tuple[Issue, list[str]]
) -> None:
    issue, newest_first = timeline
    assert store.event_neighbours(issue.id, newest_first[0]) == (None, newest_first[1])
    assert store.event_neighbours(issue.id, newest_first[-1]) == (newest_first[-2], None)
    stepped = [newest_first[0]]
    while True:
        found = store.event_neighbours(issue.id, stepped[-1])
        assert found is not None
        newer, older = found
        if len(stepped) > 1:
            assert newer == stepped[-2]
        if older is None:
            break
        stepped.append(older)
    assert stepped == newest_first  # the tie at one instant included
    assert store.event_neighbours(issue.id, "0" * 32) is None


# -- tags, users, trend -----------------------------------------------------------


def test_issue_tags_count_builtin_and_event_tags(store: Store, project: Project) -> None:
    record_errors(
        store,
        error(project.id, environment="prod", release="1.0", tags={"browser": "Firefox"}),
        error(project.id, environment="prod", release="1.1", tags={"browser": "Chrome"}),
        error(project.id, environment="dev", release="1.1", server_name="web-1", user_id="7"),
        error(project.id, environment="prod", tags={"browser": "Firefox"}, level="warning"),
    )
    issue = one_issue(store, project.id)
    counts = {(t.key, t.value): t.count for t in store.issue_tags(issue.id)}
    assert counts == {
        ("environment", "prod"): 3,
        ("environment", "dev"): 1,
        ("release", "1.1"): 2,
        ("release", "1.0"): 1,
        ("level", "error"): 3,
        ("level", "warning"): 1,
        ("server_name", "web-1"): 1,
        ("user", "id:7"): 1,
        ("browser", "Firefox"): 2,
        ("browser", "Chrome"): 1,
    }
    # Within a key: most frequent first; ``top`` keeps that many values per key.
    by_key = [(t.key, t.value) for t in store.issue_tags(issue.id, top=1)]
    assert sorted(by_key) == [
        ("browser", "Firefox"),
        ("environment", "prod"),
        ("level", "error"),
        ("release", "1.1"),
        ("server_name", "web-1"),
        ("user", "id:7"),
    ]
    envs = [t.value for t in store.issue_tags(issue.id) if t.key == "environment"]
    assert envs == ["prod", "dev"]


def test_tag_values_are_distinct_and_most_recent_first(
    store: Store, project: Project, other_project: Project
) -> None:
    now = time.time()
    record_errors(
        store,
        error(project.id, "a", at=now - 300, environment="staging"),
        error(project.id, "b", at=now - 200, environment="prod"),
        error(project.id, "c", at=now - 100, environment="dev"),
        error(project.id, "c", at=now - 90, environment="prod"),
        error(other_project.id, "a", environment="elsewhere"),
    )
    assert store.tag_values(project.id, "environment") == ["dev", "prod", "staging"]
    assert store.tag_values(project.id, "environment", limit=1) == ["dev"]
    assert store.tag_values(project.id, "release") == []


def test_users_seen_counts_each_user_once(store: Store, project: Project) -> None:
    record_errors(
        store,
        error(project.id, user_id="1"),
        error(project.id, user_id="1"),
        error(project.id, user_id="2"),
        error(project.id, distinct_id="anon-9"),  # no user: the distinct id stands for one
        error(project.id, distinct_id="anon-9"),
        error(project.id),  # nobody
    )
    issue = one_issue(store, project.id)
    assert issue.users_seen == 3 and issue.times_seen == 6


def test_issue_trend_counts_events_per_hour_oldest_first(store: Store, project: Project) -> None:
    now = time.time()
    this_hour = int(now // 3600) * 3600.0
    record_errors(
        store,
        error(project.id, "a", at=this_hour + 1),
        error(project.id, "a", at=this_hour + 2),
        error(project.id, "a", at=this_hour - 2 * HOUR + 5),
        error(project.id, "a", at=this_hour - 30 * HOUR),  # outside the window
        error(project.id, "b", at=this_hour - HOUR + 1),
    )
    issues, _ = store.list_issues(IssueFilter(project.id), limit=10, cursor=None)
    ids = {i.group_hash: i.id for i in issues}
    trend = store.issue_trend([ids["a"], ids["b"], 10_000_000], hours=24)
    assert set(trend) == {ids["a"], ids["b"], 10_000_000}
    assert all(len(series) == 24 for series in trend.values())
    assert trend[ids["a"]][-3:] == [1, 0, 2] and sum(trend[ids["a"]]) == 3
    assert trend[ids["b"]][-3:] == [0, 1, 0]
    assert trend[10_000_000] == [0] * 24
    assert store.issue_trend([], hours=24) == {}
