"""The access model in the store: roles, teams, visibility; keys, tokens; retention."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from heliograph.model import Event, Exception_
from heliograph.store.base import DigestBatch, GroupedEvent, UserAccount
from heliograph.store.sqlite import SQLiteStore
from heliograph.store.sqlite.retention import purge_expired

DAY = 86400.0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    found = SQLiteStore(tmp_path / "heliograph.sqlite3")
    yield found
    found.close()


def _user(store: SQLiteStore, email: str, org_id: int, role: str) -> UserAccount:
    user = store.create_user(email)
    store.add_member(user.id, org_id, role)
    return user


def test_visibility_follows_roles_and_teams(store: SQLiteStore) -> None:
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


def test_keys_are_per_project_and_revocable(store: SQLiteStore) -> None:
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


def test_api_tokens_are_stored_hashed_with_scopes(store: SQLiteStore, tmp_path: Path) -> None:
    user = store.create_user("t@x")
    raw = store.create_api_token(user.id, "ci", "write")
    found = store.user_for_api_token(raw)
    assert found is not None and found[1] == frozenset({"read", "write"})
    [info] = store.list_api_tokens(user.id)
    assert info.prefix == raw[:10] and info.scopes == frozenset({"read", "write"})
    other = store.create_user("u@x")
    assert store.revoke_api_token(other.id, info.id) is False
    time.sleep(0.05)  # the last-use stamp is written in the background
    with sqlite3.connect(tmp_path / "heliograph.sqlite3") as conn:
        dump = "\n".join(conn.iterdump())
    assert raw not in dump and raw[10:] not in dump
    assert store.revoke_api_token(user.id, info.id) is True
    assert store.user_for_api_token(raw) is None


def _error(store: SQLiteStore, project_id: int, ts: float, group: str) -> None:
    event = Event(
        project_id=project_id,
        event_id=uuid.uuid4().hex,
        timestamp=ts,
        received_at=ts,
        exceptions=[Exception_(type="E", value=group)],
    )
    store.record(DigestBatch(errors=[GroupedEvent(event, group, "t", group, "c")]))


def _generation(project_id: int, ts: float) -> Event:
    return Event(
        project_id=project_id,
        event_id=uuid.uuid4().hex,
        timestamp=ts,
        received_at=ts,
        kind="analytics",
        name="$ai_generation",
        properties={
            "$ai_model": "gpt-4o-mini",
            "$ai_provider": "openai",
            "$ai_trace_id": uuid.uuid4().hex,
            "$ai_input_tokens": 10,
            "$ai_output_tokens": 5,
            "$ai_latency": 0.5,
        },
    )


def _rows(store: SQLiteStore, table: str, project_id: int) -> int:
    return int(
        store.db.read(
            lambda c: c.execute(
                f"SELECT COUNT(*) FROM {table} WHERE project_id = ?", (project_id,)
            ).fetchone()[0]
        )
    )


def test_retention_deletes_old_events_and_derived_rows_in_batches(store: SQLiteStore) -> None:
    org = store.create_organization("o", "O")
    short = store.create_project(org.id, "short", "Short")
    long = store.create_project(org.id, "long", "Long")
    store.update_project(short.id, retention_days=7)
    now = time.time()
    for index in range(1200):  # several batches of old events in one issue
        _error(store, short.id, now - 30 * DAY + index, "old")
    _error(store, short.id, now - 30 * DAY, "mixed")
    _error(store, short.id, now - 60, "mixed")
    _error(store, short.id, now - 60, "recent")
    _error(store, long.id, now - 30 * DAY, "kept")
    generations = [_generation(short.id, now - 30 * DAY), _generation(short.id, now - 60)]
    store.record(DigestBatch(analytics=generations))
    llm_tables = ("llm_events", "llm_traces", "llm_hourly")
    llm_before = {table: _rows(store, table, short.id) for table in llm_tables}
    assert all(count >= 2 for count in llm_before.values()), llm_before
    dry = purge_expired(store, now=now, dry_run=True)
    assert {p.project.slug: p.events for p in dry.projects} == {"short": 1202, "long": 0}
    report = purge_expired(store, now=now, pause=0)
    by_slug = {p.project.slug: p for p in report.projects}
    assert by_slug["short"].events == 1202 and by_slug["short"].issues == 1
    assert {table: _rows(store, table, short.id) for table in llm_tables} == {
        table: count - 1 for table, count in llm_before.items()
    }
    assert by_slug["long"].total == 0

    def count(sql: str, *params: object) -> int:
        return int(store.db.read(lambda c: c.execute(sql, params).fetchone()[0]))

    assert count("SELECT COUNT(*) FROM events WHERE project_id = ?", short.id) == 3
    titles = store.db.read(
        lambda c: [r[0] for r in c.execute("SELECT title FROM issues ORDER BY title")]
    )
    assert titles == ["kept", "mixed", "recent"]  # "old" had nothing left
    cutoff_hour = int((now - 7 * DAY) // 3600)
    assert (
        count(
            "SELECT COUNT(*) FROM issue_hourly h JOIN issues i ON i.id = h.issue_id "
            "WHERE i.project_id = ? AND h.hour < ?",
            short.id,
            cutoff_hour,
        )
        == 0
    )
    assert (
        count(
            "SELECT COUNT(*) FROM issue_tags t LEFT JOIN issues i ON i.id = t.issue_id "
            "WHERE i.id IS NULL"
        )
        == 0
    )
    assert purge_expired(store, now=now).total == 0
