"""Accounts and access: organizations, projects, keys, users, credentials, teams, visibility."""

from __future__ import annotations

import time

import pytest

from heliograph.bootstrap import ensure_defaults
from heliograph.store.base import Organization, Project, UserAccount
from heliograph.store.contract import LOGIN_FAILURE_TTL, Store
from tests.contract.conftest import StoreUrls, open_backend

# -- organizations and projects ---------------------------------------------------


def test_organizations_are_found_by_slug_and_id(store: Store) -> None:
    org = store.create_organization("acme", "Acme Inc")
    assert org == Organization(org.id, "acme", "Acme Inc", "allowed")
    assert store.get_organization("acme") == org
    assert store.get_organization_by_id(org.id) == org
    assert store.get_organization("nope") is None
    assert store.get_organization_by_id(org.id + 1000) is None


def test_a_new_project_has_the_documented_defaults(store: Store, org: Organization) -> None:
    project = store.create_project(org.id, "shop", "Shop", platform="javascript")
    assert (project.organization_id, project.organization_slug) == (org.id, "acme")
    assert (project.slug, project.name, project.platform) == ("shop", "Shop", "javascript")
    assert project.ai_policy == "allowed" and project.keep_llm_payloads is False
    assert project.retention_days == 90 and project.payload_max_chars == 30000
    assert project.rate_limit is None
    assert (project.scrub_extra_keys, project.scrub_safe_fields) == ((), ())
    assert store.get_project("acme", "shop") == project
    assert store.get_project_by_id(project.id) == project
    assert store.get_project("acme", "nope") is None
    assert store.get_project("other", "shop") is None


def test_project_settings_are_updated_and_read_back(
    store: Store, project: Project, other_project: Project
) -> None:
    store.update_project(
        project.id,
        name="Shop 2",
        ai_policy="disabled",
        keep_llm_payloads=True,
        payload_max_chars=500,
        retention_days=7,
        rate_limit=25,
        scrub_extra_keys=("iban", "pin"),
        scrub_safe_fields=("session_hint",),
    )
    updated = store.get_project_by_id(project.id)
    assert updated is not None
    assert (updated.name, updated.ai_policy, updated.keep_llm_payloads) == (
        "Shop 2",
        "disabled",
        True,
    )
    assert (updated.payload_max_chars, updated.retention_days, updated.rate_limit) == (
        500,
        7,
        25,
    )
    assert updated.scrub_extra_keys == ("iban", "pin")
    assert updated.scrub_safe_fields == ("session_hint",)
    assert store.get_project_by_id(other_project.id) == other_project  # untouched
    assert store.project_rate_limits() == {project.id: 25, other_project.id: None}
    store.update_project(project.id, rate_limit=None)
    assert store.project_rate_limits()[project.id] is None
    with pytest.raises(ValueError):
        store.update_project(project.id, organization_id=99)


def test_projects_are_listed_per_organization_by_slug(store: Store, org: Organization) -> None:
    store.create_project(org.id, "zeta", "Z")
    store.create_project(org.id, "alpha", "A")
    other = store.create_organization("other", "Other")
    store.create_project(other.id, "mid", "M")
    assert [p.slug for p in store.organization_projects(org.id)] == ["alpha", "zeta"]
    assert [(p.organization_slug, p.slug) for p in store.list_projects()] == [
        ("acme", "alpha"),
        ("acme", "zeta"),
        ("other", "mid"),
    ]


# -- ingest keys -------------------------------------------------------------------


def test_keys_are_per_project_and_revoked_for_good(
    store: Store, project: Project, other_project: Project
) -> None:
    web = store.create_key(project.id, "web", rate_limit=5)
    cli = store.create_key(project.id)
    theirs = store.create_key(other_project.id, "theirs")
    assert web.public_key != cli.public_key and len(web.public_key) >= 16
    assert (web.project_id, web.label) == (project.id, "web")
    assert (web.rate_limit, web.revoked_at) == (5, None)
    assert cli.label == "Default" and cli.rate_limit is None
    listed = [k.public_key for k in store.project_keys(project.id)]
    assert listed == [web.public_key, cli.public_key]  # oldest first
    assert store.get_key(project.id, web.public_key) == web
    assert store.get_key(other_project.id, web.public_key) is None  # no cross-project access
    assert store.ingest_keys() == {
        web.public_key: (project.id, 5),
        cli.public_key: (project.id, None),
        theirs.public_key: (other_project.id, None),
    }
    assert store.revoke_key(other_project.id, web.public_key) is False
    assert store.revoke_key(project.id, web.public_key) is True
    assert store.revoke_key(project.id, web.public_key) is False
    revoked = store.get_key(project.id, web.public_key)
    assert revoked is not None and revoked.revoked_at is not None
    assert web.public_key not in store.ingest_keys()
    assert store.active_keys() == {
        cli.public_key: project.id,
        theirs.public_key: other_project.id,
    }


def test_key_label_and_rate_limit_are_editable(
    store: Store, project: Project, other_project: Project
) -> None:
    key = store.create_key(project.id, "web")
    store.update_key(project.id, key.public_key, label="web app", rate_limit=50)
    store.update_key(other_project.id, key.public_key, label="hijacked")  # not theirs: no effect
    updated = store.get_key(project.id, key.public_key)
    assert updated is not None and (updated.label, updated.rate_limit) == ("web app", 50)
    assert store.ingest_keys()[key.public_key] == (project.id, 50)
    with pytest.raises(ValueError):
        store.update_key(project.id, key.public_key, revoked_at=0.0)


# -- users and credentials --------------------------------------------------------


def test_users_are_found_by_email_whatever_its_case(store: Store) -> None:
    assert store.count_users() == 0
    user = store.create_user("Ada@Example.COM", password_hash="hash-1")
    assert (user.email, user.is_superuser) == ("ada@example.com", False)
    assert store.get_user_by_email("ADA@example.com") == (user, "hash-1")
    store.set_password(user.id, "hash-2")
    assert store.get_user_by_email("ada@example.com") == (user, "hash-2")
    root = store.create_user("root@example.com", is_superuser=True)
    assert store.get_user_by_email("root@example.com") == (root, None)
    assert store.get_user_by_email("nobody@example.com") is None
    assert store.count_users() == 2


def test_api_tokens_verify_with_scopes_until_revoked(store: Store) -> None:
    user = store.create_user("t@example.com")
    other = store.create_user("u@example.com")
    raw = store.create_api_token(user.id, "ci", "write")
    full = store.create_api_token(user.id, "admin")
    assert raw.startswith("hgp_") and raw != full
    assert store.user_for_api_token(raw) == (user, frozenset({"read", "write"}))
    assert store.user_for_api_token(full) == (user, frozenset({"read", "write", "admin"}))
    assert store.user_for_api_token(raw + "x") is None
    listed = {info.label: info for info in store.list_api_tokens(user.id)}
    assert set(listed) == {"ci", "admin"}
    assert listed["ci"].prefix == raw[: len(listed["ci"].prefix)] and listed["ci"].prefix != raw
    assert listed["ci"].scopes == frozenset({"read", "write"})
    assert store.list_api_tokens(other.id) == []
    assert store.revoke_api_token(other.id, listed["ci"].id) is False  # not theirs
    assert store.user_for_api_token(raw) is not None
    assert store.revoke_api_token(user.id, listed["ci"].id) is True
    assert store.user_for_api_token(raw) is None
    assert store.user_for_api_token(full) is not None
    assert [info.label for info in store.list_api_tokens(user.id)] == ["admin"]


def test_sessions_hold_a_csrf_token_until_deleted(store: Store) -> None:
    user = store.create_user("s@example.com")
    raw, csrf = store.create_session(user.id)
    other_raw, _ = store.create_session(user.id)
    kept_raw, _ = store.create_session(user.id)
    session = store.get_session(raw)
    assert session is not None and session.user == user and session.csrf_token == csrf
    assert store.get_session("forged") is None
    store.delete_session(raw)
    assert store.get_session(raw) is None and store.get_session(other_raw) is not None
    store.delete_sessions(user.id, keep=kept_raw)  # "log out everywhere else"
    assert store.get_session(other_raw) is None
    assert store.get_session(kept_raw) is not None
    store.delete_sessions(user.id)
    assert store.get_session(kept_raw) is None


def test_login_links_work_once_and_expire(store: Store) -> None:
    user = store.create_user("l@example.com")
    link = store.create_login_link(user.id)
    assert store.consume_login_link(link) == user.id
    assert store.consume_login_link(link) is None  # single use
    expired = store.create_login_link(user.id, ttl=-1)
    assert store.consume_login_link(expired) is None
    assert store.consume_login_link("made-up") is None


# Keys as the login throttle builds them: opaque, with NUL separators.
PAIR = "pair\x00bob@example.com\x001.2.3.4"
ADDRESS = "address\x001.2.3.4"
OTHER = "address\x005.6.7.8"


def test_login_failures_are_counted_per_key_within_the_window(store: Store) -> None:
    assert store.login_failures_since([PAIR, ADDRESS], 0) == {}
    store.record_login_failure([PAIR, ADDRESS], 100.0)
    store.record_login_failure([PAIR, ADDRESS], 130.0)
    store.record_login_failure([ADDRESS], 150.0)
    store.record_login_failure([OTHER], 160.0)
    assert store.login_failures_since([PAIR, ADDRESS], 0) == {
        PAIR: (2, 130.0),
        ADDRESS: (3, 150.0),
    }
    # Only failures later than ``since``; keys with none are left out.
    assert store.login_failures_since([PAIR, ADDRESS], 100.0) == {
        PAIR: (1, 130.0),
        ADDRESS: (2, 150.0),
    }
    assert store.login_failures_since([PAIR, ADDRESS], 140.0) == {ADDRESS: (1, 150.0)}
    assert store.login_failures_since([PAIR, ADDRESS], 150.0) == {}
    assert store.login_failures_since([], 0) == {}


def test_clearing_login_failures_forgets_one_key_only(store: Store) -> None:
    store.record_login_failure([PAIR, ADDRESS], 100.0)
    store.record_login_failure([PAIR, ADDRESS], 110.0)
    store.clear_login_failures(PAIR)
    assert store.login_failures_since([PAIR, ADDRESS], 0) == {ADDRESS: (2, 110.0)}
    store.clear_login_failures("never\x00failed")  # nothing to clear: no error
    store.record_login_failure([PAIR], 120.0)  # counting starts again
    assert store.login_failures_since([PAIR], 0) == {PAIR: (1, 120.0)}


def test_login_failures_are_seen_by_every_store_on_the_database(
    store: Store, store_url: StoreUrls
) -> None:
    """Two server processes (or nodes) over one database count the same failures."""
    other = open_backend(store_url)
    try:
        store.record_login_failure([PAIR], 100.0)
        other.record_login_failure([PAIR], 101.0)
        assert store.login_failures_since([PAIR], 0) == {PAIR: (2, 101.0)}
        assert other.login_failures_since([PAIR], 0) == {PAIR: (2, 101.0)}
        other.clear_login_failures(PAIR)
        assert store.login_failures_since([PAIR], 0) == {}
    finally:
        other.close()


def test_purge_forgets_login_failures_older_than_a_day(store: Store) -> None:
    now = time.time()
    store.record_login_failure([PAIR, ADDRESS], now - LOGIN_FAILURE_TTL - 60)
    store.record_login_failure([ADDRESS], now - 60)
    store.purge_expired(now=now, dry_run=True)  # deletes nothing
    assert store.login_failures_since([PAIR, ADDRESS], 0) == {
        PAIR: (1, now - LOGIN_FAILURE_TTL - 60),
        ADDRESS: (2, now - 60),
    }
    store.purge_expired(now=now)
    assert store.login_failures_since([PAIR, ADDRESS], 0) == {ADDRESS: (1, now - 60)}


def test_first_start_defaults_are_created_once(store: Store) -> None:
    first = ensure_defaults(store, "http://localhost:8000")
    assert first.login_url is not None and first.api_token is not None
    assert first.project.organization_slug == "default" and first.project.slug == "default"
    assert first.dsn == f"http://{first.public_key}@localhost:8000/{first.project.id}"
    assert store.ingest_keys()[first.public_key][0] == first.project.id
    found = store.user_for_api_token(first.api_token)
    assert found is not None and found[0].is_superuser
    link = first.login_url.rsplit("/", 1)[1]
    assert store.consume_login_link(link) == found[0].id
    again = ensure_defaults(store, "http://localhost:8000")
    assert (again.login_url, again.api_token) == (None, None)
    assert (again.project, again.public_key) == (first.project, first.public_key)
    assert store.count_users() == 1


# -- memberships, teams and visibility ----------------------------------------------


def member(store: Store, email: str, org_id: int, role: str) -> UserAccount:
    user = store.create_user(email)
    store.add_member(user.id, org_id, role)
    return user


def test_roles_are_per_organization(store: Store, org: Organization) -> None:
    other = store.create_organization("other", "Other")
    user = member(store, "m@example.com", org.id, "member")
    root = store.create_user("root@example.com", is_superuser=True)
    assert store.role_in(user, org.id) == "member"
    assert store.role_in(user, other.id) is None
    assert store.role_in(root, other.id) == "owner"  # a superuser is an owner everywhere
    store.add_member(user.id, org.id, "admin")  # a second add changes the role
    assert store.role_in(user, org.id) == "admin"
    owner = member(store, "o@example.com", org.id, "owner")
    assert store.count_owners(org.id) == 1
    members = store.organization_members(org.id)
    assert [(m.user.email, m.role) for m in members] == [
        ("m@example.com", "admin"),
        ("o@example.com", "owner"),
    ]
    store.remove_member(owner.id, org.id)
    assert store.role_in(owner, org.id) is None and store.count_owners(org.id) == 0


def test_teams_are_created_listed_and_deleted(store: Store, org: Organization) -> None:
    web = store.create_team(org.id, "Web Platform")
    data = store.create_team(org.id, "Data", slug="data-eng")
    assert (web.organization_id, web.slug, web.name) == (org.id, "web-platform", "Web Platform")
    assert data.slug == "data-eng"
    assert store.teams(org.id) == [data, web]  # by name
    assert store.get_team(org.id, web.id) == web
    other = store.create_organization("other", "Other")
    assert store.get_team(other.id, web.id) is None
    assert store.teams(other.id) == []
    store.delete_team(data.id)
    assert store.teams(org.id) == [web]


def test_team_memberships_and_projects(
    store: Store, org: Organization, project: Project, other_project: Project
) -> None:
    team = store.create_team(org.id, "Web")
    user = member(store, "m@example.com", org.id, "member")
    store.add_team_member(team.id, user.id)
    store.add_team_member(team.id, user.id)  # twice: still once
    store.add_team_project(team.id, project.id)
    [listed] = store.organization_members(org.id)
    assert listed.team_ids == frozenset({team.id})
    assert store.team_projects(org.id) == {team.id: frozenset({project.id})}
    store.remove_team_member(team.id, user.id)
    store.remove_team_project(team.id, project.id)
    assert store.organization_members(org.id)[0].team_ids == frozenset()
    assert store.team_projects(org.id) == {}


def test_members_see_their_teams_projects_and_unteamed_ones(store: Store) -> None:
    org = store.create_organization("acme", "Acme")
    alpha = store.create_project(org.id, "alpha", "Alpha")
    beta = store.create_project(org.id, "beta", "Beta")
    shared = store.create_project(org.id, "shared", "In no team")
    elsewhere_org = store.create_organization("other", "Other")
    elsewhere = store.create_project(elsewhere_org.id, "x", "X")
    team_a, team_b = store.create_team(org.id, "A"), store.create_team(org.id, "B")
    store.add_team_project(team_a.id, alpha.id)
    store.add_team_project(team_b.id, beta.id)
    admin = member(store, "admin@x", org.id, "admin")
    member_a = member(store, "a@x", org.id, "member")
    viewer_b = member(store, "b@x", org.id, "viewer")
    store.add_team_member(team_a.id, member_a.id)
    store.add_team_member(team_b.id, viewer_b.id)
    outsider = member(store, "out@x", elsewhere_org.id, "owner")
    root = store.create_user("root@x", is_superuser=True)
    nobody = store.create_user("nobody@x")
    everything = {alpha.id, beta.id, shared.id, elsewhere.id}

    expected = {
        admin: {alpha.id, beta.id, shared.id},
        member_a: {alpha.id, shared.id},
        viewer_b: {beta.id, shared.id},
        outsider: {elsewhere.id},
        root: everything,
        nobody: set(),
    }
    projects = (alpha, beta, shared, elsewhere)
    for user, visible in expected.items():
        assert store.visible_project_ids(user.id) == visible, user.email
        assert {p.id for p in store.list_projects(user.id)} == visible, user.email
        for p in projects:
            assert (store.project_role(user, p) is not None) == (p.id in visible), (user, p)
    assert {p.id for p in store.list_projects()} == everything
    assert store.project_role(viewer_b, beta) == "viewer"
    assert store.project_role(member_a, shared) == "member"
    assert store.project_role(root, beta) == "owner"


def test_visibility_follows_team_and_membership_changes(
    store: Store, org: Organization, project: Project, other_project: Project
) -> None:
    team = store.create_team(org.id, "Web")
    store.add_team_project(team.id, project.id)
    user = member(store, "m@x", org.id, "member")
    assert store.visible_project_ids(user.id) == {other_project.id}
    store.add_team_member(team.id, user.id)
    assert store.visible_project_ids(user.id) == {project.id, other_project.id}
    store.remove_member(user.id, org.id)  # leaving an organization leaves its teams
    assert store.visible_project_ids(user.id) == set()
    store.add_member(user.id, org.id, "member")
    assert store.visible_project_ids(user.id) == {other_project.id}
    store.delete_team(team.id)  # a project in no team is shared with everyone again
    assert store.visible_project_ids(user.id) == {project.id, other_project.id}
