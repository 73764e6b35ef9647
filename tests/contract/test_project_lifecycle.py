"""Organizations listed and renamed, projects deleted: what the admin pages and API rely on."""

from __future__ import annotations

import time

from heliograph.alerts.rules import check_rule
from heliograph.store.base import IssueFilter, Organization, Project
from heliograph.store.contract import Store
from tests.contract.builders import DAY, error, record_errors


def test_organizations_of_a_user_and_of_everyone(store: Store, org: Organization) -> None:
    other = store.create_organization("zeta", "Zeta")
    member = store.create_user("m@example.com")
    root = store.create_user("root@example.com", is_superuser=True)
    store.add_member(member.id, other.id, "viewer")
    assert [o.slug for o in store.organizations()] == ["acme", "zeta"]
    assert [o.slug for o in store.organizations(member.id)] == ["zeta"]
    assert [o.slug for o in store.organizations(root.id)] == ["acme", "zeta"]


def test_an_organization_is_renamed_and_its_ai_policy_set(store: Store, org: Organization) -> None:
    store.update_organization(org.id, name="Acme Corp", ai_policy="disabled")
    assert store.get_organization("acme") == Organization(org.id, "acme", "Acme Corp", "disabled")
    store.update_organization(org.id)  # nothing to change
    assert store.get_organization_by_id(org.id) == store.get_organization("acme")


def test_a_deleted_project_disappears_and_frees_its_slug(
    store: Store, org: Organization, project: Project, other_project: Project
) -> None:
    key = store.create_key(project.id)
    team = store.create_team(org.id, "Shop team")
    store.add_team_project(team.id, project.id)
    viewer = store.create_user("v@example.com")
    store.add_member(viewer.id, org.id, "viewer")
    raw = {"name": "beat", "trigger": "heartbeat", "window": 600, "interval": 3600}
    hook = {"type": "webhook", "url": "https://hooks.example/a", "secret": "s"}
    beat = store.create_alert_rule(project.id, check_rule({**raw, "actions": [hook]}), user_id=None)

    assert store.delete_project(project.id) is True

    assert store.get_project("acme", "shop") is None
    assert store.get_project_by_id(project.id) is None
    assert [p.slug for p in store.list_projects()] == ["blog"]
    assert [p.slug for p in store.organization_projects(org.id)] == ["blog"]
    assert store.visible_project_ids(viewer.id) == {other_project.id}
    assert key.public_key not in store.ingest_keys()
    assert store.team_projects(org.id).get(team.id, frozenset()) == frozenset()
    rule = store.get_alert_rule(beat.id)
    assert rule is None or not rule.enabled
    assert [p.id for p in store.deleted_projects()] == [project.id]
    assert store.delete_project(project.id) is False, "already deleted"
    assert store.delete_project(project.id + 1000) is False

    again = store.create_project(org.id, "shop", "Shop again")
    assert again.id != project.id
    assert store.get_project("acme", "shop") == again


def test_retention_removes_all_of_a_deleted_projects_data(
    store: Store, project: Project, other_project: Project
) -> None:
    now = time.time()
    recent = error(project.id, "recent", at=now - 60)
    future = error(project.id, "clock-skew", at=now + DAY)
    kept = error(other_project.id, "kept", at=now - 60)
    record_errors(store, recent, future, kept)
    store.delete_project(project.id)

    report = store.purge_expired(now=now)

    [purged] = [p for p in report.projects if p.project.id == project.id]
    assert purged.events == 2
    for gone in (recent, future):
        assert store.get_event(project.id, gone.event.event_id) is None
    issues, _ = store.list_issues(IssueFilter(project.id, status=None), limit=10, cursor=None)
    assert issues == []
    assert store.get_event(other_project.id, kept.event.event_id) is not None
