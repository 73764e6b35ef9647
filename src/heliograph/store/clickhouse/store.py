"""The whole store on PostgreSQL, with the events themselves in ClickHouse.

PostgreSQL keeps everything that must be exact or changes after the fact:
accounts, issues and their counters, tags, hourly counts and users, the LLM
rollups and traces, outcomes, and one slim ``event_keys`` row per event
(:mod:`heliograph.store.postgresql.event_rows`). ClickHouse keeps what is
large and never changes: the events' documents and the typed LLM rows
(:mod:`heliograph.store.clickhouse.schema`). Every read that lists or opens
events reads ClickHouse; every count reads PostgreSQL.

A digest batch is written in three steps, each safe to repeat:

1. digest's PostgreSQL transaction, exactly as with PostgreSQL alone, except
   that an event becomes a key row marked ``pending``: a replayed event is
   recognised there and counted nowhere;
2. the batch's pending events go to ClickHouse, one insert per table, under a
   deduplication token made from their row ids;
3. their keys are marked written.

The batch's future resolves after step 3, and only then does digest delete
the payloads from the node's queue. A crash or a ClickHouse outage between
1 and 3 leaves the payloads queued: digest writes the batch again, step 1
finds every event stored (no count moves) and still pending, and step 2
sends them again, which ClickHouse drops (same token) or collapses (same
sort key), and which reads never show twice: a small read takes each row
id once (``LIMIT 1 BY id``); a page of a long list drops a repeated id in
Python (:func:`_page_once`), since ``LIMIT BY`` would stop ClickHouse from
reading the sort key in order and stopping after a page (an issue with
170k events: 53 ms a page against 11 ms).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson

from heliograph.llm_messages import GenerationMessages, merge_messages
from heliograph.model import Event
from heliograph.store.base import (
    DigestBatch,
    IssueEventFilter,
    Outcome,
    RecordResult,
    SchemaTooNew,
    StoredEvent,
    event_document,
)
from heliograph.store.blobs import BlobStore
from heliograph.store.clickhouse.client import ClickHouseClient, Row
from heliograph.store.clickhouse.disk_use import ClickHouseDiskUse
from heliograph.store.clickhouse.schema import MIGRATIONS, VERSION_TABLE
from heliograph.store.clickhouse.web_reads import ClickHouseWebReads, property_condition
from heliograph.store.cursors import decode_cursor, encode_cursor
from heliograph.store.health import DEFAULT_PING_TIMEOUT, SchemaState
from heliograph.store.held_messages import (
    generation_keys,
    held_for,
    hold,
    merged_document,
    release,
)
from heliograph.store.llm_records import LlmEventFilter, LlmEventRecord, TraceError, TraceFilter
from heliograph.store.llm_rows import EVENT_COLUMNS, MAX_TRACE_EVENTS, event_record
from heliograph.store.llm_search import search_words
from heliograph.store.llm_shaping import is_llm_event, llm_record
from heliograph.store.postgresql.database import MIGRATION_LOCK, Connection
from heliograph.store.postgresql.event_rows import EVENT_KEYS
from heliograph.store.postgresql.store import PostgresStore, _add_outcomes
from heliograph.store.retention import PurgeReport
from heliograph.store.score_records import ScoreContext
from heliograph.store.score_store import (
    ContextKey,
    batch_contexts,
    document_context,
    fill_waiting_scores,
)
from heliograph.store.sql_dialect import POSTGRESQL

__all__ = ["TABLE_COLUMNS", "ClickHouseStore", "analytics_row", "error_row", "llm_row"]

# Traces with application errors an "errors only" trace list looks among.
MAX_LINKED_TRACES = 10_000

# ClickHouse's TTL counts days; a project that keeps events forever (0) keeps them
# as long as the column can say.
_FOREVER_DAYS = 65535
# Newest-first lists look this far back first, then further (seconds; None: all).
_WINDOWS: tuple[float | None, ...] = (3600, 86400, 7 * 86400, 30 * 86400, None)
_LLM_COLUMNS = [name.strip() for name in EVENT_COLUMNS.split(",")]
_ERROR_COLUMNS = [
    "project_id",
    "issue_id",
    "id",
    "event_id",
    "timestamp",
    "name",
    "level",
    "trace_id",
    "data",
    "retention_days",
]
_ANALYTICS_COLUMNS = [
    "project_id",
    "id",
    "event_id",
    "name",
    "timestamp",
    "trace_id",
    "data",
    "retention_days",
]

# The columns each table's rows are inserted with (the keys of the rows below).
TABLE_COLUMNS = {
    "error_events": _ERROR_COLUMNS,
    "analytics_events": _ANALYTICS_COLUMNS,
    "llm_events": [*_LLM_COLUMNS, "retention_days"],
}

# A pending key: (row id, project id, event id, issue id).
PendingKey = tuple[int, int, str, int | None]
Key = tuple[int, str]


@dataclass(frozen=True, slots=True)
class _Committed:
    """What step 1 leaves to steps 2 and 3."""

    result: RecordResult
    # The batch's events still owed to ClickHouse.
    pending: list[PendingKey]
    # Generations whose stored document may have held messages to merge.
    late: list[Key]


class ClickHouseStore(ClickHouseDiskUse, ClickHouseWebReads, PostgresStore):
    """PostgreSQL for metadata and counts, ClickHouse (``client``) for the events."""

    event_rows = EVENT_KEYS

    def __init__(self, url: str, client: ClickHouseClient, blobs: BlobStore | None = None) -> None:
        super().__init__(url, blobs)
        self.events = client
        # Step 2 and 3 of a batch run here, in submission order, so that the
        # PostgreSQL writer goes on with the next batch's transaction meanwhile.
        self._sender = ThreadPoolExecutor(1, thread_name_prefix="heliograph-clickhouse")
        try:
            self.db.write(self._migrate_events)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self._sender.shutdown(wait=True)
        self.events.close()
        super().close()

    def ping(self, timeout: float = DEFAULT_PING_TIMEOUT) -> list[SchemaState]:
        """PostgreSQL's schema, then ClickHouse's (its client bounds the wait by the
        URL's own ``timeout``; readiness bounds the whole call besides)."""
        states = super().ping(timeout)
        [(version,)] = self.events.query("SELECT toUInt32(max(version)) FROM heliograph_schema")
        return [*states, SchemaState("clickhouse", int(version or 0), len(MIGRATIONS))]

    def _migrate_events(self, conn: Connection) -> None:
        """Bring ClickHouse's schema up to date, one node at a time (PostgreSQL's lock)."""
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        self.events.command(VERSION_TABLE)
        [(version,)] = self.events.query("SELECT toUInt32(max(version)) FROM heliograph_schema")
        if int(version or 0) > len(MIGRATIONS):
            # Migrated by a newer Heliograph: this code cannot know what changed.
            raise SchemaTooNew("the ClickHouse event database", int(version), len(MIGRATIONS))
        for number, statements in enumerate(MIGRATIONS, start=1):
            if number <= int(version or 0):
                continue
            for statement in statements:
                self.events.command(statement)
            self.events.command(f"INSERT INTO heliograph_schema (version) VALUES ({number})")

    # -- digest ----------------------------------------------------------

    def submit_record(self, batch: DigestBatch) -> Future[RecordResult]:
        committed = self.db.submit(lambda conn: self._commit(conn, batch))
        return self._sender.submit(self._finish, batch, committed)

    def _commit(self, conn: Connection, batch: DigestBatch) -> _Committed:
        """Step 1: digest's transaction; returns the batch's keys still owed to ClickHouse,
        and what its logged messages still have to do there."""
        result, _ = self._digest_transaction(conn, batch)
        late = self._hold_messages(conn, batch)
        keys = {(g.event.project_id, g.event.event_id) for g in batch.errors}
        keys.update((event.project_id, event.event_id) for event in batch.analytics)
        if not keys:
            return _Committed(result, [], late)
        pending = conn.execute(
            "SELECT e.id, e.project_id, e.event_id, e.issue_id FROM event_keys e "
            "JOIN unnest(%s::bigint[], %s::text[]) AS k(project_id, event_id) "
            "ON e.project_id = k.project_id AND e.event_id = k.event_id WHERE e.pending",
            ([key[0] for key in keys], [key[1] for key in keys]),
        ).fetchall()
        return _Committed(result, [tuple(row) for row in pending], late)

    def _join_messages(self, conn: Connection, batch: DigestBatch) -> list[Outcome]:
        """Nothing in digest's transaction: the documents are ClickHouse's (see
        :meth:`_hold_messages`)."""
        return []

    def _hold_messages(self, conn: Connection, batch: DigestBatch) -> list[Key]:
        """Logged messages, in step 1: merged into the batch's generations before they are
        sent, and held, all of them, until ClickHouse has what they join.

        Held rows stay until ClickHouse has the document they joined: a batch
        that fails after this transaction is written again, and merges them
        again. Returns the generations whose stored document may have held
        messages to merge (:meth:`_merge_held`): the batch's groups', and the
        batch's generations (a batch beside it may have held messages for
        them while they were pending).
        """
        keys = generation_keys(batch.analytics)
        if keys:
            by_key: dict[Key, list[GenerationMessages]] = defaultdict(list)
            for _, group in held_for(conn, POSTGRESQL, keys):
                by_key[(group.project_id, group.event_id)].append(group)
            for event in batch.analytics:
                key = (event.project_id, event.event_id)
                if key in by_key and merge_messages(event.properties, by_key[key]):
                    batch.documents[key] = event_document(event)
        too_many = hold(conn, POSTGRESQL, batch.llm_messages)
        if too_many:
            _add_outcomes(conn, too_many)
        late = {(group.project_id, group.event_id) for group in batch.llm_messages}
        return sorted(late.union(keys))

    def _finish(self, batch: DigestBatch, committed: Future[_Committed]) -> RecordResult:
        """Steps 2 and 3: send the pending events to ClickHouse, then mark them written;
        then held messages whose generation ClickHouse now has are merged into it."""
        done = committed.result()
        if done.pending:
            self._send(batch, done.pending)
            ids = [key[0] for key in done.pending]
            self.db.write(
                lambda conn: conn.execute(
                    "UPDATE event_keys SET pending = FALSE WHERE id = ANY(%s)", (ids,)
                )
            )
        if done.late:
            self._merge_held(done.late)
        if done.pending and batch_contexts(batch.analytics):
            # A score digested while these generations were on their way here found
            # none of them (step 1 of its batch looks them up in ClickHouse).
            self.db.write(lambda conn: fill_waiting_scores(conn, POSTGRESQL, batch.analytics))
        return done.result

    def _merge_held(self, keys: list[Key]) -> None:
        """Merge the messages held for these generations into their documents in ClickHouse.

        One mutation per document (``ALTER TABLE ... UPDATE``), waited for, so
        that the next merge into the same document reads this one's result. A
        generation ClickHouse does not have yet keeps its messages held: the
        batch writing it merges them after sending it.
        """
        held = self.db.read(lambda conn: held_for(conn, POSTGRESQL, keys))
        if not held:
            return
        by_key: dict[Key, list[GenerationMessages]] = defaultdict(list)
        row_ids: dict[Key, list[int]] = defaultdict(list)
        for row_id, group in held:
            by_key[(group.project_id, group.event_id)].append(group)
            row_ids[(group.project_id, group.event_id)].append(row_id)
        merged: list[int] = []
        for (project_id, event_id), groups in sorted(by_key.items()):
            rows = self.events.query(
                "SELECT id, data FROM analytics_events WHERE project_id = {p:UInt64} "
                "AND event_id = {e:String} LIMIT 1",
                {"p": project_id, "e": event_id},
            )
            if not rows:
                continue  # not sent yet: its own batch merges after sending it
            # Sent with these messages already (merged in step 1), or without them.
            document = merged_document(str(rows[0][1]).encode(), groups)
            if document is not None:
                self.events.command(
                    "ALTER TABLE analytics_events UPDATE data = {d:String} "
                    "WHERE project_id = {p:UInt64} AND id = {r:UInt64} "
                    "SETTINGS mutations_sync = 1",
                    {"d": document.decode(), "p": project_id, "r": int(rows[0][0])},
                )
            merged.extend(row_ids[(project_id, event_id)])
        if merged:
            self.db.write(lambda conn: release(conn, POSTGRESQL, merged))

    def _send(self, batch: DigestBatch, pending: list[PendingKey]) -> None:
        events: dict[tuple[int, str], Event] = {
            (g.event.project_id, g.event.event_id): g.event for g in batch.errors
        }
        events.update(((e.project_id, e.event_id), e) for e in batch.analytics)
        retention: dict[int, int] = {}
        errors: list[bytes] = []
        analytics: list[bytes] = []
        llm: list[bytes] = []
        for row_id, project_id, event_id, issue_id in sorted(pending):
            event = events[(project_id, event_id)]
            if project_id not in retention:
                project = self.get_project_by_id(project_id)
                retention[project_id] = project.retention_days if project else 0
            days = retention[project_id]
            document = batch.document(event)
            if issue_id is not None:
                errors.append(error_row(event, row_id, issue_id, document, days))
                continue
            analytics.append(analytics_row(event, row_id, document, days))
            if is_llm_event(event):
                llm.append(llm_row(llm_record(event, row_id), days))
        token = hashlib.sha1(b",".join(str(key[0]).encode() for key in sorted(pending)))
        for table, rows in (
            ("error_events", errors),
            ("analytics_events", analytics),
            ("llm_events", llm),
        ):
            if rows:
                self.events.insert(
                    table,
                    TABLE_COLUMNS[table],
                    b"\n".join(rows),
                    token=f"{table}:{token.hexdigest()}",
                )

    # -- events ------------------------------------------------------------

    def get_event(self, project_id: int, event_id: str) -> StoredEvent | None:
        rows = self.events.query(
            "SELECT project_id, event_id, toNullable(issue_id), data FROM error_events "
            "WHERE project_id = {p:UInt64} AND event_id = {e:String} "
            "UNION ALL SELECT project_id, event_id, CAST(NULL, 'Nullable(UInt64)'), data "
            "FROM analytics_events WHERE project_id = {p:UInt64} AND event_id = {e:String} "
            "LIMIT 1",
            {"p": project_id, "e": event_id.replace("-", "").lower()},
        )
        return _stored_event(rows[0]) if rows else None

    def _issue_project(self, issue_id: int) -> int | None:
        issue = self.get_issue(issue_id)
        return issue.project_id if issue else None

    def issue_events(
        self,
        issue_id: int,
        *,
        limit: int,
        cursor: str | None,
        filters: IssueEventFilter | None = None,
    ) -> tuple[list[StoredEvent], str | None]:
        project_id = self._issue_project(issue_id)
        if project_id is None:
            return [], None
        after = decode_cursor(cursor)
        wanted = filters or IssueEventFilter()
        params: dict[str, Any] = {"p": project_id, "i": issue_id, "n": limit + 1}
        scope = "project_id = {p:UInt64} AND issue_id = {i:UInt64}"
        if wanted.since is not None:
            scope += " AND timestamp >= {since:Float64}"
            params["since"] = wanted.since
        if wanted.until is not None:
            scope += " AND timestamp <= {until:Float64}"
            params["until"] = wanted.until
        if after:
            scope += (
                " AND (timestamp < {t:Float64} OR (timestamp = {t:Float64} AND id < {r:UInt64}))"
            )
            params.update(t=after[0], r=after[1])
        end = self._scan_end(scope, params, wanted.scan)
        sql = (
            "SELECT project_id, event_id, toNullable(issue_id), data, timestamp, id "
            f"FROM error_events WHERE {scope}"
        )
        if wanted.level is not None:
            sql += " AND level = {level:String}"
            params["level"] = wanted.level
        # Environment and release are no columns here: read from the document,
        # within the issue's range of the sort key (and the scan's, if bounded).
        for field_name in ("environment", "release"):
            value = getattr(wanted, field_name)
            if value is not None:
                sql += f" AND JSONExtractString(data, '{field_name}') = {{{field_name}:String}}"
                params[field_name] = value
        if end:
            sql += " AND (timestamp > {et:Float64} OR "
            sql += "(timestamp = {et:Float64} AND id >= {er:UInt64}))"
            params.update(et=end[0], er=end[1])
        rows, more = _page_once(
            self.events.query(sql + " ORDER BY timestamp DESC, id DESC LIMIT {n:UInt32}", params),
            limit,
            id_at=5,
        )
        if more:
            next_cursor: str | None = encode_cursor(rows[-1][4], rows[-1][5])
        else:
            next_cursor = encode_cursor(end[0], end[1]) if end and end[2] else None
        return [_stored_event(row) for row in rows], next_cursor

    def _scan_end(
        self, scope: str, params: dict[str, Any], scan: int | None
    ) -> tuple[float, int, bool] | None:
        """(timestamp, id) of the ``scan``-th row in ``scope``, newest first, and whether any
        follows; None when unbounded or fewer rows. (A row not yet merged counts twice: the
        scan is that much shorter, and may end on a page that finds nothing more.)"""
        if scan is None:
            return None
        if scan < 1:
            raise ValueError(f"scan must be at least 1, got {scan}")
        rows = self.events.query(
            f"SELECT timestamp, id FROM error_events WHERE {scope} "
            "ORDER BY timestamp DESC, id DESC LIMIT 2 OFFSET {o:UInt32}",
            {**params, "o": scan - 1},
        )
        return (float(rows[0][0]), int(rows[0][1]), len(rows) > 1) if rows else None

    def oldest_event_id(self, issue_id: int) -> str | None:
        project_id = self._issue_project(issue_id)
        if project_id is None:
            return None
        rows = self.events.query(
            "SELECT event_id FROM error_events WHERE project_id = {p:UInt64} "
            "AND issue_id = {i:UInt64} ORDER BY timestamp, id LIMIT 1",
            {"p": project_id, "i": issue_id},
        )
        return str(rows[0][0]) if rows else None

    def event_neighbours(
        self, issue_id: int, event_id: str
    ) -> tuple[str | None, str | None] | None:
        project_id = self._issue_project(issue_id)
        if project_id is None:
            return None
        params: dict[str, Any] = {"p": project_id, "i": issue_id, "e": event_id}
        scope = "FROM error_events WHERE project_id = {p:UInt64} AND issue_id = {i:UInt64}"
        found = self.events.query(
            f"SELECT id, timestamp {scope} AND event_id = {{e:String}}", params
        )
        if not found:
            return None
        params.update(r=found[0][0], t=found[0][1])
        newer = self.events.query(
            f"SELECT event_id {scope} AND (timestamp > {{t:Float64}} OR "
            "(timestamp = {t:Float64} AND id > {r:UInt64})) ORDER BY timestamp, id LIMIT 1",
            params,
        )
        older = self.events.query(
            f"SELECT event_id {scope} AND (timestamp < {{t:Float64}} OR "
            "(timestamp = {t:Float64} AND id < {r:UInt64})) "
            "ORDER BY timestamp DESC, id DESC LIMIT 1",
            params,
        )
        return (newer[0][0] if newer else None, older[0][0] if older else None)

    def events_by_trace(self, project_id: int, trace_id: str) -> list[StoredEvent]:
        rows = self.events.query(
            "SELECT project_id, event_id, issue, data FROM ("
            "SELECT project_id, event_id, toNullable(issue_id) AS issue, data, timestamp, id "
            "FROM error_events WHERE project_id = {p:UInt64} AND trace_id = {t:String} "
            "UNION ALL SELECT project_id, event_id, CAST(NULL, 'Nullable(UInt64)'), data, "
            "timestamp, id FROM analytics_events "
            "WHERE project_id = {p:UInt64} AND trace_id = {t:String}) "
            "ORDER BY timestamp, id LIMIT 1 BY id LIMIT 1000",
            {"p": project_id, "t": trace_id},
        )
        return [_stored_event(row) for row in rows]

    # -- LLM rows ----------------------------------------------------------

    def llm_events(
        self, filters: LlmEventFilter, *, limit: int, cursor: str | None = None
    ) -> tuple[list[LlmEventRecord], str | None]:
        """Newest first, ``limit`` at a time, looking back in widening windows."""
        params: dict[str, Any] = {"p": filters.project_id}
        sql = f"SELECT {EVENT_COLUMNS} FROM llm_events WHERE project_id = {{p:UInt64}}"
        if filters.names:
            sql += " AND name IN {names:Array(String)}"
            params["names"] = list(filters.names)
        if filters.errors_only:
            sql += " AND is_error = 1"
        for column, value, kind in (
            ("model", filters.model, "String"),
            ("provider", filters.provider, "String"),
            ("distinct_id", filters.distinct_id, "String"),
            ("trace_id", filters.trace_id, "String"),
            ("session_id", filters.session_id, "String"),
            ("environment", filters.environment, "String"),
            ("release", filters.release, "String"),
        ):
            if value is not None:
                sql += f" AND {column} = {{{column}:{kind}}}"
                params[column] = value
        if filters.since is not None:
            sql += " AND timestamp >= {since:Float64}"
            params["since"] = filters.since
        if filters.until is not None:
            sql += " AND timestamp < {until:Float64}"
            params["until"] = filters.until
        if filters.properties:
            # The events' own properties, read from their documents in ClickHouse.
            conditions = " AND ".join(
                property_condition(number, condition, params)
                for number, condition in enumerate(filters.properties)
            )
            sql += (
                " AND id IN (SELECT id FROM analytics_events WHERE project_id = {p:UInt64} "
                f"AND {conditions})"
            )
        words = search_words(filters.text or "")
        if words:
            # No index of its own here: the events' documents, read in ClickHouse.
            found = " AND ".join(
                f"positionCaseInsensitiveUTF8(data, {{w{n}:String}}) > 0" for n in range(len(words))
            )
            sql += (
                " AND id IN (SELECT id FROM analytics_events WHERE project_id = {p:UInt64} "
                f"AND {found})"
            )
            params.update({f"w{n}": word for n, word in enumerate(words)})
        if filters.sort != "newest":
            rows, next_cursor = self._sorted(sql, params, filters.sort, limit, cursor)
        else:
            rows, next_cursor = self._newest_first(
                sql, params, "timestamp", limit, cursor, filters.until
            )
        return [event_record(row) for row in rows], next_cursor

    def _sorted(
        self, sql: str, params: dict[str, Any], sort: str, limit: int, cursor: str | None
    ) -> tuple[list[Row], str | None]:
        """The costliest or slowest rows first (unknown last), then by id, after ``cursor``."""
        column = {"cost": "total_cost_usd", "latency": "latency_s"}[sort]
        key = f"ifNull({column}, -1.0)"
        after = decode_cursor(cursor)
        params = {**params, "n": limit + 1}
        if after:
            sql += (
                f" AND ({key} < {{at:Float64}} OR ({key} = {{at:Float64}} AND id < {{row:UInt64}}))"
            )
            params.update(at=after[0], row=after[1])
        rows = self.events.query(
            sql + f" ORDER BY {key} DESC, id DESC LIMIT 1 BY id LIMIT {{n:UInt32}}", params
        )
        page, more = _page_once(rows, limit, id_at=0)
        if not more:
            return page, None
        last = page[-1]
        value = last[_LLM_COLUMNS.index(column)]
        return page, encode_cursor(-1.0 if value is None else float(value), last[0])

    def _newest_first(
        self,
        sql: str,
        params: dict[str, Any],
        time_column: str,
        limit: int,
        cursor: str | None,
        until: float | None,
    ) -> tuple[list[Row], str | None]:
        """A keyset page of ``sql``'s rows, newest first by ``time_column`` then id.

        The query first looks at the last hour before the page's start, then a
        day, a week, a month, and only then at everything, stopping as soon
        as a window holds more than a page: the newest rows of a large table
        are found without reading its old parts. The page starts at the
        cursor, else at ``until``, else now. Rows are in ``EVENT_COLUMNS``
        order (the id first).
        """
        after = decode_cursor(cursor)
        params = {**params, "n": limit + 1}
        if after:
            sql += (
                f" AND ({time_column} < {{at:Float64}} OR "
                f"({time_column} = {{at:Float64}} AND id < {{row:UInt64}}))"
            )
            params.update(at=after[0], row=after[1])
        newest = after[0] if after else until if until is not None else time.time()
        order = f" ORDER BY {time_column} DESC, id DESC LIMIT {{n:UInt32}}"
        rows: list[Row] = []
        for window in _WINDOWS:
            if window is None:
                rows = self.events.query(sql + order, params)
                break
            rows = self.events.query(
                sql + f" AND {time_column} >= {{from:Float64}}" + order,
                {**params, "from": newest - window},
            )
            if len(rows) > limit:
                break
        page, more = _page_once(rows, limit, id_at=0)
        if not more:
            return page, None
        return page, encode_cursor(page[-1][_LLM_COLUMNS.index(time_column)], page[-1][0])

    def llm_event(self, project_id: int, event_id: str) -> LlmEventRecord | None:
        rows = self.events.query(
            f"SELECT {EVENT_COLUMNS} FROM llm_events WHERE project_id = {{p:UInt64}} "
            "AND event_id = {e:String} LIMIT 1",
            {"p": project_id, "e": event_id},
        )
        return event_record(rows[0]) if rows else None

    def llm_trace_events(self, project_id: int, trace_id: str) -> list[LlmEventRecord]:
        rows = self.events.query(
            f"SELECT {EVENT_COLUMNS} FROM llm_events WHERE project_id = {{p:UInt64}} "
            "AND trace_id = {t:String} ORDER BY started_at, id LIMIT 1 BY id LIMIT {n:UInt32}",
            {"p": project_id, "t": trace_id, "n": MAX_TRACE_EVENTS},
        )
        return [event_record(row) for row in rows]

    def _linked_errors_condition(self, filters: TraceFilter) -> tuple[str, list[Any]]:
        """Errors live in ClickHouse here: the traces that have one in the range, by id."""
        sql = (
            "SELECT DISTINCT trace_id FROM error_events WHERE project_id = {p:UInt64} "
            "AND trace_id IS NOT NULL AND trace_id != ''"
        )
        params: dict[str, Any] = {"p": filters.project_id}
        if filters.since is not None:
            # A trace starts before its errors: errors since its start cover it.
            sql += " AND timestamp >= {since:Float64}"
            params["since"] = filters.since
        sql += " LIMIT {n:UInt32}"
        params["n"] = MAX_LINKED_TRACES
        trace_ids = [row[0] for row in self.events.query(sql, params)]
        if not trace_ids:
            return "FALSE", []
        return self.dialect.in_list("trace_id", trace_ids)

    def _generation_contexts(
        self, conn: Any, keys: Sequence[ContextKey]
    ) -> dict[ContextKey, ScoreContext]:
        """Scored generations' contexts from ClickHouse, which keeps their rows and
        documents (read from within digest's PostgreSQL transaction: a score naming a
        generation stored earlier is the usual case, a user's feedback)."""
        found: dict[ContextKey, ScoreContext] = {}
        by_project: dict[int, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
        for project_id, kind, value in keys:
            by_project[project_id][0 if kind == "span" else 1].append(value)
        for project_id, (spans, traces) in sorted(by_project.items()):
            rows = self.events.query(
                "SELECT ifNull(l.span_id, ''), ifNull(l.trace_id, ''), a.data "
                "FROM llm_events AS l INNER JOIN analytics_events AS a "
                "ON a.project_id = l.project_id AND a.id = l.id "
                "WHERE l.project_id = {p:UInt64} AND a.project_id = {p:UInt64} "
                "AND l.name IN ('$ai_generation', '$ai_embedding') "
                "AND (has({s:Array(String)}, ifNull(l.span_id, '')) "
                "OR has({t:Array(String)}, ifNull(l.trace_id, ''))) "
                "ORDER BY l.timestamp, l.id LIMIT 1000",
                {"p": project_id, "s": spans, "t": traces},
            )
            for span_id, trace_id, data in rows:
                context = document_context(str(data).encode(), str(trace_id) or None)
                if span_id in spans:
                    found.setdefault((project_id, "span", str(span_id)), context)
                if trace_id in traces:
                    found.setdefault((project_id, "trace", str(trace_id)), context)
        return found

    def llm_trace_errors(self, project_id: int, trace_id: str) -> list[TraceError]:
        rows = self.events.query(
            "SELECT event_id, issue_id, timestamp, name, level FROM error_events "
            "WHERE project_id = {p:UInt64} AND trace_id = {t:String} "
            "ORDER BY timestamp, id LIMIT 1 BY id LIMIT 100",
            {"p": project_id, "t": trace_id},
        )
        issues = {}
        for issue_id in {row[1] for row in rows}:
            issue = self.get_issue(issue_id)
            if issue is not None:
                issues[issue_id] = issue
        errors = []
        for event_id, issue_id, timestamp, name, level in rows:
            issue = issues.get(issue_id)
            errors.append(
                TraceError(
                    event_id,
                    issue_id,
                    timestamp,
                    issue.title if issue else name,
                    issue.level if issue else (level or "error"),
                )
            )
        return errors

    # -- retention ---------------------------------------------------------

    def purge_expired(
        self,
        *,
        now: float | None = None,
        dry_run: bool = False,
        stop: threading.Event | None = None,
    ) -> PurgeReport:
        """PostgreSQL's pass, then each purged project's older rows out of ClickHouse.

        The TTL drops old parts by itself; this deletes at once what a
        shortened retention no longer keeps (a lightweight ``DELETE``, which
        hides the rows now and frees them at the next merge).
        """
        report = super().purge_expired(now=now, dry_run=dry_run, stop=stop)
        if dry_run:
            return report
        for purged in report.projects:
            if not purged.events:
                continue  # no key was old enough, so no row is: nothing to delete
            for table in ("error_events", "analytics_events", "llm_events"):
                self.events.command(
                    f"DELETE FROM {table} WHERE project_id = {int(purged.project.id)} "
                    f"AND timestamp < {float(purged.cutoff)!r}"
                )
        return report


def _page_once(rows: list[Row], limit: int, id_at: int) -> tuple[list[Row], bool]:
    """A page from ``limit + 1`` rows in (time, id) order, each id once; and whether more follow.

    A row written twice and not yet merged comes twice, side by side (same
    time, same id): the second is dropped, and the page may be that much
    shorter, but its cursor still continues right after its last row, so
    paging neither skips nor repeats an event.
    """
    once = [row for n, row in enumerate(rows) if n == 0 or row[id_at] != rows[n - 1][id_at]]
    return once[:limit], len(rows) > limit


def _ttl_days(retention_days: int) -> int:
    """A project's retention as the row's TTL in days (0, keep forever: as long as it can)."""
    return min(retention_days, _FOREVER_DAYS) or _FOREVER_DAYS


def error_row(
    event: Event, row_id: int, issue_id: int, document: bytes, retention_days: int
) -> bytes:
    """An ``error_events`` row as the JSON line inserted."""
    return orjson.dumps(
        {
            "project_id": event.project_id,
            "issue_id": issue_id,
            "id": row_id,
            "event_id": event.event_id,
            "timestamp": event.timestamp,
            "name": event.name,
            "level": event.level or "",
            "trace_id": event.trace_id,
            "data": document.decode(),
            "retention_days": _ttl_days(retention_days),
        }
    )


def analytics_row(event: Event, row_id: int, document: bytes, retention_days: int) -> bytes:
    """An ``analytics_events`` row as the JSON line inserted."""
    return orjson.dumps(
        {
            "project_id": event.project_id,
            "id": row_id,
            "event_id": event.event_id,
            "name": event.name,
            "timestamp": event.timestamp,
            "trace_id": event.trace_id,
            "data": document.decode(),
            "retention_days": _ttl_days(retention_days),
        }
    )


def llm_row(record: LlmEventRecord, retention_days: int) -> bytes:
    """An ``llm_events`` row as the JSON line inserted."""
    row = record._asdict()
    row["is_error"] = int(row["is_error"])
    row["retention_days"] = _ttl_days(retention_days)
    return orjson.dumps(row)


def _stored_event(row: Sequence[Any]) -> StoredEvent:
    """A stored event from ``project_id, event_id, issue_id, data`` (and anything after)."""
    data = row[3]
    return StoredEvent(
        project_id=int(row[0]),
        event_id=str(row[1]),
        issue_id=None if row[2] is None else int(row[2]),
        event=Event.from_dict(orjson.loads(data)),
    )
