"""Issue data that must not depend on the backend: numbers per project, releases by event time."""

from __future__ import annotations

import time

from heliograph.store.base import Issue, IssueFilter, Project
from heliograph.store.contract import Store
from tests.contract.builders import error, record_errors


def _all(store: Store, project: Project) -> list[Issue]:
    issues, _ = store.list_issues(IssueFilter(project.id, status=None), limit=100, cursor=None)
    return issues


def _issue(store: Store, project: Project, group: str) -> Issue:
    found = [i for i in _all(store, project) if i.group_hash == group]
    assert len(found) == 1
    return found[0]


def test_issue_numbers_count_per_project(
    store: Store, project: Project, other_project: Project
) -> None:
    record_errors(store, error(project.id, "a"), error(project.id, "b"))
    record_errors(store, error(other_project.id, "x"))
    record_errors(
        store, error(project.id, "a"), error(project.id, "c"), error(other_project.id, "y")
    )
    numbers = {i.group_hash: i.short_number for i in _all(store, project)}
    assert sorted(numbers.values()) == [1, 2, 3]
    assert numbers["c"] == 3  # a later issue, a later number; "a" kept its own
    assert {i.group_hash: i.short_number for i in _all(store, other_project)} == {"x": 1, "y": 2}
    found = store.issue_by_number(project.id, numbers["b"])
    assert found is not None and found.group_hash == "b"
    assert store.issue_by_number(project.id, 4) is None
    assert store.issue_by_number(project.id, 2**70) is None
    assert store.issue_by_number(other_project.id, 3) is None


def test_releases_follow_event_time_not_arrival(store: Store, project: Project) -> None:
    now = time.time()
    record_errors(store, error(project.id, "g", at=now - 100, release="1.1"))
    # An older event of an older release arrives late; one with no release is newest.
    record_errors(
        store,
        error(project.id, "g", at=now - 500, release="1.0"),
        error(project.id, "g", at=now - 10),
    )
    issue = _issue(store, project, "g")
    assert (issue.first_release, issue.last_release) == ("1.0", "1.1")
    record_errors(store, error(project.id, "g", at=now - 50, release="1.2"))
    record_errors(store, error(project.id, "g", at=now - 60, release="1.15"))
    issue = _issue(store, project, "g")
    assert (issue.first_release, issue.last_release) == ("1.0", "1.2")


def test_releases_within_one_batch_follow_event_time(store: Store, project: Project) -> None:
    now = time.time()
    record_errors(
        store,
        error(project.id, "g", at=now - 100, release="2.0"),
        error(project.id, "g", at=now - 300, release="1.0"),
        error(project.id, "g", at=now - 200, release="1.5"),
    )
    issue = _issue(store, project, "g")
    assert (issue.first_release, issue.last_release) == ("1.0", "2.0")
