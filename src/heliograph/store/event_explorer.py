"""The events explorer over the ``events`` table: SQLite and PostgreSQL.

Events keep their properties in a JSON document (a BLOB in SQLite, BYTEA in
PostgreSQL), which neither database can filter by a property without
parsing every document of the range. So the database narrows by what is
indexed (project, kind, time, and the name or the distinct ids: indexes of
migration 9), newest first, in chunks; Python applies the property filters
(:func:`heliograph.store.web_records.matches`, the rule ClickHouse spells in
SQL) and groups breakdowns.

Every request reads at most :data:`SCAN_LIMIT` events: a list page stops
there with a cursor that continues where it stopped, and a breakdown counts
the newest :data:`SCAN_LIMIT` events of the range and says so
(``EventBreakdown.complete``). With events in ClickHouse the explorer reads
ClickHouse instead (``store/clickhouse/web_reads.py``), which counts the
whole range.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Generic

import orjson

from heliograph.model import Event
from heliograph.store.base import StoredEvent, TimeUnit
from heliograph.store.cursors import decode_cursor, encode_cursor
from heliograph.store.llm_reads import DbT, ReadConnection
from heliograph.store.sql_dialect import SqlDialect
from heliograph.store.web_records import EventBreakdown, EventQuery, matches, property_text

__all__ = ["CHUNK_ROWS", "SCAN_LIMIT", "EventExplorerMixin", "bucket_start", "top_series"]

SCAN_LIMIT = 50_000
CHUNK_ROWS = 2_000
_UNIT_SECONDS = {"hour": 3600, "day": 86400}


def bucket_start(timestamp: float, unit: TimeUnit) -> int:
    """The start (seconds) of the hour or UTC day holding ``timestamp``."""
    size = _UNIT_SECONDS[unit]
    return int(timestamp // size) * size


def top_series(
    counts: dict[str | None, dict[int, int]], top: int
) -> tuple[list[tuple[str | None, int]], dict[str | None, dict[int, int]]]:
    """The ``top`` values by count (ties by value) and their series; the rest dropped."""
    totals = sorted(
        ((value, sum(series.values())) for value, series in counts.items()),
        key=lambda item: (-item[1], item[0] is None, item[0] or ""),
    )[:top]
    return totals, {value: counts[value] for value, _ in totals}


def _fetch_all(statement: str, params: list[Any]) -> Callable[[ReadConnection], list[Any]]:
    def query(conn: ReadConnection) -> list[Any]:
        return conn.execute(statement, params).fetchall()

    return query


def _document(data: Any) -> dict[str, Any]:
    try:
        loaded = orjson.loads(bytes(data))
    except orjson.JSONDecodeError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _properties(document: dict[str, Any]) -> dict[str, Any]:
    found = document.get("properties")
    return found if isinstance(found, dict) else {}


class EventExplorerMixin(Generic[DbT]):
    """Explorer reads shared by SQLite and PostgreSQL; the class provides ``db``, ``dialect``."""

    db: DbT
    dialect: ClassVar[SqlDialect]

    def _scan(
        self, query: EventQuery, after: tuple[float, int] | None
    ) -> Iterator[tuple[int, float, dict[str, Any]]]:
        """(row id, time, document) of the query's events, newest first, unfiltered by property."""
        # A person's events: through the distinct-id index, whatever the planner guesses
        # (SQLite picks the time index for an IN list and reads every event of the range).
        hint = self.dialect.index_hint("events_by_distinct_id") if query.distinct_ids else ""
        sql = (
            f"SELECT id, timestamp, data FROM events{hint} WHERE project_id = ? "
            "AND kind = 'analytics' AND timestamp >= ? AND timestamp < ?"
        )
        params: list[Any] = [query.project_id, query.since, query.until]
        if query.name is not None:
            sql += " AND name = ?"
            params.append(query.name)
        if query.distinct_ids:
            condition, values = self.dialect.in_list("distinct_id", query.distinct_ids)
            sql += f" AND {condition}"
            params += values
        while True:
            page_sql, page_params = sql, list(params)
            if after is not None:
                page_sql += " AND (timestamp < ? OR (timestamp = ? AND id < ?))"
                page_params += [after[0], after[0], after[1]]
            statement = self.dialect.sql(
                page_sql + f" ORDER BY timestamp DESC, id DESC LIMIT {CHUNK_ROWS}"
            )
            rows = self.db.read(_fetch_all(statement, page_params))
            for row in rows:
                yield int(row[0]), float(row[1]), _document(row[2])
            if len(rows) < CHUNK_ROWS:
                return
            after = (float(rows[-1][1]), int(rows[-1][0]))

    def find_events(
        self, query: EventQuery, *, limit: int, cursor: str | None = None
    ) -> tuple[list[StoredEvent], str | None]:
        """Matching analytics events, newest first, ``limit`` at a time.

        Reads at most :data:`SCAN_LIMIT` events per call: a page may come back
        short with a cursor, which continues the scan where it stopped.
        """
        limit = max(1, limit)
        found: list[StoredEvent] = []
        last = (0.0, 0)
        scan = self._scan(query, decode_cursor(cursor))
        for scanned, (row_id, timestamp, document) in enumerate(scan, start=1):
            if matches(_properties(document), query.filters):
                if len(found) == limit:
                    return found, encode_cursor(*last)  # one more matched: a next page exists
                found.append(
                    StoredEvent(
                        project_id=query.project_id,
                        event_id=str(document.get("event_id", "")),
                        issue_id=None,
                        event=Event.from_dict(document),
                    )
                )
            last = (timestamp, row_id)
            if scanned >= SCAN_LIMIT:
                return found, encode_cursor(*last)
        return found, None

    def event_breakdown(
        self, query: EventQuery, prop: str | None, unit: TimeUnit, *, top: int = 10
    ) -> EventBreakdown:
        """Matching events per bucket, by the ``top`` values of ``prop`` (None: not split)."""
        counts: defaultdict[str | None, Counter[int]] = defaultdict(Counter)
        buckets: Counter[int] = Counter()
        scanned = 0
        total = 0
        for _row_id, timestamp, document in self._scan(query, None):
            scanned += 1
            properties = _properties(document)
            if matches(properties, query.filters):
                total += 1
                value = property_text(properties, prop) if prop else ""
                bucket = bucket_start(timestamp, unit)
                counts[value][bucket] += 1
                buckets[bucket] += 1
            if scanned >= SCAN_LIMIT:
                break
        complete = scanned < SCAN_LIMIT
        ranked, series = top_series({k: dict(v) for k, v in counts.items()}, top)
        return EventBreakdown(unit, total, ranked, series, scanned, complete, dict(buckets))
