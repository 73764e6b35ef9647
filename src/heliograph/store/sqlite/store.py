"""The embedded backend: the whole :class:`~heliograph.store.contract.Store` on one SQLite file.

All writes go through the database's single writer thread (see
``database.py``); digest hands it one task per batch, so a batch of events,
their issues, tags and counters commit together or not at all. Re-running a
batch after a crash is harmless: an event id already stored is skipped before
any counter moves.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from heliograph.lifecycle import on_new_event
from heliograph.model import Event
from heliograph.store.alert_store import AlertPass, AlertStoreMixin, batch_projects
from heliograph.store.base import (
    DigestBatch,
    GroupedEvent,
    Issue,
    Outcome,
    RecordResult,
    RejectedEvent,
)
from heliograph.store.blobs import BlobStore, FileBlobStore
from heliograph.store.dataset_store import DatasetStoreMixin
from heliograph.store.disk_use import DiskUseMixin
from heliograph.store.evaluator_store import EvaluatorStoreMixin
from heliograph.store.event_explorer import EventExplorerMixin
from heliograph.store.fix_cache import SqlFixCache
from heliograph.store.flag_store import FlagStoreMixin, new_events, record_flag_calls
from heliograph.store.health import DEFAULT_PING_TIMEOUT, SchemaState
from heliograph.store.held_messages import join_messages
from heliograph.store.issue_activity import LOG_REGRESSION, IssueActivityMixin
from heliograph.store.issue_reads import IssueReadsMixin
from heliograph.store.issue_rows import (
    EVENT_ROW_COLUMNS,
    OutcomeTally,
    describe_failure,
    event_row,
    event_tags,
    user_alias_keys,
    user_key,
)
from heliograph.store.llm_breakdown import LlmBreakdownMixin
from heliograph.store.people_store import PeopleMixin, record_people
from heliograph.store.prompt_store import PromptStoreMixin
from heliograph.store.replay_store import ReplayStoreMixin, record_replays
from heliograph.store.retention import PurgeReport
from heliograph.store.score_store import ScoreStoreMixin, record_scores
from heliograph.store.sourcemap_store import SourceMapStoreMixin
from heliograph.store.sql_dialect import SQLITE
from heliograph.store.sqlite.accounts import AccountsMixin
from heliograph.store.sqlite.database import Database, is_unavailable
from heliograph.store.sqlite.llm import LlmStoreMixin
from heliograph.store.sqlite.llm_write import record_llm_events
from heliograph.store.sqlite.retention import purge_expired
from heliograph.store.sqlite.schema import MIGRATIONS
from heliograph.store.web_rollups import WebRollupReadsMixin, record_web_analytics


class SQLiteStore(
    AccountsMixin,
    FlagStoreMixin[Database],
    PromptStoreMixin[Database],
    DatasetStoreMixin[Database],
    LlmStoreMixin,
    IssueReadsMixin[Database],
    IssueActivityMixin[Database],
    ReplayStoreMixin[Database],
    AlertStoreMixin[Database],
    WebRollupReadsMixin[Database],
    EventExplorerMixin[Database],
    LlmBreakdownMixin[Database],
    PeopleMixin[Database],
    SourceMapStoreMixin[Database],
    DiskUseMixin,
    ScoreStoreMixin[Database],
    EvaluatorStoreMixin[Database],
):
    """Both stores on one SQLite database (the embedded default).

    Replay blobs go to ``blobs``; by default a ``blobs`` directory beside the database.
    """

    dialect = SQLITE

    def __init__(self, path: Path, blobs: BlobStore | None = None) -> None:
        self.db = Database(path, migrations=MIGRATIONS)
        self.blobs = blobs or FileBlobStore(path.parent / "blobs")
        self._fix_cache = SqlFixCache(self.db, self.dialect)

    def close(self) -> None:
        self.db.close()

    def fix_cache(self) -> SqlFixCache:
        return self._fix_cache

    def ping(self, timeout: float = DEFAULT_PING_TIMEOUT) -> list[SchemaState]:
        applied = self.db.schema_version(timeout)
        return [SchemaState("sqlite", applied, self.db.migration_count)]

    def purge_expired(
        self,
        *,
        now: float | None = None,
        dry_run: bool = False,
        stop: threading.Event | None = None,
    ) -> PurgeReport:
        return purge_expired(self, now=now, dry_run=dry_run, stop=stop)

    # -- digest ----------------------------------------------------------

    def record(self, batch: DigestBatch) -> RecordResult:
        """Commit one digest batch in one transaction."""
        return self.submit_record(batch).result()

    def submit_record(self, batch: DigestBatch) -> Future[RecordResult]:
        """Hand a digest batch to the writer; the future resolves once it is committed.

        Digest prepares the next batch meanwhile: SQLite releases the GIL while
        it writes, so the two overlap. Each event is written inside its own
        savepoint: one that cannot be stored is rolled back alone, reported in
        the result and counted as ``invalid``; its neighbours commit.
        """

        def write(conn: sqlite3.Connection) -> RecordResult:
            outcomes = OutcomeTally()
            rejected: list[RejectedEvent] = []
            alerts = AlertPass(conn, SQLITE, batch_projects(batch), time.time())
            alerts.before(batch.errors)
            errors = [(grouped, grouped.event) for grouped in batch.errors]
            _write_events(
                conn,
                lambda c, grouped: _record_error(c, grouped, batch.document(grouped.event)),
                errors,
                outcomes,
                rejected,
            )
            analytics = [(event, event) for event in batch.analytics]
            _write_events(
                conn,
                lambda c, event: _insert_event(c, event, None, batch.document(event)),
                analytics,
                outcomes,
                rejected,
            )
            record_llm_events(conn, batch.analytics)
            record_scores(conn, SQLITE, batch.scores, batch.analytics, self._generation_contexts)
            held = join_messages(conn, SQLITE, batch)
            record_flag_calls(conn, SQLITE, new_events(batch.analytics, outcomes.new_keys))
            _record_web(conn, new_events(batch.analytics, outcomes.new_keys))
            replayed = record_replays(conn, SQLITE, batch.replays, batch.replay_errors, "events")
            alerts.after_errors(batch.errors, outcomes.new_keys, "events")
            alerts.after_llm(new_events(batch.analytics, outcomes.new_keys))
            _add_outcomes(conn, [*batch.outcomes, *outcomes.as_outcomes(), *replayed, *held])
            return RecordResult(tuple(rejected))

        return self.db.submit(write)

    def add_outcomes(self, outcomes: Sequence[Outcome]) -> None:
        self.db.write(lambda conn: _add_outcomes(conn, outcomes))

    def last_event_at(self, project_id: int) -> float | None:
        return self._last_event_at(project_id, "events")

    # -- issues ----------------------------------------------------------

    def set_issue_status(
        self, issue_id: int, status: str, *, in_next_release: bool = False
    ) -> Issue | None:
        def write(conn: sqlite3.Connection) -> None:
            if status == "resolved":
                release = None
                if in_next_release:
                    row = conn.execute(
                        "SELECT last_release FROM issues WHERE id = ?", (issue_id,)
                    ).fetchone()
                    release = row[0] if row else None
                conn.execute(
                    "UPDATE issues SET status = 'resolved', substatus = ?, "
                    "resolved_in_release = ?, resolved_at = ? WHERE id = ?",
                    (
                        "in_next_release" if in_next_release else "resolved",
                        release,
                        time.time(),
                        issue_id,
                    ),
                )
            else:
                substatus = "ongoing" if status == "unresolved" else "archived"
                conn.execute(
                    "UPDATE issues SET status = ?, substatus = ?, resolved_in_release = NULL, "
                    "resolved_at = NULL WHERE id = ?",
                    (status, substatus, issue_id),
                )

        self.db.write(write)
        return self.get_issue(issue_id)


def _record_web(conn: sqlite3.Connection, events: Sequence[Event]) -> None:
    """Web analytics rollups and person profiles of the batch's new analytics events."""
    record_web_analytics(conn, SQLITE, events)
    record_people(conn, SQLITE, events)


def _write_events(
    conn: sqlite3.Connection,
    write: Callable[[sqlite3.Connection, Any], bool],
    items: list[tuple[Any, Event]],
    outcomes: OutcomeTally,
    rejected: list[RejectedEvent],
) -> None:
    """Write events under one savepoint; if any fails, again one savepoint each.

    A savepoint per event costs ~13% of a batch of LLM events, and events
    almost never fail: so only a failed attempt pays for finding the culprit.
    """
    written = OutcomeTally()
    conn.execute("SAVEPOINT events")
    try:
        for item, event in items:
            if write(conn, item):
                written.add(event, "accepted")
    except Exception as exc:
        if is_unavailable(exc):
            raise  # locked, full, I/O: the whole batch waits and retries
        conn.execute("ROLLBACK TO events")
        conn.execute("RELEASE events")
        for item, event in items:
            _isolated(conn, write, item, event, outcomes, rejected)
        return
    conn.execute("RELEASE events")
    outcomes.merge(written)


def _isolated(
    conn: sqlite3.Connection,
    write: Callable[[sqlite3.Connection, Any], bool],
    item: Any,
    event: Event,
    outcomes: OutcomeTally,
    rejected: list[RejectedEvent],
) -> None:
    """Write one event inside a savepoint; a failure undoes that event alone."""
    conn.execute("SAVEPOINT event")
    try:
        added = write(conn, item)
    except Exception as exc:
        if is_unavailable(exc):
            raise  # locked, full, I/O: the whole batch waits and retries
        conn.execute("ROLLBACK TO event")
        conn.execute("RELEASE event")
        rejected.append(RejectedEvent(event.project_id, event.event_id, describe_failure(exc)))
        outcomes.add(event, "invalid", "internal")
        return
    conn.execute("RELEASE event")
    if added:
        outcomes.add(event, "accepted")


def _insert_event(
    conn: sqlite3.Connection, event: Event, issue_id: int | None, document: bytes
) -> bool:
    """Insert an event (``document``: its JSON); False when its id was already stored."""
    cursor = conn.execute(
        f"INSERT OR IGNORE INTO events ({EVENT_ROW_COLUMNS}) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        event_row(event, issue_id, document),
    )
    return cursor.rowcount == 1


def _record_error(conn: sqlite3.Connection, grouped: GroupedEvent, document: bytes) -> bool:
    """Store an error and count it into its issue; False when it was already stored."""
    event = grouped.event
    exists = conn.execute(
        "SELECT 1 FROM events WHERE project_id = ? AND event_id = ?",
        (event.project_id, event.event_id),
    ).fetchone()
    if exists:
        return False
    issue_id = _upsert_issue(conn, grouped)
    _insert_event(conn, event, issue_id, document)
    _count_tags(conn, issue_id, event)
    hour = int(event.timestamp // 3600)
    conn.execute(
        "INSERT INTO issue_hourly (issue_id, hour, count) VALUES (?, ?, 1) "
        "ON CONFLICT (issue_id, hour) DO UPDATE SET count = count + 1",
        (issue_id, hour),
    )
    user = user_key(event)
    if user:
        added = conn.execute(
            "INSERT OR IGNORE INTO issue_users (issue_id, user_key) VALUES (?, ?)",
            (issue_id, user),
        ).rowcount
        if added:
            conn.execute("UPDATE issues SET users_seen = users_seen + 1 WHERE id = ?", (issue_id,))
        conn.executemany(
            "INSERT OR IGNORE INTO issue_users (issue_id, user_key) VALUES (?, ?)",
            [(issue_id, alias) for alias in user_alias_keys(event)],
        )
    return True


def _upsert_issue(conn: sqlite3.Connection, grouped: GroupedEvent) -> int:
    event = grouped.event
    row = conn.execute(
        "SELECT id, status, substatus, resolved_in_release FROM issues "
        "WHERE project_id = ? AND group_hash = ?",
        (event.project_id, grouped.group_hash),
    ).fetchone()
    if row is None:
        cursor = conn.execute(
            "INSERT INTO issues (project_id, group_hash, grouping_version, title, culprit, level, "
            "platform, first_seen, last_seen, times_seen, first_release, last_release, "
            "first_release_at, last_release_at, short_number) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)",
            (
                event.project_id,
                grouped.group_hash,
                grouped.grouping_version,
                grouped.title,
                grouped.culprit,
                event.level,
                event.platform,
                event.timestamp,
                event.timestamp,
                event.release,
                event.release,
                _release_at(event),
                _release_at(event),
                _next_issue_number(conn, event.project_id),
            ),
        )
        return cursor.lastrowid or 0
    issue_id, status, substatus, resolved_in_release = row
    change = on_new_event(status, substatus, resolved_in_release, event.release)
    # The newest event names the issue, as users expect after a message changes.
    conn.execute(
        "UPDATE issues SET times_seen = times_seen + 1, "
        "last_seen = MAX(last_seen, ?), first_seen = MIN(first_seen, ?), "
        "title = CASE WHEN ? >= last_seen THEN ? ELSE title END, "
        "culprit = CASE WHEN ? >= last_seen THEN ? ELSE culprit END, "
        "level = CASE WHEN ? >= last_seen THEN ? ELSE level END, "
        # Releases follow event time, not arrival: the earliest event's and the latest's.
        f"{_LATER_RELEASE}, {_EARLIER_RELEASE}, "
        "status = ?, substatus = ?, resolved_in_release = ?, "
        "resolved_at = CASE WHEN ? THEN NULL ELSE resolved_at END "
        "WHERE id = ?",
        (
            event.timestamp,
            event.timestamp,
            event.timestamp,
            grouped.title,
            event.timestamp,
            grouped.culprit,
            event.timestamp,
            event.level,
            *_release_params(event),
            change.status,
            change.substatus,
            change.resolved_in_release,
            change.regressed,
            issue_id,
        ),
    )
    if change.regressed:
        conn.execute(LOG_REGRESSION, (issue_id, time.time()))
    return int(issue_id)


# The release of the latest event that has one, and of the earliest: the time of
# the event that set each is kept beside it, so arrival order does not matter.
# (Every SET expression reads the row as it was before the update.)
_LATER_RELEASE = (
    "last_release = CASE WHEN ? IS NOT NULL AND (last_release_at IS NULL "
    "OR ? >= last_release_at) THEN ? ELSE last_release END, "
    "last_release_at = CASE WHEN ? IS NOT NULL AND (last_release_at IS NULL "
    "OR ? >= last_release_at) THEN ? ELSE last_release_at END"
)
_EARLIER_RELEASE = (
    "first_release = CASE WHEN ? IS NOT NULL AND (first_release_at IS NULL "
    "OR ? < first_release_at) THEN ? ELSE first_release END, "
    "first_release_at = CASE WHEN ? IS NOT NULL AND (first_release_at IS NULL "
    "OR ? < first_release_at) THEN ? ELSE first_release_at END"
)


def _release_params(event: Event) -> tuple[object, ...]:
    """The parameters of ``_LATER_RELEASE`` then ``_EARLIER_RELEASE`` for ``event``."""
    at, release = _release_at(event), event.release
    return (at, at, release, at, at, at) * 2


def _release_at(event: Event) -> float | None:
    return event.timestamp if event.release is not None else None


def _next_issue_number(conn: sqlite3.Connection, project_id: int) -> int:
    """The project's next issue number (PROJ-12): one writer at a time, so no two share one."""
    row = conn.execute(
        "INSERT INTO issue_counters (project_id, last_number) VALUES (?, 1) "
        "ON CONFLICT (project_id) DO UPDATE SET last_number = last_number + 1 "
        "RETURNING last_number",
        (project_id,),
    ).fetchone()
    return int(row[0])


def _count_tags(conn: sqlite3.Connection, issue_id: int, event: Event) -> None:
    conn.executemany(
        "INSERT INTO issue_tags (issue_id, key, value, times_seen, first_seen, last_seen) "
        "VALUES (?, ?, ?, 1, ?, ?) ON CONFLICT (issue_id, key, value) DO UPDATE SET "
        "times_seen = times_seen + 1, first_seen = MIN(first_seen, excluded.first_seen), "
        "last_seen = MAX(last_seen, excluded.last_seen)",
        [(issue_id, k, v, event.timestamp, event.timestamp) for k, v in event_tags(event)],
    )


def _add_outcomes(conn: sqlite3.Connection, outcomes: Sequence[Outcome]) -> None:
    today = int(time.time() // 86400)
    conn.executemany(
        "INSERT INTO outcomes (project_id, day, category, outcome, reason, quantity) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (project_id, day, category, outcome, reason) "
        "DO UPDATE SET quantity = quantity + excluded.quantity",
        [
            (o.project_id, o.day or today, o.category, o.outcome, o.reason, o.quantity)
            for o in outcomes
        ],
    )
