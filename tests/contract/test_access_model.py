"""The access model through the storage contract: roles, teams, visibility; keys, tokens.

Runs on every backend through the contract suite's ``store`` fixture.

The SQLite backend's own checks (tokens hashed on disk, retention's batches and
derived rows) are in ``tests/backends/sqlite``.
"""

from __future__ import annotations

from heliograph.store.base import UserAccount
from heliograph.store.contract import Store


def _user(store: Store, email: str, org_id: int, role: str) -> UserAccount:
    user = store.create_user(email)
    store.add_member(user.id, org_id, role)
    return user


def test_visibility_follows_roles_and_teams(store: Store) -> None:
    org = store.create_organization("acme", "Acme")
    alpha = store.create_project(org.id, "alpha", "Alpha")
    beta = store.create_project(org.id, "beta", "Beta")
    open_project = store.create_project(org.id, "open", "Open to all")
    other = store.create_organization("other", "Other")
    elsewhere = store.create_project(other.id, "x", "X")
    team_a, team_b = store.create_team(org.id, "Team A"), store.create_team(org.id, "Team B")
    store.add_team_project(team_a.id, alpha.id)
    store.add_team_project(team_b.id, beta.id)
    admin = _user(store, "admin@x", org.id, "admin")
    member_a = _user(store, "member-a@x", org.id, "member")
    viewer_b = _user(store, "viewer-b@x", org.id, "viewer")
    store.add_team_member(team_a.id, member_a.id)
    store.add_team_member(team_b.id, viewer_b.id)
    outsider = _user(store, "out@x", other.id, "owner")
    superuser = store.create_user("root@x", is_superuser=True)

    def slugs(user: UserAccount) -> set[str]:
        return {p.slug for p in store.list_projects(user.id)}

    assert slugs(admin) == {"alpha", "beta", "open"}
    assert slugs(member_a) == {"alpha", "open"}
    assert slugs(viewer_b) == {"beta", "open"}
    assert slugs(outsider) == {"x"}
    assert slugs(superuser) == {"alpha", "beta", "open", "x"}
    # project_role agrees with list_projects for every user and project.
    for user in (admin, member_a, viewer_b, outsider, superuser):
        for project in (alpha, beta, open_project, elsewhere):
            visible = project.slug in slugs(user)
            assert (store.project_role(user, project) is not None) == visible, (user, project)
    assert store.project_role(viewer_b, beta) == "viewer"
    assert store.project_role(superuser, beta) == "owner"
    # Leaving the organization leaves its teams too.
    store.remove_member(member_a.id, org.id)
    assert slugs(member_a) == set()
    store.add_member(member_a.id, org.id, "member")
    assert slugs(member_a) == {"open"}
    # A deleted team frees its projects for the whole organization again.
    store.delete_team(team_b.id)
    assert "beta" in slugs(member_a)
    assert store.count_owners(org.id) == 0


def test_keys_are_per_project_and_revocable(store: Store) -> None:
    org = store.create_organization("o", "O")
    one, two = store.create_project(org.id, "one", "1"), store.create_project(org.id, "two", "2")
    key = store.create_key(one.id, "web", rate_limit=5)
    assert store.ingest_keys()[key.public_key] == (one.id, 5)
    assert store.get_key(two.id, key.public_key) is None  # not two's key
    assert store.revoke_key(two.id, key.public_key) is False
    store.update_key(one.id, key.public_key, label="web app", rate_limit=None)
    updated = store.get_key(one.id, key.public_key)
    assert updated is not None and updated.label == "web app" and updated.rate_limit is None
    assert store.revoke_key(one.id, key.public_key) is True
    assert store.revoke_key(one.id, key.public_key) is False
    assert key.public_key not in store.ingest_keys()


def test_api_tokens_carry_scopes_and_are_revoked_by_their_owner(store: Store) -> None:
    # Stored hashed, never in the clear: tests/backends/sqlite/test_secrets_at_rest.py.
    user = store.create_user("t@x")
    raw = store.create_api_token(user.id, "ci", "write")
    found = store.user_for_api_token(raw)
    assert found is not None and found[1] == frozenset({"read", "write"})
    [info] = store.list_api_tokens(user.id)
    assert info.prefix == raw[:10] and info.scopes == frozenset({"read", "write"})
    other = store.create_user("u@x")
    assert store.revoke_api_token(other.id, info.id) is False
    assert store.revoke_api_token(user.id, info.id) is True
    assert store.user_for_api_token(raw) is None
