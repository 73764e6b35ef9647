"""``/healthz`` and ``/readyz`` in process: each readiness check fails for its reason, fast,
and says why without a secret."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from heliograph.app import create_app
from heliograph.config import Settings
from heliograph.health import CACHE_SECONDS, Readiness
from heliograph.runtime import Runtime
from heliograph.store.base import StoreUnavailable
from heliograph.store.health import SchemaState


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    settings = Settings(data_dir=tmp_path / "data", ready_min_free_mb=1)
    opened = Runtime(settings)
    try:
        yield opened
    finally:
        opened.close()


def client(runtime: Runtime, **readiness: Any) -> TestClient:
    """A client on the app; ``readiness`` overrides the runtime's checks' settings."""
    if readiness:
        db_timeout = readiness.pop("db_timeout", 2.0)
        settings = replace(runtime.settings, **readiness)
        runtime.readiness = Readiness(
            runtime.store,
            runtime.backlog,
            settings.data_dir,
            min_free_mb=settings.ready_min_free_mb,
            max_lag_seconds=settings.ready_max_lag_seconds,
            db_timeout=db_timeout,
        )
    return TestClient(create_app(runtime.settings, runtime))


class Pinged:
    """Stands in for the store's ping: raises, hangs or answers what it is told."""

    def __init__(self, answer: Any = None, *, hang: float = 0.0) -> None:
        self.answer = answer
        self.hang = hang
        self.calls = 0

    def ping(self, timeout: float = 2.0) -> list[SchemaState]:
        self.calls += 1
        if self.hang:
            time.sleep(self.hang)
        if isinstance(self.answer, BaseException):
            raise self.answer
        assert isinstance(self.answer, list)
        return self.answer


def test_liveness_answers_without_asking_the_database(runtime: Runtime) -> None:
    pinged = Pinged(StoreUnavailable("down"))
    runtime.readiness.database.store = pinged
    answer = client(runtime).get("/healthz")
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}
    assert pinged.calls == 0
    assert client(runtime).head("/healthz").status_code == 200


def test_a_working_server_is_ready_and_says_what_it_checked(runtime: Runtime) -> None:
    answer = client(runtime).get("/readyz")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "ready"
    checks = body["checks"]
    assert set(checks) == {"database", "migrations", "disk", "digest_lag"}
    assert all(check["ok"] for check in checks.values())
    sqlite_schema = checks["migrations"]["sqlite"]
    assert sqlite_schema["applied"] == sqlite_schema["expected"] > 0
    assert checks["disk"]["free_mb"] > 0 and checks["digest_lag"]["seconds"] == 0
    # The old check still answers as it did.
    assert client(runtime).get("/_health").json() == {"status": "ok", "backlog": 0}


def test_an_unreachable_database_fails_readiness_without_its_password(runtime: Runtime) -> None:
    runtime.readiness.database.store = Pinged(
        StoreUnavailable(
            "connection to postgresql://heliograph:hunter2@db.internal:5432/heliograph failed"
        )
    )
    answer = client(runtime).get("/readyz")
    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "not ready"
    reason = body["checks"]["database"]["reason"]
    assert reason.startswith("the database cannot be read: StoreUnavailable")
    assert "hunter2" not in answer.text and "heliograph:***@" in reason
    assert body["checks"]["migrations"]["ok"] is False
    assert body["checks"]["disk"]["ok"] is True


def test_a_hanging_database_fails_within_the_time_limit_and_is_not_asked_again(
    runtime: Runtime,
) -> None:
    hanging = Pinged([], hang=3.0)
    test_client = client(runtime, db_timeout=0.2)
    runtime.readiness.database.store = hanging
    started = time.monotonic()
    answer = test_client.get("/readyz")
    assert time.monotonic() - started < 2.0
    assert answer.status_code == 503
    assert "did not answer within 0.2 s" in answer.json()["checks"]["database"]["reason"]
    time.sleep(CACHE_SECONDS + 0.1)  # past the cache: a new probe, the ping still hangs
    answer = test_client.get("/readyz")
    assert "has not returned" in answer.json()["checks"]["database"]["reason"]
    assert hanging.calls == 1


def test_probes_at_the_same_moment_share_one_ping(runtime: Runtime) -> None:
    slow = Pinged([SchemaState("sqlite", 3, 3)], hang=0.3)
    test_client = client(runtime)
    runtime.readiness.database.store = slow
    codes: list[int] = []
    threads = [
        threading.Thread(target=lambda: codes.append(test_client.get("/readyz").status_code))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert codes == [200] * 4
    assert slow.calls <= 2  # one per cache period at most, never one per probe


def test_pending_migrations_fail_readiness(runtime: Runtime, tmp_path: Path) -> None:
    """A real SQLite file one migration behind (as a newer binary would find it)."""
    [state] = runtime.store.ping()
    database = tmp_path / "data" / "heliograph.sqlite3"
    with sqlite3.connect(database) as conn:
        conn.execute(f"PRAGMA user_version = {state.expected - 1}")
    answer = client(runtime).get("/readyz")
    assert answer.status_code == 503
    migrations = answer.json()["checks"]["migrations"]
    assert migrations["reason"] == "migrations pending (1 on sqlite): run `heliograph migrate`"
    assert migrations["sqlite"] == {"applied": state.expected - 1, "expected": state.expected}


def test_a_schema_newer_than_the_binary_fails_readiness(runtime: Runtime) -> None:
    runtime.readiness.database.store = Pinged(
        [SchemaState("postgresql", 40, 40), SchemaState("clickhouse", 3, 2)]
    )
    answer = client(runtime).get("/readyz")
    assert answer.status_code == 503
    reason = answer.json()["checks"]["migrations"]["reason"]
    assert reason.startswith("the clickhouse schema is newer than this Heliograph")


def test_a_nearly_full_disk_fails_readiness(runtime: Runtime) -> None:
    answer = client(runtime, ready_min_free_mb=1024 * 1024 * 1024).get("/readyz")
    assert answer.status_code == 503
    disk = answer.json()["checks"]["disk"]
    assert "under HELIOGRAPH_READY_MIN_FREE_MB=1073741824" in disk["reason"]
    assert client(runtime, ready_min_free_mb=0).get("/readyz").status_code == 200


def test_digest_lag_past_the_bound_fails_readiness(runtime: Runtime) -> None:
    runtime.queue.append_nowait(1, "sentry", time.time() - 600, b"{}")
    deadline = time.monotonic() + 5
    while runtime.backlog.oldest_received_at() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    answer = client(runtime, ready_max_lag_seconds=300).get("/readyz")
    assert answer.status_code == 503
    lag = answer.json()["checks"]["digest_lag"]
    assert lag["seconds"] >= 599 and "over HELIOGRAPH_READY_MAX_LAG_SECONDS=300" in lag["reason"]
    assert client(runtime, ready_max_lag_seconds=0).get("/readyz").status_code == 200
    assert client(runtime, ready_max_lag_seconds=3600).get("/readyz").status_code == 200


def test_probes_need_no_credentials_even_with_a_session_cookie_missing(runtime: Runtime) -> None:
    test_client = client(runtime)
    for path in ("/healthz", "/readyz"):
        answer = test_client.get(path, headers={"Accept": "text/html"}, follow_redirects=False)
        assert answer.status_code == 200, path
        assert answer.headers["cache-control"] == "no-store"
