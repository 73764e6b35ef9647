"""Upgrades: every earlier release's data directory opens, migrates and keeps its data;
a data directory a newer release wrote is refused, with a message saying what to do.

The fixtures are data directories made by the earlier releases themselves
(``tests/fixtures/make_datadir.py``); what each held, as its own API said, is
in the JSON beside it. ``tests/e2e/test_upgrades.py`` serves them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from heliograph import __version__
from heliograph.store import open_queue
from heliograph.store.base import SchemaTooNew
from heliograph.store.sqlite import SQLiteStore
from heliograph.store.sqlite.queue import MIGRATIONS as QUEUE_MIGRATIONS
from heliograph.store.sqlite.schema import MIGRATIONS
from tests.upgrade_fixtures import Fixture, fixtures, lost_rows, set_user_version, user_version

FIXTURES = fixtures()


def test_there_is_a_fixture_from_the_previous_release_and_an_older_one() -> None:
    made = {f.expected["made_by"]["store"] for f in FIXTURES}
    assert len(FIXTURES) >= 2 and len(made) >= 2, "keep the fixtures of earlier releases"
    assert all(f.archive.stat().st_size < 1_000_000 for f in FIXTURES)
    # Each was made by an older schema than this one knows (or the same: the last release).
    assert all(f.expected["made_by"]["store"] <= len(MIGRATIONS) for f in FIXTURES)


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda f: f.name)
def test_an_earlier_release_data_directory_migrates_and_keeps_everything(
    fixture: Fixture, tmp_path: Path
) -> None:
    expected = fixture.expected
    data_dir = fixture.unpack(tmp_path / "data")
    assert user_version(data_dir / "heliograph.sqlite3") == expected["made_by"]["store"]
    store = SQLiteStore(data_dir / "heliograph.sqlite3")
    try:
        assert user_version(data_dir / "heliograph.sqlite3") == len(MIGRATIONS)
        for email in expected["users"]:
            assert store.get_user_by_email(email) is not None, email
        assert store.user_for_api_token(expected["api_token"]) is not None
        projects = {f"{p.organization_slug}/{p.slug}": p for p in store.list_projects()}
        assert set(expected["projects"]) <= set(projects)
        for path, old in expected["projects"].items():
            project = projects[path]
            assert (project.id, project.name) == (old["id"], old["name"])
            keys = store.project_keys(project.id)
            assert sorted(k.public_key for k in keys if k.revoked_at is None) == old["keys"]
            assert sorted(r.name for r in store.list_alert_rules(project.id)) == old["alert_rules"]
            for old_issue in old["issues"]:
                issue = store.get_issue(old_issue["id"])
                assert issue is not None and issue.project_id == project.id
                assert (issue.title, issue.level, issue.times_seen) == (
                    old_issue["title"],
                    old_issue["level"],
                    old_issue["count"],
                )
                assert issue.users_seen == old_issue["userCount"]
                assert issue.short_number is not None  # numbered, if the release did not
                for event_id in old_issue["events"]:
                    event = store.get_event(project.id, event_id)
                    assert event is not None and event.issue_id == issue.id, event_id
    finally:
        store.close()
    assert lost_rows(data_dir, expected["table_rows"]) == {}


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda f: f.name)
def test_an_earlier_release_queue_migrates_with_its_payload_still_in_it(
    fixture: Fixture, tmp_path: Path
) -> None:
    data_dir = fixture.unpack(tmp_path / "data")
    assert user_version(data_dir / "queue.sqlite3") == fixture.expected["made_by"]["queue"]
    queue = open_queue(data_dir, 0)
    try:
        assert user_version(data_dir / "queue.sqlite3") == len(QUEUE_MIGRATIONS)
        [payload] = queue.oldest(10)
        assert payload.kind == "sentry_envelope"
        assert fixture.expected["queued_event_id"].encode() in payload.body
    finally:
        queue.close()


def test_a_store_a_newer_release_migrated_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "heliograph.sqlite3"
    SQLiteStore(path).close()
    set_user_version(path, len(MIGRATIONS) + 1)
    with pytest.raises(SchemaTooNew) as refused:
        SQLiteStore(path)
    message = str(refused.value)
    assert f"schema {len(MIGRATIONS) + 1}" in message
    assert f"heliograph {__version__}, which knows up to {len(MIGRATIONS)}" in message
    assert str(path) in message and "upgrade heliograph" in message
    assert user_version(path) == len(MIGRATIONS) + 1
    # Refused, it holds nothing open: the right version can open the file at once.
    set_user_version(path, len(MIGRATIONS))
    SQLiteStore(path).close()


def test_a_queue_shard_a_newer_release_migrated_is_refused(tmp_path: Path) -> None:
    open_queue(tmp_path, 1).close()
    set_user_version(tmp_path / "queue-1.sqlite3", len(QUEUE_MIGRATIONS) + 1)
    with pytest.raises(SchemaTooNew, match=r"queue-1\.sqlite3 was written by a newer Heliograph"):
        open_queue(tmp_path, 1)


def _heliograph(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "heliograph", *args], capture_output=True, text=True, timeout=60
    )


def test_admin_commands_on_a_newer_data_directory_say_so_in_one_line(tmp_path: Path) -> None:
    SQLiteStore(tmp_path / "heliograph.sqlite3").close()
    set_user_version(tmp_path / "heliograph.sqlite3", len(MIGRATIONS) + 5)
    for command in (["migrate"], ["cleanup", "--dry-run"]):
        done = _heliograph(*command, "--data-dir", str(tmp_path))
        assert done.returncode == 2, done
        assert "Traceback" not in done.stderr
        [line] = done.stderr.splitlines()
        assert line.startswith("heliograph: error: ")
        assert "was written by a newer Heliograph" in line
        assert f"schema {len(MIGRATIONS) + 5}" in line and "restore a backup" in line


def test_serve_on_a_newer_data_directory_exits_with_the_message(tmp_path: Path) -> None:
    SQLiteStore(tmp_path / "heliograph.sqlite3").close()
    set_user_version(tmp_path / "heliograph.sqlite3", len(MIGRATIONS) + 1)
    done = _heliograph("serve", "--data-dir", str(tmp_path), "--port", "0", "--workers", "1")
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "Traceback" not in output
    assert "was written by a newer Heliograph" in output and __version__ in output


def test_serve_refuses_a_newer_queue_shard_before_starting_its_processes(tmp_path: Path) -> None:
    """The store is fine, a queue shard is not: the start fails once, nothing crash-loops."""
    SQLiteStore(tmp_path / "heliograph.sqlite3").close()
    open_queue(tmp_path, 0).close()
    set_user_version(tmp_path / "queue.sqlite3", len(QUEUE_MIGRATIONS) + 1)
    done = _heliograph("serve", "--data-dir", str(tmp_path), "--port", "0", "--workers", "1")
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "Traceback" not in output and "restarting" not in output
    assert "queue.sqlite3 was written by a newer Heliograph" in output
