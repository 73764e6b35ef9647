"""Retention: ``heliograph cleanup`` now, and the digest process's background job.

Old events are written straight into the database (nobody can send events
from 40 days ago through an SDK and wait); recent ones come through ingest.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from heliograph.bootstrap import ensure_defaults
from heliograph.model import Event, Exception_
from heliograph.store.base import DigestBatch, GroupedEvent
from heliograph.store.sqlite import SQLiteStore
from tests.conftest import launch
from tests.payloads import auth_header, envelope, sentry_event

pytestmark = pytest.mark.e2e
DAY = 86400.0


def _old_errors(store: SQLiteStore, project_id: int, count: int, days_ago: float) -> None:
    start = time.time() - days_ago * DAY
    batch = DigestBatch()
    for index in range(count):
        event = Event(
            project_id=project_id,
            event_id=uuid.uuid4().hex,
            timestamp=start + index,
            received_at=start + index,
            exceptions=[Exception_(type="OldError", value=f"old {index % 3}")],
        )
        batch.errors.append(GroupedEvent(event, f"old-{index % 3}", "t", f"old {index % 3}", "c"))
    store.record(batch)


def _count(store: SQLiteStore, project_id: int) -> int:
    return int(
        store.db.read(
            lambda c: c.execute(
                "SELECT COUNT(*) FROM events WHERE project_id = ?", (project_id,)
            ).fetchone()[0]
        )
    )


def _cli(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "heliograph", *args], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_cleanup_command_reports_then_deletes(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    store = SQLiteStore(data_dir / "heliograph.sqlite3")
    try:
        project = ensure_defaults(store, "http://localhost").project
        store.update_project(project.id, retention_days=30)
        _old_errors(store, project.id, 700, days_ago=40)
        _old_errors(store, project.id, 5, days_ago=1)
    finally:
        store.close()
    dry = _cli("cleanup", "--dry-run", "--data-dir", str(data_dir))
    assert "default/default (keeps 30 days): would delete 700 events, 0 issues" in dry
    done = _cli("cleanup", "--data-dir", str(data_dir))
    assert "default/default (keeps 30 days): deleted 700 events, 0 issues" in done
    assert "expired sessions" in done
    store = SQLiteStore(data_dir / "heliograph.sqlite3")
    try:
        assert _count(store, project.id) == 5
    finally:
        store.close()
    assert "deleted 0 events" in _cli("cleanup", "--data-dir", str(data_dir))


def test_background_job_purges_while_ingest_goes_on(tmp_path: Path) -> None:
    server = launch(tmp_path / "data", env={"HELIOGRAPH_RETENTION_INTERVAL": "1"})
    try:
        store = SQLiteStore(server.data_dir / "heliograph.sqlite3")
        try:
            store.update_project(server.project_id, retention_days=7)
            _old_errors(store, server.project_id, 3000, days_ago=10)
            sent: list[str] = []
            slowest = 0.0
            deadline = time.monotonic() + 20
            while _count(store, server.project_id) > len(sent) or not sent:
                assert time.monotonic() < deadline, "old events were never purged"
                event = sentry_event("fresh")
                started = time.perf_counter()
                response = httpx.post(
                    f"{server.url}/api/{server.project_id}/envelope/",
                    content=envelope(event),
                    headers=auth_header(server.public_key),
                )
                slowest = max(slowest, time.perf_counter() - started)
                assert response.status_code == 200
                sent.append(event["event_id"])
                server.wait_for_digest()
            assert slowest < 1.0, f"ingest stalled for {slowest:.2f}s during the purge"
            with server.api() as api:
                issues = api.get(
                    "/api/0/projects/default/default/issues/", params={"query": "is:all"}
                ).json()
            assert [issue["title"] for issue in issues] == ["ValueError: fresh"]
        finally:
            store.close()
    finally:
        server.stop()
