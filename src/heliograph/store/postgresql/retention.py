"""Retention on PostgreSQL: delete what is older than each project's ``retention_days``.

The same pass as SQLite's (``store/sqlite/retention.py``), over the same
tables (:mod:`heliograph.store.retention_tables`): old events, the hourly
issue counts before the cutoff, issues last seen before it with nothing left
(their tags and users go by cascade), the LLM rows and rollups; expired
sessions and login links, and failed logins older than
:data:`~heliograph.store.contract.LOGIN_FAILURE_TTL` (not counted), and logged LLM
messages held longer than :data:`~heliograph.store.held_messages.HOLD_SECONDS`.

Why in small batches: each batch is one short transaction (a few hundred rows
found by ``ctid``, PostgreSQL's rowid), so row locks are held briefly and the
digest of every node goes on writing. The rollups are batched the same way:
unlike SQLite's ``WITHOUT ROWID`` tables, every PostgreSQL table has a ctid.

Why a lock: N nodes share the database and each runs the retention job. A
pass takes a session advisory lock (:data:`RETENTION_LOCK`) on a pooled
connection it keeps for the pass; a node that finds it taken skips its pass,
since the holder is already deleting the same rows. A dry run only counts and
takes no lock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from heliograph.store.base import Project, StoreUnavailable
from heliograph.store.contract import LOGIN_FAILURE_TTL
from heliograph.store.held_messages import HOLD_SECONDS
from heliograph.store.people_store import purge_people
from heliograph.store.postgresql.database import Connection, PgDatabase, is_unavailable
from heliograph.store.postgresql.people_lock import people_lock
from heliograph.store.retention import ProjectPurge, PurgeReport, projects_to_purge
from heliograph.store.retention_tables import EVENT_KINDS, LLM_ROWS, ROLLUPS
from heliograph.store.sql_dialect import POSTGRESQL

if TYPE_CHECKING:
    from heliograph.store.postgresql.store import PostgresStore

__all__ = ["BATCH_ROWS", "RETENTION_LOCK", "purge_expired", "retention_lock"]

logger = logging.getLogger(__name__)

BATCH_ROWS = 500
PAUSE_SECONDS = 0.01
# pg_try_advisory_lock key of a retention pass (any constant shared by every node,
# other than the migrations' key).
RETENTION_LOCK = 0x48454C494F5254  # "HELIORT"


def _value(conn: Connection, sql: str, params: tuple[object, ...]) -> Any:
    """The one value of a query that always returns one row (a count, a lock attempt)."""
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return row[0]


@contextmanager
def retention_lock(db: PgDatabase) -> Iterator[bool]:
    """Hold the retention lock while the block runs; yield False if another holds it.

    A session lock, on a connection kept out of the pool for the pass and in
    autocommit (no transaction left open for minutes); released before the
    connection goes back, or by the server if the connection dies.
    """
    try:
        with db.pool.connection() as conn:
            conn.autocommit = True
            try:
                held = bool(_value(conn, "SELECT pg_try_advisory_lock(%s)", (RETENTION_LOCK,)))
                try:
                    yield held
                finally:
                    if held:
                        conn.execute("SELECT pg_advisory_unlock(%s)", (RETENTION_LOCK,))
            finally:
                if not conn.closed:
                    conn.autocommit = False
    except Exception as exc:
        if is_unavailable(exc):  # the lock's connection failed, not the pass's writes
            raise StoreUnavailable(str(exc).strip()) from exc
        raise


class _Runner:
    """Runs one small write (or, dry, a count) at a time, pausing in between."""

    def __init__(self, db: PgDatabase, dry_run: bool, pause: float, stop: threading.Event):
        self.db = db
        self.dry_run = dry_run
        self.pause = pause
        self.stop = stop

    def count(self, table: str, where: str, params: tuple[object, ...]) -> int:
        sql = f"SELECT COUNT(*) FROM {table} WHERE {where}"
        return int(self.db.read(lambda c: _value(c, sql, params)))

    def batches(self, table: str, where: str, params: tuple[object, ...]) -> int:
        """Delete matching rows, a batch per write, until none is left; return how many."""
        if self.dry_run:
            return self.count(table, where, params)
        total = 0
        while not self.stop.is_set():
            deleted = self.db.write(_delete_batch(table, where, params))
            total += deleted
            if deleted < BATCH_ROWS:
                break
            time.sleep(self.pause)
        return total


def _delete_batch(
    table: str, where: str, params: tuple[object, ...]
) -> Callable[[Connection], int]:
    """One write task: delete up to ``BATCH_ROWS`` matching rows, found by ctid."""
    sql = (
        f"DELETE FROM {table} WHERE ctid = ANY(ARRAY("
        f"SELECT ctid FROM {table} WHERE {where} LIMIT {BATCH_ROWS}))"
    )

    def task(conn: Connection) -> int:
        return conn.execute(sql, params).rowcount

    return task


def _purge_project(
    run: _Runner, project: Project, now: float, store: PostgresStore
) -> ProjectPurge:
    """Purge one project (its events, or their keys, in ``store.event_rows``'s table)."""
    events = store.event_rows.table
    cutoff = now - project.retention_days * 86400
    result = ProjectPurge(project, cutoff)
    pid = project.id
    for kind in EVENT_KINDS:
        result.events += run.batches(
            events, "project_id = %s AND kind = %s AND timestamp < %s", (pid, kind, cutoff)
        )
    # Hourly counts before the cutoff, of the issues old enough to have any.
    result.issue_hours = run.batches(
        "issue_hourly",
        "hour < %s AND issue_id IN "
        "(SELECT id FROM issues WHERE project_id = %s AND first_seen < %s)",
        (int(cutoff // 3600), pid, cutoff),
    )
    result.issues = run.batches(
        "issues",
        "project_id = %s AND last_seen < %s AND NOT EXISTS "
        f"(SELECT 1 FROM {events} e WHERE e.issue_id = issues.id)",
        (pid, cutoff),
    )
    result.llm_rows = sum(
        run.batches(table, f"project_id = %s AND {column} < %s", (pid, cutoff))
        for table, column in LLM_ROWS
    ) + sum(
        run.batches(table, f"project_id = %s AND {column} < %s", (pid, int(cutoff // unit)))
        for table, column, unit in ROLLUPS
    )
    result.replays = store.purge_replays(pid, cutoff, dry_run=run.dry_run, stop=run.stop)
    result.people = _purge_people(run, pid, cutoff)
    return result


def _purge_people(run: _Runner, project_id: int, cutoff: float) -> int:
    """Persons last seen before the cutoff, with their distinct ids (``people_store``)."""
    if run.dry_run:
        return run.count("persons", "project_id = %s AND last_seen < %s", (project_id, cutoff))
    return purge_people(
        run.db.write,
        POSTGRESQL,
        project_id,
        cutoff,
        batch_rows=BATCH_ROWS,
        pause=run.pause,
        stop=run.stop,
        lock=people_lock,
    )


def _purge(run: _Runner, store: PostgresStore, now: float) -> PurgeReport:
    report = PurgeReport(
        [_purge_project(run, project, now, store) for project in projects_to_purge(store)]
    )
    report.sourcemaps = store.purge_source_maps(now, dry_run=run.dry_run, stop=run.stop)
    if not run.dry_run:
        report.sessions = store.db.write(
            lambda c: (
                c.execute("DELETE FROM sessions WHERE expires_at < %s", (now,)).rowcount
                + c.execute(
                    "DELETE FROM login_links WHERE expires_at < %s OR used_at IS NOT NULL",
                    (now,),
                ).rowcount
            )
        )
        run.batches("login_failures", "at < %s", (now - LOGIN_FAILURE_TTL,))
        # Logged LLM messages whose span never came (store/held_messages.py).
        run.batches("llm_held_messages", "received_at < %s", (now - HOLD_SECONDS,))
    return report


def purge_expired(
    store: PostgresStore,
    *,
    now: float | None = None,
    dry_run: bool = False,
    pause: float = PAUSE_SECONDS,
    stop: threading.Event | None = None,
) -> PurgeReport:
    """Apply every project's retention now (``dry_run``: only count); skipped, with an
    empty report, while another node's pass holds :data:`RETENTION_LOCK`."""
    now = time.time() if now is None else now
    run = _Runner(store.db, dry_run, pause, stop or threading.Event())
    if dry_run:
        return _purge(run, store, now)
    with retention_lock(store.db) as held:
        if not held:
            logger.info("retention: another node is running a pass; skipping this one")
            return PurgeReport([])
        return _purge(run, store, now)
