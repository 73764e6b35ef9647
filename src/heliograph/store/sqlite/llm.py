"""Read methods for LLM analytics on the embedded SQLite store.

A mixin of :class:`~heliograph.store.sqlite.SQLiteStore`. Every method reads
the tables written by :mod:`heliograph.store.sqlite.llm_write`: the dashboard only
touches the hourly/daily rollups (a month is a few thousand rows whatever
the traffic), lists walk an index in order with a keyset cursor, and a trace
is one index range. None of them parses an event's JSON.
"""

from __future__ import annotations

from typing import Any

from heliograph.store.base import TimeUnit
from heliograph.store.cursors import decode_cursor, encode_cursor
from heliograph.store.llm_records import (
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
from heliograph.store.sqlite.database import Database

__all__ = ["LlmStoreMixin"]

_USAGE_SUMS = (
    "SUM(requests), SUM(errors), SUM(input_tokens), SUM(output_tokens), SUM(cache_read_tokens), "
    "SUM(cache_creation_tokens), SUM(reasoning_tokens), SUM(cost_usd), SUM(priced), "
    "SUM(latency_sum), SUM(latency_count), SUM(ttft_sum), SUM(ttft_count)"
)


class LlmStoreMixin:
    """LLM analytics reads; the class using it provides ``db``."""

    db: Database

    # -- dashboard: rollups only ------------------------------------------------

    def llm_usage_by_time(
        self, project_id: int, first_hour: int, last_hour: int, unit: TimeUnit
    ) -> list[UsageRow]:
        """Usage per hour or per UTC day (``slot``) for hours ``first_hour..last_hour``."""
        width = 24 if unit == "day" else 1
        sql = (
            f"SELECT hour / {width} AS slot, '', '', {_USAGE_SUMS} FROM llm_hourly "
            "WHERE project_id = ? AND hour BETWEEN ? AND ? GROUP BY slot ORDER BY slot"
        )
        rows = self.db.read(
            lambda c: c.execute(sql, (project_id, first_hour, last_hour)).fetchall()
        )
        return [UsageRow(*row) for row in rows]

    def llm_usage_by_model(
        self, project_id: int, first_hour: int, last_hour: int
    ) -> list[UsageRow]:
        """Usage per (model, provider) over hours ``first_hour..last_hour``, most used first."""
        sql = (
            f"SELECT NULL, model, provider, {_USAGE_SUMS} FROM llm_hourly "
            "WHERE project_id = ? AND hour BETWEEN ? AND ? GROUP BY model, provider "
            "ORDER BY SUM(requests) DESC, model, provider"
        )
        rows = self.db.read(
            lambda c: c.execute(sql, (project_id, first_hour, last_hour)).fetchall()
        )
        return [UsageRow(*row) for row in rows]

    def llm_latency_by_time(
        self, project_id: int, first: int, last: int, unit: TimeUnit
    ) -> dict[int, dict[int, int]]:
        """Latency histograms per slot (hours or days ``first..last``): slot -> bucket -> n."""
        table = "llm_latency_daily" if unit == "day" else "llm_latency_hourly"
        sql = (
            f"SELECT {unit}, bucket, SUM(count) FROM {table} "
            f"WHERE project_id = ? AND {unit} BETWEEN ? AND ? GROUP BY {unit}, bucket"
        )
        result: dict[int, dict[int, int]] = {}
        for slot, bucket, count in self.db.read(
            lambda c: c.execute(sql, (project_id, first, last)).fetchall()
        ):
            result.setdefault(slot, {})[bucket] = count
        return result

    def llm_latency_by_model(
        self, project_id: int, first: int, last: int, unit: TimeUnit
    ) -> dict[tuple[str, str], dict[int, int]]:
        """Latency histograms per (model, provider) over slots ``first..last``."""
        table = "llm_latency_daily" if unit == "day" else "llm_latency_hourly"
        sql = (
            f"SELECT model, provider, bucket, SUM(count) FROM {table} "
            f"WHERE project_id = ? AND {unit} BETWEEN ? AND ? GROUP BY model, provider, bucket"
        )
        result: dict[tuple[str, str], dict[int, int]] = {}
        for model, provider, bucket, count in self.db.read(
            lambda c: c.execute(sql, (project_id, first, last)).fetchall()
        ):
            result.setdefault((model, provider), {})[bucket] = count
        return result

    def llm_models(self, project_id: int, since_hour: int) -> list[tuple[str, str]]:
        """(model, provider) pairs seen since ``since_hour``: the filter choices."""
        rows = self.db.read(
            lambda c: c.execute(
                "SELECT model, provider FROM llm_hourly WHERE project_id = ? AND hour >= ? "
                "GROUP BY model, provider ORDER BY model, provider",
                (project_id, since_hour),
            ).fetchall()
        )
        return [(row[0], row[1]) for row in rows]

    def llm_top_traces(
        self, project_id: int, since: float, until: float, *, limit: int = 10
    ) -> list[TraceRecord]:
        """The costliest traces started in ``[since, until)``.

        Walks the cost index from the top and keeps traces in the range: for
        a recent range the first few hundred entries hold the answer, and
        for a long one nearly every entry is in it.
        """
        rows = self.db.read(
            lambda c: c.execute(
                f"SELECT {TRACE_COLUMNS} FROM llm_traces INDEXED BY llm_traces_by_cost "
                "WHERE project_id = ? AND cost_usd > 0 AND started_at >= ? AND started_at < ? "
                "ORDER BY cost_usd DESC LIMIT ?",
                (project_id, since, until, limit),
            ).fetchall()
        )
        return [trace_record(r) for r in rows]

    # -- generations ------------------------------------------------------------

    def llm_events(
        self, filters: LlmEventFilter, *, limit: int, cursor: str | None = None
    ) -> tuple[list[LlmEventRecord], str | None]:
        """Newest first, ``limit`` at a time; the cursor continues after the last row."""
        sql = f"SELECT {EVENT_COLUMNS} FROM llm_events WHERE project_id = ?"
        params: list[Any] = [filters.project_id]
        if filters.names:
            sql += f" AND name IN ({','.join('?' * len(filters.names))})"
            params += filters.names
        for column, value in (
            ("model", filters.model),
            ("provider", filters.provider),
            ("distinct_id", filters.distinct_id),
            ("trace_id", filters.trace_id),
        ):
            if value is not None:
                sql += f" AND {column} = ?"
                params.append(value)
        if filters.errors_only:
            sql += " AND is_error = 1"
        if filters.since is not None:
            sql += " AND timestamp >= ?"
            params.append(filters.since)
        if filters.until is not None:
            sql += " AND timestamp < ?"
            params.append(filters.until)
        after = decode_cursor(cursor)
        if after:
            sql += " AND (timestamp < ? OR (timestamp = ? AND id < ?))"
            params += [after[0], after[0], after[1]]
        sql += " ORDER BY timestamp DESC, id DESC LIMIT ?"
        params.append(limit + 1)
        rows = [event_record(r) for r in self.db.read(lambda c: c.execute(sql, params).fetchall())]
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = encode_cursor(rows[-1].timestamp, rows[-1].id)
        return rows, next_cursor

    def llm_event(self, project_id: int, event_id: str) -> LlmEventRecord | None:
        row = self.db.read(
            lambda c: c.execute(
                f"SELECT {EVENT_COLUMNS} FROM llm_events WHERE id = "
                "(SELECT id FROM events WHERE project_id = ? AND event_id = ?)",
                (project_id, event_id),
            ).fetchone()
        )
        return event_record(row) if row else None

    # -- traces -----------------------------------------------------------------

    def llm_traces(
        self, filters: TraceFilter, *, limit: int, cursor: str | None = None
    ) -> tuple[list[TraceRecord], str | None]:
        """Traces, most recently started first, with a keyset cursor."""
        sql = f"SELECT {TRACE_COLUMNS} FROM llm_traces WHERE project_id = ?"
        params: list[Any] = [filters.project_id]
        if filters.session_id is not None:
            sql += " AND session_id = ?"
            params.append(filters.session_id)
        if filters.distinct_id is not None:
            sql += " AND distinct_id = ?"
            params.append(filters.distinct_id)
        if filters.errors_only:
            sql += " AND errors > 0"
        if filters.since is not None:
            sql += " AND started_at >= ?"
            params.append(filters.since)
        if filters.until is not None:
            sql += " AND started_at < ?"
            params.append(filters.until)
        after = decode_cursor(cursor)
        if after:
            sql += " AND (started_at < ? OR (started_at = ? AND id < ?))"
            params += [after[0], after[0], after[1]]
        sql += " ORDER BY started_at DESC, id DESC LIMIT ?"
        params.append(limit + 1)
        rows = [trace_record(r) for r in self.db.read(lambda c: c.execute(sql, params).fetchall())]
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = encode_cursor(rows[-1].started_at, rows[-1].id)
        return rows, next_cursor

    def llm_trace(self, project_id: int, trace_id: str) -> TraceRecord | None:
        row = self.db.read(
            lambda c: c.execute(
                f"SELECT {TRACE_COLUMNS} FROM llm_traces WHERE project_id = ? AND trace_id = ?",
                (project_id, trace_id),
            ).fetchone()
        )
        return trace_record(row) if row else None

    def llm_trace_events(self, project_id: int, trace_id: str) -> list[LlmEventRecord]:
        """Every event of a trace in start order (at most ``MAX_TRACE_EVENTS``)."""
        rows = self.db.read(
            lambda c: c.execute(
                f"SELECT {EVENT_COLUMNS} FROM llm_events WHERE project_id = ? AND trace_id = ? "
                "ORDER BY started_at, id LIMIT ?",
                (project_id, trace_id, MAX_TRACE_EVENTS),
            ).fetchall()
        )
        return [event_record(r) for r in rows]

    def llm_trace_errors(self, project_id: int, trace_id: str) -> list[TraceError]:
        """Error events carrying this trace id, each with its issue's title."""
        rows = self.db.read(
            lambda c: c.execute(
                "SELECT e.event_id, e.issue_id, e.timestamp, COALESCE(i.title, e.name), "
                "COALESCE(i.level, e.level, 'error') FROM events e "
                "LEFT JOIN issues i ON i.id = e.issue_id "
                "WHERE e.project_id = ? AND e.trace_id = ? AND e.kind = 'error' "
                "ORDER BY e.timestamp LIMIT 100",
                (project_id, trace_id),
            ).fetchall()
        )
        return [TraceError(*row) for row in rows]

    def llm_trace_exists(self, project_id: int, trace_id: str) -> bool:
        """Whether any LLM event shares this trace id (the issue page's "LLM trace" link)."""
        row = self.db.read(
            lambda c: c.execute(
                "SELECT 1 FROM llm_traces WHERE project_id = ? AND trace_id = ?",
                (project_id, trace_id),
            ).fetchone()
        )
        return row is not None

    # -- sessions ---------------------------------------------------------------

    def llm_sessions(
        self, project_id: int, *, since: float, limit: int, cursor: str | None = None
    ) -> tuple[list[SessionRecord], str | None]:
        """Sessions with a trace started since ``since``, most recently active first.

        The cursor is (last activity, row id of the session's first trace)
        so that it is a stable keyset even though sessions are groups.
        """
        after = decode_cursor(cursor)
        having = ""
        params: list[Any] = [project_id, since]
        if after:
            having = " HAVING MAX(ended_at) < ? OR (MAX(ended_at) = ? AND MIN(id) < ?)"
            params += [after[0], after[0], after[1]]
        params.append(limit + 1)
        sql = (
            "SELECT session_id, COUNT(*), SUM(generations), SUM(errors), SUM(input_tokens), "
            "SUM(output_tokens), SUM(cost_usd), SUM(unpriced), MIN(started_at), MAX(ended_at), "
            "MAX(distinct_id), MIN(id) FROM llm_traces "
            "WHERE project_id = ? AND session_id IS NOT NULL AND started_at >= ? "
            f"GROUP BY session_id{having} ORDER BY MAX(ended_at) DESC, MIN(id) DESC LIMIT ?"
        )
        rows = self.db.read(lambda c: c.execute(sql, params).fetchall())
        sessions = [SessionRecord(*row[:11]) for row in rows]
        next_cursor = None
        if len(rows) > limit:
            sessions = sessions[:limit]
            next_cursor = encode_cursor(rows[limit - 1][9], rows[limit - 1][11])
        return sessions, next_cursor
