"""Retention: delete what is older than each project's ``retention_days``.

Run by the digest process every ``HELIOGRAPH_RETENTION_INTERVAL`` seconds
(:class:`RetentionJob`) and on demand by ``heliograph cleanup``. What goes:

* events older than the cutoff (errors and analytics alike);
* their derived rows: hourly issue counts before the cutoff, issues last
  seen before it (with their tags and users, by cascade), and the LLM
  analytics rows (``llm_events``, ``llm_traces`` and the hourly/daily
  rollups) -- only the tables and columns that exist, so an older or newer
  schema of those tables does not break retention;
* expired login sessions and login links, and failed logins older than
  :data:`~heliograph.store.contract.LOGIN_FAILURE_TTL` (no project; always;
  the failed logins are not counted in the report);
* logged LLM messages that waited :data:`~heliograph.store.held_messages.HOLD_SECONDS`
  for a span that never came (not counted either).

Why in small batches: SQLite has one writer. Each batch is one short write
task (a few hundred rows by primary key), and the job pauses between
batches, so digest's own writes interleave and ingest never notices.
An issue's counters (``times_seen``, tags) are kept: they say how often it
happened since it was first seen, not how many events are still stored.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from heliograph.store.base import Project
from heliograph.store.contract import LOGIN_FAILURE_TTL
from heliograph.store.held_messages import HOLD_SECONDS
from heliograph.store.people_store import purge_people
from heliograph.store.retention import ProjectPurge, PurgeReport, projects_to_purge
from heliograph.store.retention_tables import EVENT_KINDS, LLM_ROWS, ROLLUPS
from heliograph.store.sql_dialect import SQLITE

if TYPE_CHECKING:
    from heliograph.store.sqlite.store import SQLiteStore

logger = logging.getLogger(__name__)

BATCH_ROWS = 500
PAUSE_SECONDS = 0.01


class _Runner:
    """Runs one small write (or, dry, a count) at a time, pausing in between."""

    def __init__(self, store: SQLiteStore, dry_run: bool, pause: float, stop: threading.Event):
        self.store = store
        self.dry_run = dry_run
        self.pause = pause
        self.stop = stop

    def count(self, table: str, where: str, params: tuple[object, ...]) -> int:
        sql = f"SELECT COUNT(*) FROM {table} WHERE {where}"
        return int(self.store.db.read(lambda c: c.execute(sql, params).fetchone()[0]))

    def batches(self, table: str, where: str, params: tuple[object, ...]) -> int:
        """Delete matching rows, a batch per write, until none is left; return how many."""
        if self.dry_run:
            return self.count(table, where, params)
        total = 0
        while not self.stop.is_set():
            deleted = self.store.db.write(_delete_batch(table, where, params))
            total += deleted
            if deleted < BATCH_ROWS:
                break
            time.sleep(self.pause)
        return total

    def columns(self, table: str) -> set[str]:
        rows = self.store.db.read(lambda c: c.execute(f"PRAGMA table_info({table})").fetchall())
        return {row[1] for row in rows}


def _delete_batch(
    table: str, where: str, params: tuple[object, ...]
) -> Callable[[sqlite3.Connection], int]:
    """One write task: delete up to ``BATCH_ROWS`` matching rows, found by rowid."""

    def task(conn: sqlite3.Connection) -> int:
        ids = [
            row[0]
            for row in conn.execute(
                f"SELECT rowid FROM {table} WHERE {where} LIMIT {BATCH_ROWS}", params
            )
        ]
        if ids:
            conn.execute(f"DELETE FROM {table} WHERE rowid IN ({','.join('?' * len(ids))})", ids)
        return len(ids)

    return task


def _purge_project(run: _Runner, project: Project, now: float) -> ProjectPurge:
    cutoff = now - project.retention_days * 86400
    result = ProjectPurge(project, cutoff)
    pid = project.id
    for kind in EVENT_KINDS:
        result.events += run.batches(
            "events", "project_id = ? AND kind = ? AND timestamp < ?", (pid, kind, cutoff)
        )
    result.issue_hours = _purge_issue_hours(run, pid, cutoff)
    result.issues = run.batches(
        "issues",
        "project_id = ? AND last_seen < ? AND NOT EXISTS "
        "(SELECT 1 FROM events e WHERE e.issue_id = issues.id)",
        (pid, cutoff),
    )
    result.llm_rows = _purge_llm(run, pid, cutoff)
    result.people = _purge_people(run, pid, cutoff)
    result.replays = run.store.purge_replays(pid, cutoff, dry_run=run.dry_run, stop=run.stop)
    return result


def _purge_issue_hours(run: _Runner, project_id: int, cutoff: float) -> int:
    """Hourly counts before the cutoff, of the issues old enough to have any."""
    where = (
        "hour < ? AND issue_id IN (SELECT id FROM issues WHERE project_id = ? AND first_seen < ?)"
    )
    params = (int(cutoff // 3600), project_id, cutoff)
    if run.dry_run:
        return run.count("issue_hourly", where, params)

    def task(conn: sqlite3.Connection) -> int:
        rows = conn.execute(
            f"SELECT issue_id, hour FROM issue_hourly WHERE {where} LIMIT {BATCH_ROWS}", params
        ).fetchall()
        conn.executemany("DELETE FROM issue_hourly WHERE issue_id = ? AND hour = ?", rows)
        return len(rows)

    total = 0
    while not run.stop.is_set():
        deleted = run.store.db.write(task)
        total += deleted
        if deleted < BATCH_ROWS:
            break
        time.sleep(run.pause)
    return total


def _purge_people(run: _Runner, project_id: int, cutoff: float) -> int:
    """Persons last seen before the cutoff, with their distinct ids (``people_store``)."""
    if run.dry_run:
        return run.count("persons", "project_id = ? AND last_seen < ?", (project_id, cutoff))
    return purge_people(
        run.store.db.write,
        SQLITE,
        project_id,
        cutoff,
        batch_rows=BATCH_ROWS,
        pause=run.pause,
        stop=run.stop,
    )


def _purge_llm(run: _Runner, project_id: int, cutoff: float) -> int:
    """The LLM analytics tables, as far as they exist in this database."""
    total = 0
    for table, column in LLM_ROWS:
        if {"project_id", column} <= run.columns(table):
            total += run.batches(table, f"project_id = ? AND {column} < ?", (project_id, cutoff))
    for table, column, unit in ROLLUPS:
        if {"project_id", column} <= run.columns(table):
            total += _purge_rollup(run, table, column, project_id, int(cutoff // unit))
    return total


def _purge_rollup(run: _Runner, table: str, column: str, project_id: int, before: int) -> int:
    """WITHOUT ROWID rollups: up to ``BATCH_ROWS`` rows per write, found by primary key
    (a week per write could be millions of rows of a spammed ``web_top_hourly``)."""
    where = f"project_id = ? AND {column} < ?"
    if run.dry_run:
        return run.count(table, where, (project_id, before))
    keys = _primary_key(run, table) or ["rowid"]
    select = f"SELECT {', '.join(keys)} FROM {table} WHERE {where} LIMIT {BATCH_ROWS}"
    delete = f"DELETE FROM {table} WHERE {' AND '.join(f'{key} = ?' for key in keys)}"

    def task(conn: sqlite3.Connection) -> int:
        rows = conn.execute(select, (project_id, before)).fetchall()
        conn.executemany(delete, rows)
        return len(rows)

    total = 0
    while not run.stop.is_set():
        deleted = run.store.db.write(task)
        total += deleted
        if deleted < BATCH_ROWS:
            break
        time.sleep(run.pause)
    return total


def _primary_key(run: _Runner, table: str) -> list[str]:
    rows = run.store.db.read(lambda c: c.execute(f"PRAGMA table_info({table})").fetchall())
    return [row[1] for row in sorted(rows, key=lambda row: row[5]) if row[5] > 0]


def purge_expired(
    store: SQLiteStore,
    *,
    now: float | None = None,
    dry_run: bool = False,
    pause: float = PAUSE_SECONDS,
    stop: threading.Event | None = None,
) -> PurgeReport:
    """Apply every project's retention now; ``dry_run`` only counts."""
    now = time.time() if now is None else now
    run = _Runner(store, dry_run, pause, stop or threading.Event())
    report = PurgeReport(
        [_purge_project(run, project, now) for project in projects_to_purge(store)]
    )
    report.sourcemaps = store.purge_source_maps(now, dry_run=dry_run, stop=run.stop)
    if not dry_run:
        report.sessions = store.db.write(
            lambda c: (
                c.execute("DELETE FROM sessions WHERE expires_at < ?", (now,)).rowcount
                + c.execute(
                    "DELETE FROM login_links WHERE expires_at < ? OR used_at IS NOT NULL", (now,)
                ).rowcount
            )
        )
        run.batches("login_failures", "at < ?", (now - LOGIN_FAILURE_TTL,))
        # Logged LLM messages whose span never came (store/held_messages.py).
        run.batches("llm_held_messages", "received_at < ?", (now - HOLD_SECONDS,))
    return report
