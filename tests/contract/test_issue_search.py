"""Finding issues: every search filter, counts, the newest release, releases per issue."""

from __future__ import annotations

import time

import pytest

from heliograph.model import User
from heliograph.query.search import parse_issue_search
from heliograph.store.base import IssueFilter, Organization, Project
from heliograph.store.contract import Store
from tests.contract.builders import DAY, HOUR, error, record_errors


def listed(store: Store, filters: IssueFilter) -> list[str]:
    issues, _ = store.list_issues(filters, limit=100, cursor=None)
    return sorted(issue.group_hash for issue in issues)


def ids(store: Store, project: Project) -> dict[str, int]:
    issues, _ = store.list_issues(IssueFilter(project.id, status=None), limit=100, cursor=None)
    return {issue.group_hash: issue.id for issue in issues}


@pytest.fixture
def tagged(store: Store, project: Project, other_project: Project) -> Project:
    now = time.time()
    record_errors(
        store,
        error(project.id, "gold", at=now - 2 * DAY, tags={"tier": "gold"}, user_id="42"),
        error(project.id, "gold", at=now - HOUR, tags={"tier": "gold"}, release="1.0"),
        error(project.id, "mixed", at=now - 10 * DAY, tags={"tier": "silver"}),
        error(project.id, "mixed", at=now - 3 * HOUR, tags={"tier": "gold"}, release="2.0"),
        error(project.id, "plain", at=now - 5 * DAY, distinct_id="anon-1"),
        error(other_project.id, "gold", tags={"tier": "gold", "only_there": "x"}),
    )
    return project


def test_negated_tags_keep_issues_that_never_saw_the_value(store: Store, tagged: Project) -> None:
    assert listed(store, IssueFilter(tagged.id, tags=(("tier", "gold"),))) == ["gold", "mixed"]
    not_silver = IssueFilter(tagged.id, excluded_tags=(("tier", "silver"),))
    assert listed(store, not_silver) == ["gold", "plain"]


def test_has_and_lacks_a_tag_key(store: Store, tagged: Project) -> None:
    assert listed(store, IssueFilter(tagged.id, has_tags=("tier",))) == ["gold", "mixed"]
    assert listed(store, IssueFilter(tagged.id, lacks_tags=("tier",))) == ["plain"]
    assert listed(store, IssueFilter(tagged.id, has_tags=("release",))) == ["gold", "mixed"]


def test_users_by_the_key_they_are_counted_under(store: Store, tagged: Project) -> None:
    assert listed(store, IssueFilter(tagged.id, users=(("id:42",),))) == ["gold"]
    anyone = IssueFilter(tagged.id, users=(("id:nobody", "id:anon-1"),))
    assert listed(store, anyone) == ["plain"]  # a distinct id stands for the user
    assert listed(store, IssueFilter(tagged.id, excluded_users=(("id:42",),))) == [
        "mixed",
        "plain",
    ]


def test_a_users_other_fields_find_the_issue_without_counting_twice(
    store: Store, project: Project
) -> None:
    """A user is counted under its id; its email and username still find the issue."""
    ada = User(id="7", email="ada@example.com", username="ada", ip_address="192.0.2.1")
    record_errors(
        store,
        error(project.id, "with-id", user=ada),
        error(project.id, "with-id", user=User(id="8", email="bob@example.com")),
        error(project.id, "email-only", user=User(email="ada@example.com")),
    )
    assert listed(store, IssueFilter(project.id, users=(("email:ada@example.com",),))) == [
        "email-only"
    ]
    by_email = parse_issue_search(project.id, {"query": "user.email:ada@example.com"})
    assert listed(store, by_email) == ["email-only", "with-id"]
    for query in ("user.username:ada", "user.ip:192.0.2.1", "user:ada", "user.id:7"):
        assert listed(store, parse_issue_search(project.id, {"query": query})) == ["with-id"]
    nobody = parse_issue_search(project.id, {"query": "!user.email:bob@example.com"})
    assert listed(store, nobody) == ["email-only"]
    counts = {
        issue.group_hash: issue.users_seen
        for issue in store.list_issues(IssueFilter(project.id), limit=10, cursor=None)[0]
    }
    assert counts == {"with-id": 2, "email-only": 1}


def test_first_and_last_seen_bounds(store: Store, tagged: Project) -> None:
    now = time.time()
    recent = IssueFilter(tagged.id, first_seen_from=now - 3 * DAY)
    assert listed(store, recent) == ["gold"]
    stale = IssueFilter(tagged.id, last_seen_to=now - DAY)
    assert listed(store, stale) == ["plain"]
    # A range: seen between 6 and 4 days ago (first seen before its end, last after its start).
    seen = IssueFilter(tagged.id, last_seen_from=now - 6 * DAY, first_seen_to=now - 4 * DAY)
    assert listed(store, seen) == ["mixed", "plain"]


def test_count_issues_counts_what_the_list_shows_up_to_the_cap(
    store: Store, tagged: Project
) -> None:
    assert store.count_issues(IssueFilter(tagged.id), cap=100) == 3
    assert store.count_issues(IssueFilter(tagged.id, tags=(("tier", "gold"),)), cap=100) == 2
    assert store.count_issues(IssueFilter(tagged.id), cap=1) == 2  # more than the cap: cap + 1
    assert store.count_issues(IssueFilter(tagged.id, level="fatal"), cap=10) == 0


def test_latest_release_is_the_one_whose_first_event_came_last(
    store: Store, tagged: Project, project: Project, other_project: Project
) -> None:
    assert store.latest_release(tagged.id) == "1.0"  # 2.0 was first seen earlier
    record_errors(store, error(project.id, "new", release="3.0"))
    assert store.latest_release(project.id) == "3.0"
    assert store.latest_release(other_project.id) is None


def test_tag_keys_are_known_per_project(store: Store, tagged: Project) -> None:
    assert store.has_tag_key(tagged.id, "tier")
    assert not store.has_tag_key(tagged.id, "only_there")
    assert not store.has_tag_key(tagged.id, "nothing")


def test_releases_of_an_issue_from_its_counters(store: Store, project: Project) -> None:
    now = time.time()
    record_errors(
        store,
        error(project.id, "g", at=now - 3 * HOUR, release="1.0"),
        error(project.id, "g", at=now - 2 * HOUR, release="1.0"),
        error(project.id, "g", at=now - HOUR, release="1.1"),
        error(project.id, "g", at=now - 30),
    )
    issue_id = ids(store, project)["g"]
    spans = store.issue_releases(issue_id)
    assert [(s.release, s.count) for s in spans] == [("1.1", 1), ("1.0", 2)]
    assert spans[1].first_seen == pytest.approx(now - 3 * HOUR)
    assert spans[1].last_seen == pytest.approx(now - 2 * HOUR)


def test_assignee_filters(store: Store, org: Organization, tagged: Project) -> None:
    ann = store.create_user("ann@example.com")
    team = store.create_team(org.id, "Web")
    by_hash = ids(store, tagged)
    store.assign_issue(by_hash["gold"], user_id=ann.id, actor_id=ann.id)
    store.assign_issue(by_hash["mixed"], team_id=team.id, actor_id=ann.id)
    assert listed(store, IssueFilter(tagged.id, assignee=f"user:{ann.id}")) == ["gold"]
    assert listed(store, IssueFilter(tagged.id, assignee=f"team:{team.id}")) == ["mixed"]
    assert listed(store, IssueFilter(tagged.id, assignee="none")) == ["plain"]
    assert listed(store, IssueFilter(tagged.id, assignee="any")) == ["gold", "mixed"]
    assert store.count_issues(IssueFilter(tagged.id, assignee="none"), cap=10) == 1


def test_issue_hashes_present_names_only_this_projects_issues(
    store: Store, tagged: Project, other_project: Project
) -> None:
    assert store.issue_hashes_present(tagged.id, ["gold", "plain", "nope"]) == {"gold", "plain"}
    assert store.issue_hashes_present(other_project.id, ["plain", "gold"]) == {"gold"}
    assert store.issue_hashes_present(tagged.id, []) == set()
