"""Read methods for LLM analytics, one implementation for every SQL backend.

A mixin of the stores (through each backend's ``llm`` module, which names
its :class:`~heliograph.store.sql_dialect.SqlDialect` and its database).
Every method reads the tables the backend's ``llm_write`` module writes: the
dashboard only touches the hourly/daily rollups (a month is a few thousand
rows whatever the traffic), lists walk an index in order with a keyset
cursor, and a trace is one index range. None of them parses an event's JSON.

The SQL is written once, with ``?`` placeholders; the dialect supplies what
the backends spell differently, so that PostgreSQL's results are the ones
SQLite gives (integers, not Decimals; byte-wise text order). Ties are broken
by row id where an index walk would otherwise decide them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import orjson

from heliograph.store.base import TimeUnit
from heliograph.store.cursors import decode_cursor, encode_cursor
from heliograph.store.llm_records import (
    SORT_EXPRESSIONS,
    FlagUsageRow,
    LlmEventFilter,
    LlmEventRecord,
    SessionRecord,
    TraceError,
    TraceFilter,
    TraceRecord,
    UsageRow,
)
from heliograph.store.llm_rows import (
    EVENT_COLUMNS,
    MAX_TRACE_EVENTS,
    TRACE_COLUMNS,
    event_record,
    trace_record,
)
from heliograph.store.llm_search import search_words
from heliograph.store.sql_dialect import SqlDialect
from heliograph.store.web_records import matches

__all__ = ["LlmReadsMixin", "ReadConnection", "ReadCursor", "ReadDatabase"]

T = TypeVar("T")


class ReadCursor(Protocol):
    """What a query's result gives: rows indexable by position (and by name)."""

    def fetchall(self) -> list[Any]: ...

    def fetchone(self) -> Any: ...


class ReadConnection(Protocol):
    """The connection a read gets: ``sqlite3.Connection`` or psycopg's."""

    def execute(self, sql: str, params: Sequence[Any], /) -> ReadCursor: ...


class ReadDatabase(Protocol):
    """A backend's database: runs a read under its time limit."""

    def read(self, query: Callable[[ReadConnection], T]) -> T: ...


DbT = TypeVar("DbT", bound=ReadDatabase)


# A property filter reads documents: this many rows at a time, at most this many a call.
PROPERTY_CHUNK = 500
PROPERTY_SCAN_LIMIT = 20_000
# Traces a model or property filter of the trace list looks among, the newest first.
MAX_MATCHED_TRACES = 5_000


def _cursor_at(record: LlmEventRecord, sort: str) -> str:
    """The cursor that goes on after ``record`` in the list's order."""
    if sort == "cost":
        value = record.total_cost_usd
    elif sort == "latency":
        value = record.latency_s
    else:
        return encode_cursor(record.timestamp, record.id)
    return encode_cursor(-1.0 if value is None else float(value), record.id)


def _conditions(params: list[Any], *conditions: tuple[str, Any]) -> str:
    """`` AND``-ed conditions (one ``?`` each) whose value is not ``None``.

    Their values are appended to ``params`` in the same order.
    """
    sql = ""
    for condition, value in conditions:
        if value is not None:
            sql += f" AND {condition}"
            params.append(value)
    return sql


class LlmReadsMixin(Generic[DbT]):
    """LLM analytics reads; the class using it provides ``db`` and ``dialect``.

    Generic in the backend's database class, so that a store's other mixins
    may declare ``db`` as that class too.
    """

    db: DbT
    dialect: ClassVar[SqlDialect]

    def _all(self, sql: str, params: Sequence[Any]) -> list[Any]:
        statement = self.dialect.sql(sql)
        return self.db.read(lambda c: c.execute(statement, params).fetchall())

    def _one(self, sql: str, params: Sequence[Any]) -> Any:
        statement = self.dialect.sql(sql)
        return self.db.read(lambda c: c.execute(statement, params).fetchone())

    def _usage_sums(self) -> str:
        d = self.dialect
        return (
            f"{d.int_sum('requests')}, {d.int_sum('errors')}, {d.int_sum('input_tokens')}, "
            f"{d.int_sum('output_tokens')}, {d.int_sum('cache_read_tokens')}, "
            f"{d.int_sum('cache_creation_tokens')}, {d.int_sum('reasoning_tokens')}, "
            f"SUM(cost_usd), {d.int_sum('priced')}, SUM(latency_sum), "
            f"{d.int_sum('latency_count')}, SUM(ttft_sum), {d.int_sum('ttft_count')}"
        )

    # -- dashboard: rollups only ------------------------------------------------

    def llm_usage_by_time(
        self, project_id: int, first_hour: int, last_hour: int, unit: TimeUnit
    ) -> list[UsageRow]:
        """Usage per hour or per UTC day (``slot``) for hours ``first_hour..last_hour``."""
        width = 24 if unit == "day" else 1
        sql = (
            f"SELECT hour / {width} AS slot, '', '', {self._usage_sums()} FROM llm_hourly "
            "WHERE project_id = ? AND hour BETWEEN ? AND ? GROUP BY slot ORDER BY slot"
        )
        return [UsageRow(*row) for row in self._all(sql, (project_id, first_hour, last_hour))]

    def llm_usage_by_model(
        self, project_id: int, first_hour: int, last_hour: int
    ) -> list[UsageRow]:
        """Usage per (model, provider) over hours ``first_hour..last_hour``, most used first."""
        order = self.dialect.text_order
        sql = (
            f"SELECT {self.dialect.typed_null('bigint')}, model, provider, {self._usage_sums()} "
            "FROM llm_hourly WHERE project_id = ? AND hour BETWEEN ? AND ? "
            f"GROUP BY model, provider ORDER BY SUM(requests) DESC, model{order}, provider{order}"
        )
        return [UsageRow(*row) for row in self._all(sql, (project_id, first_hour, last_hour))]

    def llm_latency_by_time(
        self, project_id: int, first: int, last: int, unit: TimeUnit
    ) -> dict[int, dict[int, int]]:
        """Latency histograms per slot (hours or days ``first..last``): slot -> bucket -> n."""
        table = "llm_latency_daily" if unit == "day" else "llm_latency_hourly"
        sql = (
            f"SELECT {unit}, bucket, {self.dialect.int_sum('count')} FROM {table} "
            f"WHERE project_id = ? AND {unit} BETWEEN ? AND ? GROUP BY {unit}, bucket"
        )
        result: dict[int, dict[int, int]] = {}
        for slot, bucket, count in self._all(sql, (project_id, first, last)):
            result.setdefault(slot, {})[bucket] = count
        return result

    def llm_latency_by_model(
        self, project_id: int, first: int, last: int, unit: TimeUnit
    ) -> dict[tuple[str, str], dict[int, int]]:
        """Latency histograms per (model, provider) over slots ``first..last``."""
        table = "llm_latency_daily" if unit == "day" else "llm_latency_hourly"
        sql = (
            f"SELECT model, provider, bucket, {self.dialect.int_sum('count')} FROM {table} "
            f"WHERE project_id = ? AND {unit} BETWEEN ? AND ? GROUP BY model, provider, bucket"
        )
        result: dict[tuple[str, str], dict[int, int]] = {}
        for model, provider, bucket, count in self._all(sql, (project_id, first, last)):
            result.setdefault((model, provider), {})[bucket] = count
        return result

    def llm_models(self, project_id: int, since_hour: int) -> list[tuple[str, str]]:
        """(model, provider) pairs seen since ``since_hour``: the filter choices."""
        order = self.dialect.text_order
        sql = (
            "SELECT model, provider FROM llm_hourly WHERE project_id = ? AND hour >= ? "
            f"GROUP BY model, provider ORDER BY model{order}, provider{order}"
        )
        return [(row[0], row[1]) for row in self._all(sql, (project_id, since_hour))]

    def llm_flags(self, project_id: int, since_hour: int) -> list[str]:
        """Flags whose values generations carried since ``since_hour``, by name."""
        sql = (
            "SELECT flag FROM llm_flag_hourly WHERE project_id = ? AND hour >= ? "
            f"GROUP BY flag ORDER BY flag{self.dialect.text_order}"
        )
        return [row[0] for row in self._all(sql, (project_id, since_hour))]

    def llm_usage_by_flag(
        self, project_id: int, flag: str, first_hour: int, last_hour: int
    ) -> list[FlagUsageRow]:
        """Per value of ``flag``, the generations that carried it between the two hours."""
        d = self.dialect
        sql = (
            f"SELECT value, {d.int_sum('requests')}, {d.int_sum('errors')}, "
            f"{d.int_sum('input_tokens')}, {d.int_sum('output_tokens')}, SUM(cost_usd), "
            f"{d.int_sum('priced')}, SUM(latency_sum), {d.int_sum('latency_count')} "
            "FROM llm_flag_hourly WHERE project_id = ? AND flag = ? AND hour BETWEEN ? AND ? "
            f"GROUP BY value ORDER BY value{d.text_order}"
        )
        rows = self._all(sql, (project_id, flag, first_hour, last_hour))
        return [FlagUsageRow(*row) for row in rows]

    def llm_top_traces(
        self, project_id: int, since: float, until: float, *, limit: int = 10
    ) -> list[TraceRecord]:
        """The costliest traces started in ``[since, until)``.

        Walks the cost index from the top and keeps traces in the range: for
        a recent range the first few hundred entries hold the answer, and
        for a long one nearly every entry is in it. Equal costs come newest
        row first (the index's own order, so no sort is added).
        """
        sql = (
            f"SELECT {TRACE_COLUMNS} FROM llm_traces"
            f"{self.dialect.index_hint('llm_traces_by_cost')} "
            "WHERE project_id = ? AND cost_usd > 0 AND started_at >= ? AND started_at < ? "
            "ORDER BY cost_usd DESC, id DESC LIMIT ?"
        )
        return [trace_record(r) for r in self._all(sql, (project_id, since, until, limit))]

    # -- generations and traces: keyset pages -----------------------------------

    def _page(
        self, sql: str, params: list[Any], time_column: str, limit: int, cursor: str | None
    ) -> tuple[list[Any], str | None]:
        """Rows of ``sql`` newest first by ``time_column`` then id, after ``cursor``.

        Returns at most ``limit`` rows and the cursor that continues after
        the last one (``None`` when there are no more).
        """
        after = decode_cursor(cursor)
        if after:
            sql += f" AND ({time_column} < ? OR ({time_column} = ? AND id < ?))"
            params = [*params, after[0], after[0], after[1]]
        sql += f" ORDER BY {time_column} DESC, id DESC LIMIT ?"
        rows = self._all(sql, [*params, limit + 1])
        if len(rows) <= limit:
            return rows, None
        last = rows[limit - 1]
        return rows[:limit], encode_cursor(last[time_column], last["id"])

    def llm_events(
        self, filters: LlmEventFilter, *, limit: int, cursor: str | None = None
    ) -> tuple[list[LlmEventRecord], str | None]:
        """Newest first, ``limit`` at a time; the cursor continues after the last row."""
        sql = f"SELECT {EVENT_COLUMNS} FROM llm_events WHERE project_id = ?"
        params: list[Any] = [filters.project_id]
        if filters.names:
            condition, values = self.dialect.in_list("name", filters.names)
            sql += f" AND {condition}"
            params += values
        if filters.errors_only:
            sql += " AND is_error = 1"
        sql += _conditions(
            params,
            ("model = ?", filters.model),
            ("provider = ?", filters.provider),
            ("distinct_id = ?", filters.distinct_id),
            ("trace_id = ?", filters.trace_id),
            ("session_id = ?", filters.session_id),
            ("environment = ?", filters.environment),
            ("release = ?", filters.release),
            ("timestamp >= ?", filters.since),
            ("timestamp < ?", filters.until),
        )
        words = search_words(filters.text or "")
        if words:
            condition, values = self.dialect.llm_text_search(words)
            sql += f" AND {condition}"
            params += values

        def fetch(after: str | None, count: int) -> tuple[list[Any], str | None]:
            if filters.sort != "newest":
                expression = SORT_EXPRESSIONS[filters.sort]
                return self._sorted_page(sql, params, expression, count, after)
            return self._page(sql, params, "timestamp", count, after)

        if filters.properties:
            return self._with_properties(fetch, filters, limit, cursor)
        rows, next_cursor = fetch(cursor, limit)
        return [event_record(r) for r in rows], next_cursor

    def _with_properties(
        self,
        fetch: Callable[[str | None, int], tuple[list[Any], str | None]],
        filters: LlmEventFilter,
        limit: int,
        cursor: str | None,
    ) -> tuple[list[LlmEventRecord], str | None]:
        """Rows whose event's properties meet ``filters.properties``, read in chunks.

        A property lives in the event's document: the rows are read in the
        list's order, their documents looked up, at most
        :data:`PROPERTY_SCAN_LIMIT` rows per call. A page may come back short,
        even empty, with a cursor that goes on where the reading stopped.
        """
        found: list[LlmEventRecord] = []
        scanned = 0
        while True:
            rows, next_cursor = fetch(cursor, PROPERTY_CHUNK)
            records = [event_record(r) for r in rows]
            documents = self._event_properties([r.id for r in records])
            for record in records:
                if matches(documents.get(record.id, {}), filters.properties):
                    if len(found) == limit:
                        return found, _cursor_at(found[-1], filters.sort)
                    found.append(record)
                scanned += 1
                if scanned >= PROPERTY_SCAN_LIMIT:
                    return found, _cursor_at(record, filters.sort)
            if next_cursor is None:
                return found, None
            cursor = next_cursor

    def _event_properties(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        """The properties of the events with these row ids (their documents, parsed)."""
        if not ids:
            return {}
        condition, values = self.dialect.in_list("id", ids)
        found: dict[int, dict[str, Any]] = {}
        for row_id, data in self._all(f"SELECT id, data FROM events WHERE {condition}", values):
            try:
                document = orjson.loads(bytes(data))
            except orjson.JSONDecodeError:
                continue
            properties = document.get("properties") if isinstance(document, dict) else None
            found[int(row_id)] = properties if isinstance(properties, dict) else {}
        return found

    def _sorted_page(
        self, sql: str, params: list[Any], expression: str, limit: int, cursor: str | None
    ) -> tuple[list[Any], str | None]:
        """Rows of ``sql`` by ``expression`` descending then id, after ``cursor``."""
        after = decode_cursor(cursor)
        if after:
            sql += f" AND ({expression} < ? OR ({expression} = ? AND id < ?))"
            params = [*params, after[0], after[0], after[1]]
        sql = sql.replace(
            f"SELECT {EVENT_COLUMNS} FROM",
            f"SELECT {EVENT_COLUMNS}, {expression} AS sort_key FROM",
        )
        sql += f" ORDER BY {expression} DESC, id DESC LIMIT ?"
        rows = [tuple(row) for row in self._all(sql, [*params, limit + 1])]
        page = [row[:-1] for row in rows[:limit]]  # without the sort key
        if len(rows) <= limit:
            return page, None
        last = rows[limit - 1]
        return page, encode_cursor(float(last[-1]), int(last[0]))  # the id is the first column

    def llm_event(self, project_id: int, event_id: str) -> LlmEventRecord | None:
        row = self._one(
            f"SELECT {EVENT_COLUMNS} FROM llm_events WHERE id = "
            "(SELECT id FROM events WHERE project_id = ? AND event_id = ?)",
            (project_id, event_id),
        )
        return event_record(row) if row else None

    def llm_traces(
        self, filters: TraceFilter, *, limit: int, cursor: str | None = None
    ) -> tuple[list[TraceRecord], str | None]:
        """Traces, most recently started first, with a keyset cursor."""
        sql = f"SELECT {TRACE_COLUMNS} FROM llm_traces WHERE project_id = ?"
        params: list[Any] = [filters.project_id]
        if filters.errors_only:
            # A failed call, or an application error of the same trace (what the
            # trace page shows as "linked errors").
            linked, linked_params = self._linked_errors_condition(filters)
            sql += f" AND (errors > 0 OR {linked})"
            params += linked_params
        sql += _conditions(
            params,
            ("session_id = ?", filters.session_id),
            ("distinct_id = ?", filters.distinct_id),
            ("environment = ?", filters.environment),
            ("release = ?", filters.release),
            ("started_at >= ?", filters.since),
            ("started_at < ?", filters.until),
        )
        if filters.model is not None or filters.properties:
            trace_ids = self._traces_with_calls(filters)
            if not trace_ids:
                return [], None
            condition, values = self.dialect.in_list("trace_id", sorted(trace_ids))
            sql += f" AND {condition}"
            params += values
        rows, next_cursor = self._page(sql, params, "started_at", limit, cursor)
        return [trace_record(r) for r in rows], next_cursor

    def _traces_with_calls(self, filters: TraceFilter) -> set[str]:
        """The traces (of the range) with a call of ``filters.model`` and properties.

        Read through :meth:`llm_events` (so in ClickHouse where the calls are
        there), newest first, at most :data:`MAX_MATCHED_TRACES` traces.
        """
        query = LlmEventFilter(
            filters.project_id,
            since=filters.since,
            until=filters.until,
            model=filters.model,
            properties=filters.properties,
        )
        found: set[str] = set()
        cursor: str | None = None
        for _ in range(PROPERTY_SCAN_LIMIT // PROPERTY_CHUNK):
            rows, cursor = self.llm_events(query, limit=PROPERTY_CHUNK, cursor=cursor)
            found.update(row.trace_id for row in rows if row.trace_id)
            if cursor is None or len(found) >= MAX_MATCHED_TRACES:
                break
        return found

    def _linked_errors_condition(self, filters: TraceFilter) -> tuple[str, list[Any]]:
        """``llm_traces`` rows whose trace has an application error: one index probe
        per row, where errors live in this database's ``events`` (a backend keeping
        them elsewhere says so its own way)."""
        return (
            "EXISTS (SELECT 1 FROM events e WHERE e.project_id = llm_traces.project_id"
            " AND e.trace_id = llm_traces.trace_id AND e.kind = 'error')",
            [],
        )

    # -- one trace --------------------------------------------------------------

    def llm_trace(self, project_id: int, trace_id: str) -> TraceRecord | None:
        row = self._one(
            f"SELECT {TRACE_COLUMNS} FROM llm_traces WHERE project_id = ? AND trace_id = ?",
            (project_id, trace_id),
        )
        return trace_record(row) if row else None

    def llm_trace_events(self, project_id: int, trace_id: str) -> list[LlmEventRecord]:
        """Every event of a trace in start order (at most ``MAX_TRACE_EVENTS``)."""
        rows = self._all(
            f"SELECT {EVENT_COLUMNS} FROM llm_events WHERE project_id = ? AND trace_id = ? "
            "ORDER BY started_at, id LIMIT ?",
            (project_id, trace_id, MAX_TRACE_EVENTS),
        )
        return [event_record(r) for r in rows]

    def llm_trace_errors(self, project_id: int, trace_id: str) -> list[TraceError]:
        """Error events carrying this trace id, each with its issue's title."""
        rows = self._all(
            "SELECT e.event_id, e.issue_id, e.timestamp, COALESCE(i.title, e.name), "
            "COALESCE(i.level, e.level, 'error') FROM events e "
            "LEFT JOIN issues i ON i.id = e.issue_id "
            "WHERE e.project_id = ? AND e.trace_id = ? AND e.kind = 'error' "
            "ORDER BY e.timestamp, e.id LIMIT 100",
            (project_id, trace_id),
        )
        return [TraceError(*row) for row in rows]

    def llm_trace_exists(self, project_id: int, trace_id: str) -> bool:
        """Whether any LLM event shares this trace id (the issue page's "LLM trace" link)."""
        row = self._one(
            "SELECT 1 FROM llm_traces WHERE project_id = ? AND trace_id = ?",
            (project_id, trace_id),
        )
        return row is not None

    # -- sessions ---------------------------------------------------------------

    def llm_sessions(
        self,
        project_id: int,
        *,
        since: float,
        limit: int,
        cursor: str | None = None,
        distinct_id: str | None = None,
        environment: str | None = None,
        release: str | None = None,
    ) -> tuple[list[SessionRecord], str | None]:
        """Sessions with a trace started since ``since``, most recently active first.

        The cursor is (last activity, row id of the session's first trace)
        so that it is a stable keyset even though sessions are groups. The
        filters keep the traces of that user, environment or release.
        """
        d = self.dialect
        after = decode_cursor(cursor)
        having = ""
        params: list[Any] = [project_id, since]
        narrowed = _conditions(
            params,
            ("distinct_id = ?", distinct_id),
            ("environment = ?", environment),
            ("release = ?", release),
        )
        if after:
            having = " HAVING MAX(ended_at) < ? OR (MAX(ended_at) = ? AND MIN(id) < ?)"
            params += [after[0], after[0], after[1]]
        params.append(limit + 1)
        sql = (
            f"SELECT session_id, COUNT(*), {d.int_sum('generations')}, {d.int_sum('errors')}, "
            f"{d.int_sum('input_tokens')}, {d.int_sum('output_tokens')}, SUM(cost_usd), "
            f"{d.int_sum('unpriced')}, MIN(started_at), MAX(ended_at), "
            f"MAX(distinct_id{d.text_order}), MIN(id) FROM llm_traces "
            f"WHERE project_id = ? AND session_id IS NOT NULL AND started_at >= ?{narrowed} "
            f"GROUP BY session_id{having} ORDER BY MAX(ended_at) DESC, MIN(id) DESC LIMIT ?"
        )
        rows = self._all(sql, params)
        sessions = [SessionRecord(*row[:11]) for row in rows]
        next_cursor = None
        if len(rows) > limit:
            sessions = sessions[:limit]
            next_cursor = encode_cursor(rows[limit - 1][9], rows[limit - 1][11])
        return sessions, next_cursor
