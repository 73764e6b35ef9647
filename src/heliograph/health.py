"""``/healthz`` (the process answers) and ``/readyz`` (it can do its work now).

Liveness asks nothing of anything: a process that answers it should not be
restarted. Readiness is what a load balancer routes by, and each of its
checks is a reason to send traffic elsewhere: the database does not answer
(or too slowly), its schema is not the one this binary migrates to, the disk
holding the queue is nearly full, or digest has fallen too far behind.
``docs/health.md`` describes them and the settings.

Both are unauthenticated (probes carry no credentials), so readiness says
what failed in words an operator can act on but never quotes a URL or a
password, and answers from a short cache: a flood of probes costs one
database read a second. The database check runs on a thread of its own and
is abandoned after its time limit; while an abandoned one still hangs, no
second one starts (the check fails, saying so), so probes cannot pile
threads onto a dead database.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from heliograph.redact import redact
from heliograph.store.contract import Health
from heliograph.store.health import SchemaState
from heliograph.store.queue import NodeQueue

DB_TIMEOUT_SECONDS = 2.0
CACHE_SECONDS = 1.0
MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Check:
    """One readiness check: passed or not, and why not in words (``reason``)."""

    ok: bool
    reason: str = ""
    detail: dict[str, object] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        answer: dict[str, object] = {"ok": self.ok, **self.detail}
        if self.reason:
            answer["reason"] = self.reason
        return answer


def _error_text(exc: BaseException) -> str:
    """An exception as a reason: its type and first line, masked, short."""
    first = (str(exc).strip().splitlines() or [""])[0]
    return redact(f"{type(exc).__name__}: {first}" if first else type(exc).__name__)[:200]


class DatabaseCheck:
    """``store.ping`` on a thread of its own, waited for ``timeout`` seconds at most."""

    def __init__(self, store: Health, timeout: float = DB_TIMEOUT_SECONDS) -> None:
        self.store = store
        self.timeout = timeout
        self._running: Future[list[SchemaState]] | None = None
        self._started = 0.0
        self._lock = threading.Lock()

    def _start(self) -> Future[list[SchemaState]]:
        future: Future[list[SchemaState]] = Future()

        def ping() -> None:
            try:
                future.set_result(self.store.ping(self.timeout))
            except BaseException as exc:
                future.set_exception(exc)

        threading.Thread(target=ping, name="readyz-ping", daemon=True).start()
        return future

    async def run(self) -> tuple[Check, Check]:
        """(database reachable, migrations applied).

        Probes arriving together wait for the same ping; a ping still hanging
        past its limit is not repeated until it returns.
        """
        limit = self.timeout + 0.5
        with self._lock:
            now = time.monotonic()
            running = self._running
            if running is None or running.done():
                self._running = running = self._start()
                self._started = now
            elif now - self._started > limit:
                stuck = now - self._started
                return (
                    Check(False, f"the previous database check has not returned in {stuck:.0f} s"),
                    _UNKNOWN,
                )
            started = self._started
        try:
            # Shielded: giving up waiting must not cancel the ping, which the
            # next probe finds still running (or done) instead of starting another.
            states = await asyncio.wait_for(
                asyncio.shield(asyncio.wrap_future(running)), max(0.01, limit - (now - started))
            )
        except asyncio.TimeoutError:
            return Check(False, f"the database did not answer within {self.timeout:g} s"), _UNKNOWN
        except Exception as exc:
            return Check(False, f"the database cannot be read: {_error_text(exc)}"), _UNKNOWN
        elapsed = time.monotonic() - started
        return Check(True, detail={"seconds": round(elapsed, 3)}), _schema_check(states)


_UNKNOWN = Check(False, "unknown: the database does not answer")


def _schema_check(states: list[SchemaState]) -> Check:
    detail: dict[str, object] = {
        state.database: {"applied": state.applied, "expected": state.expected} for state in states
    }
    newer = [s.database for s in states if s.too_new]
    if newer:
        return Check(
            False,
            f"the {' and '.join(newer)} schema is newer than this Heliograph: "
            "a newer version migrated it; run that version",
            detail,
        )
    pending = [s for s in states if s.pending]
    if pending:
        counts = ", ".join(f"{s.pending} on {s.database}" for s in pending)
        return Check(False, f"migrations pending ({counts}): run `heliograph migrate`", detail)
    return Check(True, detail=detail)


def disk_check(data_dir: Path, min_free_mb: int) -> Check:
    """Free space where the queue lives (every backend's queue is in the data directory)."""
    try:
        usage = shutil.disk_usage(data_dir)
    except OSError as exc:
        return Check(False, f"cannot read the data directory's disk: {exc.strerror}")
    free_mb = usage.free // MIB
    detail: dict[str, object] = {"free_mb": free_mb, "min_free_mb": min_free_mb}
    if min_free_mb and free_mb < min_free_mb:
        return Check(
            False,
            f"{free_mb} MiB free on the data directory's disk, under "
            f"HELIOGRAPH_READY_MIN_FREE_MB={min_free_mb}",
            detail,
        )
    return Check(True, detail=detail)


def lag_check(backlog: NodeQueue, max_lag_seconds: int, now: float | None = None) -> Check:
    """How long the oldest accepted payload has waited for digest."""
    try:
        oldest = backlog.oldest_received_at()
    except Exception as exc:
        return Check(False, f"cannot read the ingest queue: {_error_text(exc)}")
    lag = 0.0 if oldest is None else max(0.0, (time.time() if now is None else now) - oldest)
    detail: dict[str, object] = {"seconds": round(lag, 1), "max_seconds": max_lag_seconds}
    if max_lag_seconds and lag > max_lag_seconds:
        return Check(
            False,
            f"digest is {lag:.0f} s behind, over HELIOGRAPH_READY_MAX_LAG_SECONDS="
            f"{max_lag_seconds}",
            detail,
        )
    return Check(True, detail=detail)


class Readiness:
    """The checks of ``/readyz``, answered from a cache at most ``CACHE_SECONDS`` old."""

    def __init__(
        self,
        store: Health,
        backlog: NodeQueue,
        data_dir: Path,
        *,
        min_free_mb: int,
        max_lag_seconds: int,
        db_timeout: float = DB_TIMEOUT_SECONDS,
    ) -> None:
        self.database = DatabaseCheck(store, db_timeout)
        self.backlog = backlog
        self.data_dir = data_dir
        self.min_free_mb = min_free_mb
        self.max_lag_seconds = max_lag_seconds
        self._cached: tuple[float, dict[str, Check]] | None = None

    async def checks(self) -> dict[str, Check]:
        cached = self._cached
        if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        database, migrations = await self.database.run()
        disk = disk_check(self.data_dir, self.min_free_mb)
        lag = await asyncio.to_thread(lag_check, self.backlog, self.max_lag_seconds)
        found = {"database": database, "migrations": migrations, "disk": disk, "digest_lag": lag}
        self._cached = (time.monotonic(), found)
        return found


async def healthz(request: Request) -> Response:
    """Liveness: this process answers. Touches nothing else, on purpose."""
    return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


async def readyz(request: Request) -> Response:
    """Readiness: 200 when every check passes, else 503 naming each that failed."""
    readiness: Readiness = request.app.state.runtime.readiness
    checks = await readiness.checks()
    ready = all(check.ok for check in checks.values())
    body = {
        "status": "ready" if ready else "not ready",
        "checks": {name: check.as_json() for name, check in checks.items()},
    }
    return JSONResponse(
        body, status_code=200 if ready else 503, headers={"Cache-Control": "no-store"}
    )
