"""Read methods for issues, events and outcomes, one implementation for every SQL backend.

A mixin of the stores, which name their
:class:`~heliograph.store.sql_dialect.SqlDialect` and their database, as for
:mod:`heliograph.store.llm_reads`. What the backends share apart from the SQL
(row mappers, sort columns, cursors, the hourly trend) is in
:mod:`heliograph.store.issue_rows`; the writes stay in each backend's
``store`` module.

The SQL is written once, with ``?`` placeholders; the dialect supplies what
the backends spell differently, so that PostgreSQL's results are the ones
SQLite gives (integers, not Decimals; byte-wise text order). Event lists
break timestamp ties by row id, the order :meth:`IssueReadsMixin.event_neighbours`
steps in.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Generic

from heliograph.store.base import (
    Issue,
    IssueEventFilter,
    IssueFilter,
    Outcome,
    StoredEvent,
    TagCount,
)
from heliograph.store.cursors import decode_cursor, encode_cursor
from heliograph.store.issue_activity import ReleaseSpan
from heliograph.store.issue_conditions import issue_conditions
from heliograph.store.issue_rows import (
    ISSUE_COLUMNS,
    SORT_COLUMNS,
    hourly_trend,
    issue_from_row,
    issue_sort_value,
    stored_event_from_row,
)
from heliograph.store.llm_reads import DbT, ReadConnection
from heliograph.store.sql_dialect import SqlDialect

__all__ = ["IssueReadsMixin"]

_EVENT_COLUMNS = "project_id, event_id, issue_id, data"


def _event_scope(
    issue_id: int, filters: IssueEventFilter, after: tuple[float, int] | None
) -> tuple[str, list[Any]]:
    """The conditions (and their parameters) of the issue's events a read scans: the
    issue, the time bounds and the keyset cursor, all on the ``events_by_issue`` index."""
    scope = "issue_id = ?"
    params: list[Any] = [issue_id]
    if filters.since is not None:
        scope += " AND timestamp >= ?"
        params.append(filters.since)
    if filters.until is not None:
        scope += " AND timestamp <= ?"
        params.append(filters.until)
    if after:
        scope += " AND (timestamp < ? OR (timestamp = ? AND id < ?))"
        params += [after[0], after[0], after[1]]
    return scope, params


def _scan_end(
    rows_of: Callable[[str, Sequence[Any]], list[Any]],
    scope: str,
    params: list[Any],
    scan: int | None,
) -> tuple[float, int, bool] | None:
    """(timestamp, id) of the ``scan``-th event in ``scope``, newest first, and whether any
    follows it; None when there is no bound or fewer events (the scan reaches the end)."""
    if scan is None:
        return None
    if scan < 1:
        raise ValueError(f"scan must be at least 1, got {scan}")
    rows = rows_of(
        f"SELECT timestamp, id FROM events WHERE {scope} "
        "ORDER BY timestamp DESC, id DESC LIMIT 2 OFFSET ?",
        [*params, scan - 1],
    )
    return (rows[0]["timestamp"], rows[0]["id"], len(rows) > 1) if rows else None


class IssueReadsMixin(Generic[DbT]):
    """Issue, event and outcome reads; the class using it provides ``db`` and ``dialect``.

    Generic in the backend's database class, so that a store's other mixins
    may declare ``db`` as that class too.
    """

    db: DbT
    dialect: ClassVar[SqlDialect]

    def _rows(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """The rows ``sql`` (``?`` placeholders) selects, read under the database's time limit."""
        statement = self.dialect.sql(sql)
        return self.db.read(lambda c: c.execute(statement, params).fetchall())

    def _first(self, sql: str, params: Sequence[Any]) -> Any:
        """The first row of :meth:`_rows` (a key lookup, or ``LIMIT 1``), or ``None``."""
        rows = self._rows(sql, params)
        return rows[0] if rows else None

    # -- outcomes ----------------------------------------------------------

    def outcomes(self, project_id: int, *, days: int = 30) -> list[Outcome]:
        since = int(time.time() // 86400) - days
        order = self.dialect.text_order
        rows = self._rows(
            f"SELECT project_id, category, outcome, reason, {self.dialect.int_sum('quantity')}, 0 "
            "FROM outcomes WHERE project_id = ? AND day >= ? "
            "GROUP BY project_id, category, outcome, reason "
            f"ORDER BY category{order}, outcome{order}, reason{order}",
            (project_id, since),
        )
        return [Outcome(*row) for row in rows]

    # -- events ------------------------------------------------------------

    def get_event(self, project_id: int, event_id: str) -> StoredEvent | None:
        row = self._first(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE project_id = ? AND event_id = ?",
            (project_id, event_id.replace("-", "").lower()),
        )
        return stored_event_from_row(row) if row else None

    def issue_events(
        self,
        issue_id: int,
        *,
        limit: int,
        cursor: str | None,
        filters: IssueEventFilter | None = None,
    ) -> tuple[list[StoredEvent], str | None]:
        after = decode_cursor(cursor)
        wanted = filters or IssueEventFilter()
        scope, params = _event_scope(issue_id, wanted, after)
        # With a scan bound, the last event scanned (the ``scan``-th in order)
        # bounds the matching read: its index walk stops there.
        end = _scan_end(self._rows, scope, params, wanted.scan)
        sql = f"SELECT id, timestamp, {_EVENT_COLUMNS} FROM events WHERE {scope}"
        for column in ("level", "environment", "release"):
            value = getattr(wanted, column)
            if value is not None:
                sql += f" AND {column} = ?"
                params.append(value)
        if end:
            sql += " AND (timestamp > ? OR (timestamp = ? AND id >= ?))"
            params += [end[0], end[0], end[1]]
        sql += " ORDER BY timestamp DESC, id DESC LIMIT ?"
        params.append(limit + 1)
        rows = self._rows(sql, params)
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = encode_cursor(rows[-1]["timestamp"], rows[-1]["id"])
        elif end and end[2]:
            next_cursor = encode_cursor(end[0], end[1])
        return [stored_event_from_row(r) for r in rows], next_cursor

    def latest_event(self, issue_id: int) -> StoredEvent | None:
        events, _ = self.issue_events(issue_id, limit=1, cursor=None)
        return events[0] if events else None

    def events_by_trace(self, project_id: int, trace_id: str) -> list[StoredEvent]:
        rows = self._rows(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE project_id = ? AND trace_id = ? "
            "ORDER BY timestamp, id LIMIT 1000",
            (project_id, trace_id),
        )
        return [stored_event_from_row(r) for r in rows]

    # -- issues ------------------------------------------------------------

    def get_issue(self, issue_id: int) -> Issue | None:
        row = self._first(f"SELECT {ISSUE_COLUMNS} FROM issues WHERE id = ?", (issue_id,))
        return issue_from_row(row) if row else None

    def issue_by_number(self, project_id: int, number: int) -> Issue | None:
        if not 0 < number < 2**63:
            return None  # typed in a search box: no such issue, not an overflow
        row = self._first(
            f"SELECT {ISSUE_COLUMNS} FROM issues WHERE project_id = ? AND short_number = ?",
            (project_id, number),
        )
        return issue_from_row(row) if row else None

    def issue_hashes_present(self, project_id: int, hashes: Sequence[str]) -> set[str]:
        if not hashes:
            return set()
        condition, values = self.dialect.in_list("group_hash", list(hashes))
        rows = self._rows(
            f"SELECT group_hash FROM issues WHERE project_id = ? AND {condition}",
            [project_id, *values],
        )
        return {row[0] for row in rows}

    def list_issues(
        self, filters: IssueFilter, *, limit: int, cursor: str | None
    ) -> tuple[list[Issue], str | None]:
        column = SORT_COLUMNS[filters.sort]
        after = decode_cursor(cursor)
        conditions, params = issue_conditions(filters, self.dialect)
        sql = f"SELECT {ISSUE_COLUMNS} FROM issues WHERE {conditions}"
        if after:
            sql += f" AND ({column} < ? OR ({column} = ? AND id < ?))"
            params += [after[0], after[0], after[1]]
        sql += f" ORDER BY {column} DESC, id DESC LIMIT ?"
        params.append(limit + 1)
        rows = self._unprepared(sql, params)
        issues = [issue_from_row(r) for r in rows]
        next_cursor = None
        if len(issues) > limit:
            issues = issues[:limit]
            last = issues[-1]
            next_cursor = encode_cursor(issue_sort_value(last, filters.sort), last.id)
        return issues, next_cursor

    def count_issues(self, filters: IssueFilter, *, cap: int) -> int:
        """How many issues match, counting at most ``cap + 1`` rows (more than ``cap``: "cap+").

        A count over every matching row would cost as much as listing them all;
        past the cap, readers only need to know there are many.
        """
        conditions, params = issue_conditions(filters, self.dialect)
        rows = self._unprepared(
            f"SELECT COUNT(*) FROM (SELECT id FROM issues WHERE {conditions} LIMIT ?) AS matching",
            [*params, cap + 1],
        )
        return int(rows[0][0])

    def _unprepared(self, sql: str, params: Sequence[Any]) -> list[Any]:
        # Planned with its values every time: a tag value or a search matches
        # anything from one row to all of them (see SqlDialect.execute_unprepared).
        statement = self.dialect.sql(sql)
        return self.db.read(
            lambda c: self.dialect.execute_unprepared(c, statement, params).fetchall()
        )

    def latest_release(self, project_id: int) -> str | None:
        """The project's newest release: the one whose first event came last."""
        row = self._first(
            "SELECT t.value FROM issue_tags t JOIN issues i ON i.id = t.issue_id "
            "WHERE t.key = 'release' AND i.project_id = ? "
            f"GROUP BY t.value ORDER BY MIN(t.first_seen) DESC, t.value{self.dialect.text_order} "
            "DESC LIMIT 1",
            (project_id,),
        )
        return str(row[0]) if row else None

    def has_tag_key(self, project_id: int, key: str) -> bool:
        """Whether any issue of the project saw tag ``key``: a search on an unseen key is a typo."""
        row = self._first(
            "SELECT 1 FROM issue_tags t JOIN issues i ON i.id = t.issue_id "
            "WHERE t.key = ? AND i.project_id = ? LIMIT 1",
            (key, project_id),
        )
        return row is not None

    def issue_releases(self, issue_id: int, *, limit: int = 50) -> list[ReleaseSpan]:
        """Events, first and last seen per release of an issue, newest release first.

        Read from the issue's ``release`` tag counters, which digest keeps per
        event: no event is read, however many the issue has.
        """
        rows = self._rows(
            "SELECT value, times_seen, first_seen, last_seen FROM issue_tags "
            "WHERE issue_id = ? AND key = 'release' "
            f"ORDER BY first_seen DESC, value{self.dialect.text_order} LIMIT ?",
            (issue_id, limit),
        )
        return [ReleaseSpan(str(r[0]), int(r[1]), float(r[2]), float(r[3])) for r in rows]

    def issue_tags(self, issue_id: int, *, top: int = 10) -> list[TagCount]:
        order = self.dialect.text_order
        rows = self._rows(
            "SELECT key, value, times_seen FROM ("
            " SELECT key, value, times_seen, ROW_NUMBER() OVER ("
            f"  PARTITION BY key ORDER BY times_seen DESC, value{order}) AS rank"
            " FROM issue_tags WHERE issue_id = ?) AS ranked "
            f"WHERE rank <= ? ORDER BY key{order}, rank",
            (issue_id, top),
        )
        return [TagCount(*row) for row in rows]

    def issue_trend(self, issue_ids: Sequence[int], *, hours: int) -> dict[int, list[int]]:
        """Hourly event counts for the last ``hours`` hours, oldest first."""
        if not issue_ids:
            return {}
        now_hour = int(time.time() // 3600)
        start = now_hour - hours + 1
        condition, params = self.dialect.in_list("issue_id", issue_ids)
        rows = self._rows(
            f"SELECT issue_id, hour, count FROM issue_hourly WHERE {condition} AND hour >= ?",
            [*params, start],
        )
        return hourly_trend(issue_ids, rows, start=start, now_hour=now_hour)

    # -- read-only helpers for the web UI -----------------------------------

    def tag_values(self, project_id: int, key: str, *, limit: int = 100) -> list[str]:
        """Distinct values of one issue tag in a project, most recently seen first.

        Feeds the issue list's environment and release selects. Reads only the
        index ``issue_tags_by_value`` and issue rows by id (recency is that of
        the issues carrying the value), never event bodies: ~5 ms for 10k
        issues on SQLite, where :meth:`environments` scans events.
        """
        rows = self._rows(
            "SELECT t.value FROM issue_tags t JOIN issues i ON i.id = t.issue_id "
            "WHERE t.key = ? AND i.project_id = ? "
            "GROUP BY t.value ORDER BY MAX(i.last_seen) DESC LIMIT ?",
            (key, project_id, limit),
        )
        return [r[0] for r in rows]

    def event_neighbours(
        self, issue_id: int, event_id: str
    ) -> tuple[str | None, str | None] | None:
        """(newer, older) event ids around ``event_id`` in its issue, or None if absent.

        Same order as :meth:`issue_events` (timestamp, then row id), so
        stepping with these ids visits every event exactly once.
        """
        sql = self.dialect.sql
        find = sql("SELECT id, timestamp FROM events WHERE issue_id = ? AND event_id = ?")
        newer_sql = sql(
            "SELECT event_id FROM events WHERE issue_id = ? "
            "AND (timestamp > ? OR (timestamp = ? AND id > ?)) "
            "ORDER BY timestamp, id LIMIT 1"
        )
        older_sql = sql(
            "SELECT event_id FROM events WHERE issue_id = ? "
            "AND (timestamp < ? OR (timestamp = ? AND id < ?)) "
            "ORDER BY timestamp DESC, id DESC LIMIT 1"
        )

        def query(conn: ReadConnection) -> tuple[str | None, str | None] | None:
            row = conn.execute(find, (issue_id, event_id)).fetchone()
            if row is None:
                return None
            row_id, ts = row
            newer = conn.execute(newer_sql, (issue_id, ts, ts, row_id)).fetchone()
            older = conn.execute(older_sql, (issue_id, ts, ts, row_id)).fetchone()
            return (newer[0] if newer else None, older[0] if older else None)

        return self.db.read(query)

    def oldest_event_id(self, issue_id: int) -> str | None:
        """The first event of an issue (the "Oldest" link on the issue page)."""
        row = self._first(
            "SELECT event_id FROM events WHERE issue_id = ? ORDER BY timestamp, id LIMIT 1",
            (issue_id,),
        )
        return row[0] if row else None
