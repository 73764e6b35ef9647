"""Assignees and the activity log: assignment, comments, digest's regressions."""

from __future__ import annotations

import time

import pytest

from heliograph.store.base import IssueFilter, Organization, Project
from heliograph.store.contract import Store
from tests.contract.builders import error, record_errors


def the_issue(store: Store, project: Project) -> int:
    issues, _ = store.list_issues(IssueFilter(project.id, status=None), limit=10, cursor=None)
    assert len(issues) == 1
    return issues[0].id


def test_assigning_logs_each_change_once(store: Store, org: Organization, project: Project) -> None:
    record_errors(store, error(project.id))
    issue_id = the_issue(store, project)
    ann = store.create_user("ann@example.com")
    team = store.create_team(org.id, "Web")
    assert store.issue_assignees([issue_id]) == {}
    first = store.assign_issue(issue_id, user_id=ann.id, actor_id=ann.id)
    assert first is not None and (first.user_id, first.team_id) == (ann.id, None)
    again = store.assign_issue(issue_id, user_id=ann.id, actor_id=ann.id)  # no change, no entry
    assert again == first
    to_team = store.assign_issue(issue_id, team_id=team.id, actor_id=ann.id)
    assert to_team is not None and (to_team.user_id, to_team.team_id) == (None, team.id)
    assert store.issue_assignees([issue_id])[issue_id].team_id == team.id
    assert store.assign_issue(issue_id, actor_id=ann.id) is None
    assert store.assign_issue(issue_id, actor_id=ann.id) is None
    assert store.issue_assignees([issue_id]) == {}
    log = store.issue_activity(issue_id)
    assert [a.kind for a in log] == ["unassigned", "assigned", "assigned"]  # newest first
    assert log[1].data == {"assigneeType": "team", "assignee": team.id}
    assert all(a.user_id == ann.id for a in log)
    with pytest.raises(ValueError):
        store.assign_issue(issue_id, user_id=ann.id, team_id=team.id, actor_id=None)


def test_comments_are_activity_read_alone_or_with_the_rest(store: Store, project: Project) -> None:
    record_errors(store, error(project.id))
    issue_id = the_issue(store, project)
    ann = store.create_user("ann@example.com")
    before = time.time()
    note = store.add_activity(issue_id, "note", user_id=ann.id, data={"text": "<b>looking</b>"})
    assert note.kind == "note" and note.data == {"text": "<b>looking</b>"}
    assert note.created_at >= before - 1
    store.add_activity(issue_id, "set_resolved", user_id=ann.id)
    assert [a.kind for a in store.issue_activity(issue_id)] == ["set_resolved", "note"]
    assert store.issue_activity(issue_id, kinds=("note",)) == [note]
    assert store.count_activity([issue_id, issue_id + 1000], "note") == {issue_id: 1}
    with pytest.raises(ValueError):
        store.add_activity(issue_id, "sing", user_id=None)


def test_digest_logs_a_regression_in_its_write(store: Store, project: Project) -> None:
    record_errors(store, error(project.id))
    issue_id = the_issue(store, project)
    store.set_issue_status(issue_id, "resolved")
    record_errors(store, error(project.id), error(project.id))  # one regression, two events
    regressions = store.issue_activity(issue_id, kinds=("set_regression",))
    assert len(regressions) == 1 and regressions[0].user_id is None
    record_errors(store, error(project.id))  # already unresolved: nothing more
    assert len(store.issue_activity(issue_id, kinds=("set_regression",))) == 1


def test_regressions_are_logged_event_by_event_too(store: Store, project: Project) -> None:
    """A batch with an event that cannot be stored is written event by event."""
    record_errors(store, error(project.id))
    issue_id = the_issue(store, project)
    store.set_issue_status(issue_id, "resolved")
    bad = error(project.id, level="x" * 10)
    bad.event.tags = {"k": object()}  # type: ignore[dict-item]
    record_errors(store, error(project.id), bad)
    assert len(store.issue_activity(issue_id, kinds=("set_regression",))) == 1
