"""The whole :class:`~heliograph.store.contract.Store` on PostgreSQL.

The same rules as the SQLite store (``store/sqlite/store.py``; what they
share is in :mod:`heliograph.store.issue_rows`): a digest batch commits in
one transaction, each event under a savepoint only when the batch's first
attempt failed, and an event id already stored is skipped before any counter
moves, so re-running a batch is harmless.

Unlike SQLite, N digest processes on N nodes write at once. A batch's
errors are counted into their issues by one ``INSERT ... ON CONFLICT DO
UPDATE`` whose rows go in (project, group hash) order: it creates or locks
each issue before its counters move, so counts stay exact and a group hash
never makes two issues, and two batches that share issues lock them in the
same order, so they wait for each other instead of deadlocking. Everything
else a batch counts (tags, hourly counts, users) hangs off issues it holds.

A batch is written set-based, in a fixed number of round trips whatever its
size (:func:`_write_batch`): what is already stored is found in one query,
counts are aggregated in Python and upserted one statement per table, and the
events go in as one multi-row insert, the rest pipelined. Should that fail
for a reason other than the database, it is undone (a savepoint) and the
batch is written event by event, pipelined (an error costs one round trip,
two for a new issue), which pins the failure on its event. An event that
another transaction stored meanwhile counts as a replay: the set-based
attempt starts again, the event-by-event one undoes that event's savepoint.

PostgreSQL text cannot hold NUL characters, which SQLite stores: the
database's connections write them as U+FFFD (``database.py``), and the
event's document keeps them, so such an event is stored rather than rejected.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, ClassVar

from psycopg import Pipeline

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
from heliograph.store.blobs import BlobStore, UnconfiguredBlobStore
from heliograph.store.dataset_store import DatasetStoreMixin
from heliograph.store.disk_use import DiskUseMixin
from heliograph.store.evaluator_store import EvaluatorStoreMixin
from heliograph.store.event_explorer import EventExplorerMixin
from heliograph.store.fix_cache import SqlFixCache
from heliograph.store.flag_store import FlagStoreMixin, new_events, record_flag_calls
from heliograph.store.health import DEFAULT_PING_TIMEOUT, SchemaState
from heliograph.store.held_messages import generation_keys, join_messages
from heliograph.store.issue_activity import LOG_REGRESSION, IssueActivityMixin
from heliograph.store.issue_reads import IssueReadsMixin
from heliograph.store.issue_rows import (
    ISSUE_COLUMNS,
    OutcomeTally,
    describe_failure,
    event_tags,
    issue_from_row,
    user_alias_keys,
    user_key,
)
from heliograph.store.llm_breakdown import LlmBreakdownMixin
from heliograph.store.people_store import PeopleMixin, record_people
from heliograph.store.postgresql.accounts import AccountsMixin
from heliograph.store.postgresql.database import Connection, PgDatabase, PgRow, is_unavailable
from heliograph.store.postgresql.event_rows import WHOLE_EVENTS, EventRows
from heliograph.store.postgresql.llm import LlmStoreMixin
from heliograph.store.postgresql.llm_write import record_llm_events
from heliograph.store.postgresql.message_locks import lock_generations
from heliograph.store.postgresql.people_lock import people_lock
from heliograph.store.postgresql.retention import purge_expired
from heliograph.store.postgresql.schema import MIGRATIONS
from heliograph.store.prompt_store import PromptStoreMixin
from heliograph.store.replay_store import ReplayStoreMixin, record_replays
from heliograph.store.retention import PurgeReport
from heliograph.store.score_store import ScoreStoreMixin, record_scores
from heliograph.store.sourcemap_store import SourceMapStoreMixin
from heliograph.store.sql_dialect import POSTGRESQL
from heliograph.store.web_rollups import WebRollupReadsMixin, record_web_analytics


class PostgresStore(
    AccountsMixin,
    FlagStoreMixin[PgDatabase],
    PromptStoreMixin[PgDatabase],
    DatasetStoreMixin[PgDatabase],
    LlmStoreMixin,
    IssueReadsMixin[PgDatabase],
    IssueActivityMixin[PgDatabase],
    ReplayStoreMixin[PgDatabase],
    AlertStoreMixin[PgDatabase],
    WebRollupReadsMixin[PgDatabase],
    EventExplorerMixin[PgDatabase],
    LlmBreakdownMixin[PgDatabase],
    PeopleMixin[PgDatabase],
    SourceMapStoreMixin[PgDatabase],
    DiskUseMixin,
    ScoreStoreMixin[PgDatabase],
    EvaluatorStoreMixin[PgDatabase],
):
    """The store on a PostgreSQL database, which N nodes may share.

    Replay blobs go to ``blobs``, which every node must share (a shared
    directory, or an object store): see ``docs/replay.md``.
    """

    dialect = POSTGRESQL
    # Where a batch's events go: whole, here (a subclass keeps only their keys).
    event_rows: ClassVar[EventRows] = WHOLE_EVENTS

    def __init__(self, url: str, blobs: BlobStore | None = None) -> None:
        self.db = PgDatabase(url, migrations=MIGRATIONS)
        self.blobs = blobs or UnconfiguredBlobStore()
        self._fix_cache = SqlFixCache(self.db, self.dialect)

    def close(self) -> None:
        self.db.close()

    def fix_cache(self) -> SqlFixCache:
        return self._fix_cache

    def ping(self, timeout: float = DEFAULT_PING_TIMEOUT) -> list[SchemaState]:
        applied = self.db.schema_version(timeout)
        return [SchemaState("postgresql", applied, self.db.migration_count)]

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

        The batch is written set-based (a fixed number of round trips, see
        :func:`_write_set_based`); should that fail for a reason other than
        the database, it is undone and written event by event, which rejects
        the event at fault alone. Issues are locked in (project, group hash)
        order either way (see the module's docstring).
        """

        return self.db.submit(lambda conn: self._digest_transaction(conn, batch)[0])

    def _digest_transaction(
        self, conn: Connection, batch: DigestBatch
    ) -> tuple[RecordResult, OutcomeTally]:
        """Digest's transaction for ``batch``; also returns what it counted."""
        rows = self.event_rows
        outcomes = OutcomeTally()
        rejected: list[RejectedEvent] = []
        # First of all: the generations whose logged messages may join them here.
        lock_generations(
            conn,
            [
                *generation_keys(batch.analytics),
                *((group.project_id, group.event_id) for group in batch.llm_messages),
            ],
        )
        alerts = AlertPass(conn, POSTGRESQL, batch_projects(batch), time.time())
        alerts.before(batch.errors)
        if not _write_set_based(conn, batch, outcomes, rows):
            _write_per_event(conn, batch, outcomes, rejected, rows)
        _number_new_issues(conn, batch)
        record_llm_events(conn, batch.analytics, rows, outcomes.new_keys)
        record_scores(conn, POSTGRESQL, batch.scores, batch.analytics, self._generation_contexts)
        held = self._join_messages(conn, batch)
        record_flag_calls(conn, POSTGRESQL, new_events(batch.analytics, outcomes.new_keys))
        _record_web(conn, new_events(batch.analytics, outcomes.new_keys))
        replayed = record_replays(conn, POSTGRESQL, batch.replays, batch.replay_errors, rows.table)
        alerts.after_errors(batch.errors, outcomes.new_keys, rows.table)
        alerts.after_llm(new_events(batch.analytics, outcomes.new_keys))
        _add_outcomes(conn, [*batch.outcomes, *outcomes.as_outcomes(), *replayed, *held])
        return RecordResult(tuple(rejected)), outcomes

    def _join_messages(self, conn: Connection, batch: DigestBatch) -> list[Outcome]:
        """Join logged messages and the batch's or stored generations; hold the rest."""
        return join_messages(conn, POSTGRESQL, batch)

    def add_outcomes(self, outcomes: Sequence[Outcome]) -> None:
        self.db.write(lambda conn: _add_outcomes(conn, outcomes))

    def last_event_at(self, project_id: int) -> float | None:
        return self._last_event_at(project_id, self.event_rows.table)

    # -- issues ----------------------------------------------------------

    def set_issue_status(
        self, issue_id: int, status: str, *, in_next_release: bool = False
    ) -> Issue | None:
        """Set the status in one statement, so an event counted meanwhile is not undone."""

        def write(conn: Connection) -> PgRow | None:
            if status == "resolved":
                return conn.execute(
                    "UPDATE issues SET status = 'resolved', substatus = %s, "
                    "resolved_in_release = CASE WHEN %s THEN last_release END, "
                    f"resolved_at = %s WHERE id = %s RETURNING {ISSUE_COLUMNS}",
                    (
                        "in_next_release" if in_next_release else "resolved",
                        in_next_release,
                        time.time(),
                        issue_id,
                    ),
                ).fetchone()
            substatus = "ongoing" if status == "unresolved" else "archived"
            return conn.execute(
                "UPDATE issues SET status = %s, substatus = %s, resolved_in_release = NULL, "
                f"resolved_at = NULL WHERE id = %s RETURNING {ISSUE_COLUMNS}",
                (status, substatus, issue_id),
            ).fetchone()

        row = self.db.write(write)
        return issue_from_row(row) if row else None


# -- web analytics and people ---------------------------------------------------


def _record_web(conn: Connection, events: Sequence[Event]) -> None:
    """Web analytics rollups and person profiles of the batch's new analytics events."""
    record_web_analytics(conn, POSTGRESQL, events)
    record_people(conn, POSTGRESQL, events, people_lock, for_update=" FOR UPDATE")


# -- the set-based write: the normal case --------------------------------------

# Tries of the set-based write when another writer stores some of the batch's
# errors between our look and our insert (each try undoes itself); then the
# batch is written event by event, which settles each such event alone.
_SET_ATTEMPTS = 3

EventKey = tuple[int, str]
IssueKey = tuple[int, str]


def _stored_text(text: str) -> str:
    """``text`` as PostgreSQL stores it (NULs as U+FFFD, ``database.py``): keys match rows."""
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def _event_key(event: Event) -> EventKey:
    return event.project_id, _stored_text(event.event_id)


def _issue_key(grouped: GroupedEvent) -> IssueKey:
    return grouped.event.project_id, _stored_text(grouped.group_hash)


def _write_set_based(
    conn: Connection, batch: DigestBatch, outcomes: OutcomeTally, rows: EventRows
) -> bool:
    """Write the batch's errors and analytics events set-based, under one savepoint.

    Returns False when that failed for a reason other than the database (an
    event that cannot be stored, say): the savepoint is undone, nothing of it
    stays, and the caller writes the batch event by event. A failure of the
    database itself propagates: the whole batch waits and is retried.
    """
    if not batch.errors and not batch.analytics:
        return True
    for _ in range(_SET_ATTEMPTS):
        written = OutcomeTally()
        try:
            with conn.transaction():
                _write_batch(conn, batch, written, rows)
        except _StoredMeanwhile:
            continue  # counted as new, stored by another writer meanwhile: look again
        except Exception as exc:
            if is_unavailable(exc):
                raise  # unreachable, deadlock, shutdown: the whole batch waits and retries
            return False
        outcomes.merge(written)
        return True
    return False


def _write_batch(
    conn: Connection, batch: DigestBatch, written: OutcomeTally, rows: EventRows
) -> None:
    """The set-based write: three round trips for the errors, however many, none more for the rest.

    1. one query finds which of the batch's errors are already stored
       (replays move no counter; an event twice in the batch counts once);
    2. one upsert counts the new ones into their issues, all of them, locked
       in (project, group hash) order; what the regression rules change
       follows from each issue's status as that statement returns it;
    3. pipelined: the status changes, the events (one multi-row insert for
       errors, one for analytics), and the tags, hourly counts and users as
       aggregated upserts.

    An error counted in step 2 that another writer stored before step 3
    raises :class:`_StoredMeanwhile`: the caller undoes the attempt and
    starts again, when step 1 sees it.
    """
    errors = _new_errors(conn, _first_of_each(batch.errors, lambda g: g.event), rows)
    analytics = _first_of_each(batch.analytics, lambda event: event)
    issue_ids, status_changes = _count_into_issues(conn, errors)
    with conn.pipeline():
        if status_changes:
            conn.execute(_UPDATE_STATUSES, _columns(status_changes, 5))
            regressed = [change[0] for change in status_changes if change[4]]
            if regressed:
                conn.execute(_LOG_REGRESSIONS, (time.time(), regressed))
        stored_errors = _insert_events(
            conn, [(g.event, issue_ids[_issue_key(g)]) for g in errors], batch, rows
        )
        stored_analytics = _insert_events(conn, [(event, None) for event in analytics], batch, rows)
        _count_details(conn, errors, issue_ids)
    inserted = {(row[0], row[1]) for row in stored_errors.fetchall()} if stored_errors else set()
    if len(inserted) < len(errors):
        raise _StoredMeanwhile("errors of this batch were stored meanwhile")
    for grouped in errors:
        written.add(grouped.event, "accepted")
    if stored_analytics:
        new = {(row[0], row[1]) for row in stored_analytics.fetchall()}
        for event in analytics:
            if _event_key(event) in new:
                written.add(event, "accepted")


def _first_of_each(items: Sequence[Any], event_of: Callable[[Any], Event]) -> list[Any]:
    """``items`` in order, each event id once (its first occurrence)."""
    seen: set[EventKey] = set()
    first: list[Any] = []
    for item in items:
        key = _event_key(event_of(item))
        if key not in seen:
            seen.add(key)
            first.append(item)
    return first


def _new_errors(
    conn: Connection, errors: list[GroupedEvent], rows: EventRows
) -> list[GroupedEvent]:
    """The errors not stored yet, in lock order: (project, group hash), then batch order."""
    if not errors:
        return []
    keys = [_event_key(g.event) for g in errors]
    stored = {(row[0], row[1]) for row in conn.execute(rows.stored(), _columns(keys, 2)).fetchall()}
    new = [g for g, key in zip(errors, keys, strict=True) if key not in stored]
    return sorted(new, key=_issue_key)


_UPSERT_ISSUES = """
INSERT INTO issues (project_id, group_hash, grouping_version, title, culprit, level, platform,
    first_seen, last_seen, times_seen, first_release, last_release, first_release_at,
    last_release_at)
SELECT project_id, group_hash, grouping_version, title, culprit, level, platform,
    first_seen, last_seen, times_seen, first_release, last_release, first_release_at,
    last_release_at
FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[],
    %s::text[], %s::float8[], %s::float8[], %s::bigint[], %s::text[], %s::text[],
    %s::float8[], %s::float8[])
    WITH ORDINALITY AS v(project_id, group_hash, grouping_version, title, culprit, level,
    platform, first_seen, last_seen, times_seen, first_release, last_release,
    first_release_at, last_release_at, n)
ORDER BY n
ON CONFLICT (project_id, group_hash) DO UPDATE SET
    times_seen = issues.times_seen + EXCLUDED.times_seen,
    last_seen = GREATEST(issues.last_seen, EXCLUDED.last_seen),
    first_seen = LEAST(issues.first_seen, EXCLUDED.first_seen),
    title = CASE WHEN EXCLUDED.last_seen >= issues.last_seen
        THEN EXCLUDED.title ELSE issues.title END,
    culprit = CASE WHEN EXCLUDED.last_seen >= issues.last_seen
        THEN EXCLUDED.culprit ELSE issues.culprit END,
    level = CASE WHEN EXCLUDED.last_seen >= issues.last_seen
        THEN EXCLUDED.level ELSE issues.level END,
    last_release = CASE WHEN EXCLUDED.last_release_at IS NOT NULL AND (issues.last_release_at
        IS NULL OR EXCLUDED.last_release_at >= issues.last_release_at)
        THEN EXCLUDED.last_release ELSE issues.last_release END,
    last_release_at = CASE WHEN EXCLUDED.last_release_at IS NOT NULL AND (issues.last_release_at
        IS NULL OR EXCLUDED.last_release_at >= issues.last_release_at)
        THEN EXCLUDED.last_release_at ELSE issues.last_release_at END,
    first_release = CASE WHEN EXCLUDED.first_release_at IS NOT NULL AND (issues.first_release_at
        IS NULL OR EXCLUDED.first_release_at < issues.first_release_at)
        THEN EXCLUDED.first_release ELSE issues.first_release END,
    first_release_at = CASE WHEN EXCLUDED.first_release_at IS NOT NULL AND (issues.first_release_at
        IS NULL OR EXCLUDED.first_release_at < issues.first_release_at)
        THEN EXCLUDED.first_release_at ELSE issues.first_release_at END
RETURNING id, project_id, group_hash, status, substatus, resolved_in_release,
    xmax = 0 AS created
"""
_UPDATE_STATUSES = """
UPDATE issues SET status = v.status, substatus = v.substatus,
    resolved_in_release = v.resolved_in_release,
    resolved_at = CASE WHEN v.regressed THEN NULL ELSE issues.resolved_at END
FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::boolean[])
    AS v(id, status, substatus, resolved_in_release, regressed)
WHERE issues.id = v.id
"""

# Digest's activity entries for the issues a batch regressed (issue_activity.LOG_REGRESSION).
_LOG_REGRESSIONS = """
INSERT INTO issue_activity (issue_id, kind, user_id, data, created_at)
SELECT id, 'set_regression', NULL, '{}', %s FROM unnest(%s::bigint[]) AS v(id)
"""


def _count_into_issues(
    conn: Connection, errors: list[GroupedEvent]
) -> tuple[dict[IssueKey, int], list[tuple[int, str, str, str | None, bool]]]:
    """Count ``errors`` (new, in lock order) into their issues with one upsert.

    Returns each issue's id and the status changes the regression rules
    make, not yet written: (id, status, substatus, resolved_in_release,
    regressed). The upsert leaves the status alone, so the status it returns
    is the one before this batch, on a row it holds locked; the rules then
    see the issue's events one by one in batch order, as event-by-event
    writing would (a new issue's first event creates it, ``new``).

    Per issue, the counts add up, first/last seen widen, the newest event
    names the issue (the last of equally new ones, as ``>=`` event by event
    does), and so does the release: the last release is that of the newest
    event with one, the first that of the oldest (the first of equally old
    ones), whatever order they arrive in.
    """
    groups: dict[IssueKey, list[GroupedEvent]] = {}
    for grouped in errors:
        groups.setdefault(_issue_key(grouped), []).append(grouped)
    if not groups:
        return {}, []
    rows = []
    for (project_id, group_hash), members in groups.items():
        first = members[0]
        newest = first
        for grouped in members[1:]:
            if grouped.event.timestamp >= newest.event.timestamp:
                newest = grouped
        released = [g.event for g in members if g.event.release is not None]
        earliest = min(released, key=lambda e: e.timestamp, default=None)
        latest = None
        for event in released:
            if latest is None or event.timestamp >= latest.timestamp:
                latest = event
        rows.append(
            (
                project_id,
                group_hash,
                first.grouping_version,
                newest.title,
                newest.culprit,
                newest.event.level,
                first.event.platform,
                min(g.event.timestamp for g in members),
                newest.event.timestamp,
                len(members),
                earliest.release if earliest else None,
                latest.release if latest else None,
                earliest.timestamp if earliest else None,
                latest.timestamp if latest else None,
            )
        )
    issue_ids: dict[IssueKey, int] = {}
    changes: list[tuple[int, str, str, str | None, bool]] = []
    for row in conn.execute(_UPSERT_ISSUES, _columns(rows, 14)).fetchall():
        issue_id, project_id, group_hash, status, substatus, resolved_in_release, created = row
        key = (project_id, group_hash)
        issue_ids[key] = issue_id
        before = (status, substatus, resolved_in_release)
        regressed = False
        members = groups[key]
        for grouped in members[1:] if created else members:
            change = on_new_event(status, substatus, resolved_in_release, grouped.event.release)
            status, substatus = change.status, change.substatus
            resolved_in_release = change.resolved_in_release
            regressed = regressed or change.regressed
        if (status, substatus, resolved_in_release) != before:
            changes.append((issue_id, status, substatus, resolved_in_release, regressed))
    if len(issue_ids) != len(groups):
        raise RuntimeError("the issue upsert returned other issues than it was given")
    return issue_ids, changes


def _insert_events(
    conn: Connection, events: list[tuple[Event, int | None]], batch: DigestBatch, rows: EventRows
) -> Any:
    """Queue one insert of ``events`` in that order; its cursor returns the new ones' keys."""
    if not events:
        return None
    values = [rows.row(event, issue_id, batch.document(event)) for event, issue_id in events]
    return conn.execute(rows.insert_many(), _columns(values, rows.width))


_UPSERT_TAGS = """
INSERT INTO issue_tags (issue_id, key, value, times_seen, first_seen, last_seen)
SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::bigint[], %s::float8[],
    %s::float8[])
ON CONFLICT (issue_id, key, value) DO UPDATE SET
    times_seen = issue_tags.times_seen + EXCLUDED.times_seen,
    first_seen = LEAST(issue_tags.first_seen, EXCLUDED.first_seen),
    last_seen = GREATEST(issue_tags.last_seen, EXCLUDED.last_seen)
"""
_UPSERT_HOURLY = """
INSERT INTO issue_hourly (issue_id, hour, count)
SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[])
ON CONFLICT (issue_id, hour) DO UPDATE SET count = issue_hourly.count + EXCLUDED.count
"""
_ADD_USERS = """
WITH added AS (
    INSERT INTO issue_users (issue_id, user_key)
    SELECT * FROM unnest(%s::bigint[], %s::text[])
    ON CONFLICT DO NOTHING RETURNING issue_id
)
UPDATE issues SET users_seen = users_seen + a.users
FROM (SELECT issue_id, COUNT(*) AS users FROM added GROUP BY issue_id) AS a
WHERE issues.id = a.issue_id
"""

# The user's other fields (issue_rows.user_alias_keys): found by search, never counted.
_ADD_USER_ALIASES = """
INSERT INTO issue_users (issue_id, user_key)
SELECT * FROM unnest(%s::bigint[], %s::text[])
ON CONFLICT DO NOTHING
"""


def _count_details(
    conn: Connection, errors: list[GroupedEvent], issue_ids: dict[IssueKey, int]
) -> None:
    """Queue the tag, hourly and user counts of ``errors``: one aggregated upsert each.

    Their rows belong to issues this transaction holds locked, so no other
    writer touches them meanwhile; each upsert still goes in key order.
    """
    tags: dict[tuple[int, str, str], list[Any]] = {}
    hours: dict[tuple[int, int], int] = {}
    users: set[tuple[int, str]] = set()
    aliases: set[tuple[int, str]] = set()
    for grouped in errors:
        event = grouped.event
        issue_id = issue_ids[_issue_key(grouped)]
        at = event.timestamp
        for key, value in event_tags(event):
            tag = (issue_id, _stored_text(key), _stored_text(value))
            found = tags.get(tag)
            if found is None:
                tags[tag] = [1, at, at]
            else:
                found[0] += 1
                found[1] = min(found[1], at)
                found[2] = max(found[2], at)
        hour = (issue_id, int(at // 3600))
        hours[hour] = hours.get(hour, 0) + 1
        user = user_key(event)
        if user:
            users.add((issue_id, _stored_text(user)))
        aliases.update((issue_id, _stored_text(alias)) for alias in user_alias_keys(event))
    if tags:
        rows = [(*tag, *counts) for tag, counts in sorted(tags.items())]
        conn.execute(_UPSERT_TAGS, _columns(rows, 6))
    if hours:
        conn.execute(_UPSERT_HOURLY, _columns([(*h, n) for h, n in sorted(hours.items())], 3))
    if users:
        conn.execute(_ADD_USERS, _columns(sorted(users), 2))
    if aliases:
        conn.execute(_ADD_USER_ALIASES, _columns(sorted(aliases), 2))


def _columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    """Rows as ``width`` column lists: the arrays that ``unnest`` turns back into rows."""
    columns: list[list[Any]] = [[] for _ in range(width)]
    for row in rows:
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    return columns


# -- event by event: the fallback -------------------------------------------------


def _write_per_event(
    conn: Connection,
    batch: DigestBatch,
    outcomes: OutcomeTally,
    rejected: list[RejectedEvent],
    rows: EventRows,
) -> None:
    """Write the batch one event at a time, pipelined: what runs when the set-based write fails.

    Errors are written in (project, group hash) order, each group's in batch
    order: the order in which their issues are locked. A failure is pinned
    to its event, which alone is rejected.
    """
    in_lock_order = sorted(batch.errors, key=lambda g: (g.event.project_id, g.group_hash))
    errors = [(grouped, grouped.event) for grouped in in_lock_order]
    analytics = [(event, event) for event in batch.analytics]
    with conn.pipeline() as pipeline:
        _write_events(
            pipeline,
            conn,
            lambda c, grouped: _record_error(c, grouped, batch.document(grouped.event), rows),
            errors,
            outcomes,
            rejected,
        )
        _write_events(
            pipeline,
            conn,
            lambda c, event: _insert_event(c, event, None, batch.document(event), rows),
            analytics,
            outcomes,
            rejected,
        )


class _StoredMeanwhile(Exception):
    """Another transaction stored this event id after our check: undo ours, a replay."""


# What writing one event queued: called once the pipeline is synced, it says
# whether the event was stored for the first time.
Settle = Callable[[], bool]


def _replayed() -> bool:
    return False


def _write_events(
    pipeline: Pipeline,
    conn: Connection,
    write: Callable[[Connection, Any], Settle],
    items: list[tuple[Any, Event]],
    outcomes: OutcomeTally,
    rejected: list[RejectedEvent],
) -> None:
    """Write events under one savepoint; if any fails, again one savepoint each.

    Events almost never fail: so only a failed attempt pays for a savepoint
    and a round trip per event to find the culprit. The statements of the
    first attempt are pipelined: what no later statement depends on is sent
    without waiting for its answer, and checked at the end.
    """
    if not items:
        return
    written = OutcomeTally()
    try:
        with conn.transaction():
            pending = [(write(conn, item), event) for item, event in items]
            pipeline.sync()
            for settle, event in pending:
                if settle():
                    written.add(event, "accepted")
    except Exception as exc:
        if is_unavailable(exc):
            raise  # unreachable, deadlock, shutdown: the whole batch waits and retries
        for item, event in items:
            _isolated(pipeline, conn, write, item, event, outcomes, rejected)
        return
    outcomes.merge(written)


def _isolated(
    pipeline: Pipeline,
    conn: Connection,
    write: Callable[[Connection, Any], Settle],
    item: Any,
    event: Event,
    outcomes: OutcomeTally,
    rejected: list[RejectedEvent],
) -> None:
    """Write one event inside a savepoint; a failure undoes that event alone.

    The pipeline is synced inside the savepoint, so a failure surfaces here,
    with its own event, and not with the next one.
    """
    try:
        with conn.transaction():
            settle = write(conn, item)
            pipeline.sync()
            added = settle()
    except _StoredMeanwhile:
        return
    except Exception as exc:
        if is_unavailable(exc):
            raise  # unreachable, deadlock, shutdown: the whole batch waits and retries
        rejected.append(RejectedEvent(event.project_id, event.event_id, describe_failure(exc)))
        outcomes.add(event, "invalid", "internal")
        return
    if added:
        outcomes.add(event, "accepted")


def _insert_event(
    conn: Connection, event: Event, issue_id: int | None, document: bytes, rows: EventRows
) -> Settle:
    """Queue an event's insert (``document``: its JSON); settles False if its id was stored."""
    cursor = conn.execute(rows.insert_one(), rows.row(event, issue_id, document))
    return lambda: cursor.fetchone() is not None


def _record_error(
    conn: Connection, grouped: GroupedEvent, document: bytes, rows: EventRows
) -> Settle:
    """Store an error and count it into its issue; settles False when it was already stored.

    One round trip (the stored check and the issue's lock, together), two for
    a new issue; the rest is queued. Its issue is locked even for a replay:
    the lock order stays that of the batch.
    """
    event = grouped.event
    stored = conn.execute(rows.exists_one(), (event.project_id, event.event_id))
    key = (event.project_id, grouped.group_hash)
    locked = conn.execute(_SELECT_ISSUE_FOR_UPDATE, key)
    if stored.fetchone():
        return _replayed
    issue_id = _upsert_issue(conn, grouped, locked.fetchone())
    inserted = _insert_event(conn, event, issue_id, document, rows)
    _count_tags(conn, issue_id, event)
    conn.execute(
        "INSERT INTO issue_hourly (issue_id, hour, count) VALUES (%s, %s, 1) "
        "ON CONFLICT (issue_id, hour) DO UPDATE SET count = issue_hourly.count + 1",
        (issue_id, int(event.timestamp // 3600)),
    )
    user = user_key(event)
    if user:
        conn.execute(
            "WITH added AS (INSERT INTO issue_users (issue_id, user_key) VALUES (%s, %s) "
            "ON CONFLICT DO NOTHING RETURNING issue_id) "
            "UPDATE issues SET users_seen = users_seen + 1 "
            "WHERE id IN (SELECT issue_id FROM added)",
            (issue_id, user),
        )
    aliases = [(issue_id, _stored_text(alias)) for alias in user_alias_keys(event)]
    if aliases:
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO issue_users (issue_id, user_key) VALUES (%s, %s) "
                "ON CONFLICT DO NOTHING",
                aliases,
            )

    def settle() -> bool:
        if not inserted():
            raise _StoredMeanwhile(event.event_id)
        return True

    return settle


_SELECT_ISSUE_FOR_UPDATE = (
    "SELECT id, status, substatus, resolved_in_release FROM issues "
    "WHERE project_id = %s AND group_hash = %s FOR UPDATE"
)


def _upsert_issue(conn: Connection, grouped: GroupedEvent, row: PgRow | None) -> int:
    """The id of the event's issue (``row``: it, locked), created or counted.

    Its row stays locked until commit. The counting update is only queued.
    """
    event = grouped.event
    while row is None:
        created = conn.execute(
            "INSERT INTO issues (project_id, group_hash, grouping_version, title, culprit, "
            "level, platform, first_seen, last_seen, times_seen, first_release, last_release, "
            "first_release_at, last_release_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, 1, %s, %s, %s, %s) "
            "ON CONFLICT (project_id, group_hash) DO NOTHING RETURNING id",
            tuple(
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
                )
            ),
        ).fetchone()
        if created is not None:
            return int(created[0])
        # Another transaction created it since our look, and has committed: lock it.
        row = conn.execute(
            _SELECT_ISSUE_FOR_UPDATE, (event.project_id, grouped.group_hash)
        ).fetchone()
    issue_id, status, substatus, resolved_in_release = row
    change = on_new_event(status, substatus, resolved_in_release, event.release)
    # The newest event names the issue, as users expect after a message changes.
    conn.execute(
        "UPDATE issues SET times_seen = times_seen + 1, "
        "last_seen = GREATEST(last_seen, %s), first_seen = LEAST(first_seen, %s), "
        "title = CASE WHEN %s >= last_seen THEN %s ELSE title END, "
        "culprit = CASE WHEN %s >= last_seen THEN %s ELSE culprit END, "
        "level = CASE WHEN %s >= last_seen THEN %s ELSE level END, "
        # Releases follow event time, not arrival: the earliest event's and the latest's.
        f"{_LATER_RELEASE}, {_EARLIER_RELEASE}, "
        "status = %s, substatus = %s, resolved_in_release = %s, "
        "resolved_at = CASE WHEN %s THEN NULL ELSE resolved_at END "
        "WHERE id = %s",
        tuple(
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
            )
        ),
    )
    if change.regressed:
        conn.execute(POSTGRESQL.sql(LOG_REGRESSION), (issue_id, time.time()))
    return int(issue_id)


# The release of the latest event that has one, and of the earliest, beside the
# time of the event that set each (as in the SQLite store).
_LATER_RELEASE = (
    "last_release = CASE WHEN %s::float8 IS NOT NULL AND (last_release_at IS NULL "
    "OR %s >= last_release_at) THEN %s ELSE last_release END, "
    "last_release_at = CASE WHEN %s::float8 IS NOT NULL AND (last_release_at IS NULL "
    "OR %s >= last_release_at) THEN %s ELSE last_release_at END"
)
_EARLIER_RELEASE = (
    "first_release = CASE WHEN %s::float8 IS NOT NULL AND (first_release_at IS NULL "
    "OR %s < first_release_at) THEN %s ELSE first_release END, "
    "first_release_at = CASE WHEN %s::float8 IS NOT NULL AND (first_release_at IS NULL "
    "OR %s < first_release_at) THEN %s ELSE first_release_at END"
)


def _release_at(event: Event) -> float | None:
    return event.timestamp if event.release is not None else None


def _release_params(event: Event) -> tuple[object, ...]:
    """The parameters of ``_LATER_RELEASE`` then ``_EARLIER_RELEASE`` for ``event``."""
    at, release = _release_at(event), event.release
    return (at, at, release, at, at, at) * 2


_NUMBER_NEW_ISSUES = """
WITH created AS (
    SELECT id, project_id, ROW_NUMBER() OVER (PARTITION BY project_id ORDER BY id) AS rank
    FROM issues WHERE project_id = ANY(%s::bigint[]) AND short_number IS NULL
), per_project AS (
    SELECT project_id, COUNT(*) AS n FROM created GROUP BY project_id
), counted AS (
    INSERT INTO issue_counters (project_id, last_number)
    SELECT project_id, n FROM per_project ORDER BY project_id
    ON CONFLICT (project_id) DO UPDATE
        SET last_number = issue_counters.last_number + EXCLUDED.last_number
    RETURNING project_id, last_number
)
UPDATE issues SET short_number = counted.last_number - per_project.n + created.rank
FROM created
JOIN per_project ON per_project.project_id = created.project_id
JOIN counted ON counted.project_id = created.project_id
WHERE issues.id = created.id
"""


def _number_new_issues(conn: Connection, batch: DigestBatch) -> None:
    """Give the issues this transaction created their numbers in their projects (PROJ-12).

    Last in the issue writes, whichever path wrote them: the unnumbered
    issues a transaction sees are its own (others number theirs before they
    commit). The project's counter row stays locked until commit, so two
    nodes creating issues in one project take turns and never share a
    number; it is taken after every issue lock, in project order, so the
    turns cannot deadlock.
    """
    projects = sorted({grouped.event.project_id for grouped in batch.errors})
    if projects:
        conn.execute(_NUMBER_NEW_ISSUES, (projects,))


def _count_tags(conn: Connection, issue_id: int, event: Event) -> None:
    rows = [(issue_id, k, v, event.timestamp, event.timestamp) for k, v in event_tags(event)]
    if not rows:
        return
    with conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO issue_tags (issue_id, key, value, times_seen, first_seen, last_seen) "
            "VALUES (%s, %s, %s, 1, %s, %s) ON CONFLICT (issue_id, key, value) DO UPDATE SET "
            "times_seen = issue_tags.times_seen + 1, "
            "first_seen = LEAST(issue_tags.first_seen, EXCLUDED.first_seen), "
            "last_seen = GREATEST(issue_tags.last_seen, EXCLUDED.last_seen)",
            rows,
        )


def _add_outcomes(conn: Connection, outcomes: Sequence[Outcome]) -> None:
    """Add outcome counts, in key order: concurrent batches lock shared rows in one order."""
    if not outcomes:
        return
    today = int(time.time() // 86400)
    rows = sorted(
        (o.project_id, o.day or today, o.category, o.outcome, o.reason, o.quantity)
        for o in outcomes
    )
    with conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO outcomes (project_id, day, category, outcome, reason, quantity) "
            "VALUES (%s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (project_id, day, category, outcome, reason) "
            "DO UPDATE SET quantity = outcomes.quantity + EXCLUDED.quantity",
            [tuple(row) for row in rows],
        )
