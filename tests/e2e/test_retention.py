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
from heliograph.store.contract import Store
from tests.conftest import launch
from tests.payloads import auth_header, envelope, sentry_event
from tests.stores import data_store, server_store

pytestmark = pytest.mark.e2e
DAY = 86400.0


def _old_errors(store: Store, project_id: int, count: int, days_ago: float) -> list[str]:
    """Record ``count`` errors from ``days_ago``; return their event ids."""
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
    return [grouped.event.event_id for grouped in batch.errors]


def _stored(store: Store, project_id: int, event_ids: list[str]) -> int:
    """How many of ``event_ids`` the store still has."""
    return sum(store.get_event(project_id, event_id) is not None for event_id in event_ids)


def _cli(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "heliograph", *args], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_cleanup_command_reports_then_deletes(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with data_store(data_dir) as store:
        project = ensure_defaults(store, "http://localhost").project
        store.update_project(project.id, retention_days=30)
        expired = _old_errors(store, project.id, 700, days_ago=40)
        kept = _old_errors(store, project.id, 5, days_ago=1)
    dry = _cli("cleanup", "--dry-run", "--data-dir", str(data_dir))
    assert "default/default (keeps 30 days): would delete 700 events, 0 issues" in dry
    done = _cli("cleanup", "--data-dir", str(data_dir))
    assert "default/default (keeps 30 days): deleted 700 events, 0 issues" in done
    assert "expired sessions" in done
    with data_store(data_dir) as store:
        assert (_stored(store, project.id, expired), _stored(store, project.id, kept)) == (0, 5)
    assert "deleted 0 events" in _cli("cleanup", "--data-dir", str(data_dir))


def test_background_job_purges_while_ingest_goes_on(tmp_path: Path) -> None:
    server = launch(tmp_path / "data", env={"HELIOGRAPH_RETENTION_INTERVAL": "1"})
    try:
        with server_store(server) as store:
            store.update_project(server.project_id, retention_days=7)
            old = _old_errors(store, server.project_id, 3000, days_ago=10)
            sent: list[str] = []
            slowest = 0.0
            deadline = time.monotonic() + 20
            while _stored(store, server.project_id, old) or not sent:
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
            assert _stored(store, server.project_id, sent) == len(sent)
            assert slowest < 1.0, f"ingest stalled for {slowest:.2f}s during the purge"
            with server.api() as api:
                issues = api.get(
                    "/api/0/projects/default/default/issues/", params={"query": "is:all"}
                ).json()
            assert [issue["title"] for issue in issues] == ["ValueError: fresh"]
    finally:
        server.stop()
