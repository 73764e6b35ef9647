"""Who and what the LLM spend went to: totals of model calls grouped by a dimension.

Calls (``$ai_generation`` and ``$ai_embedding``) of a time range, grouped by
one of their columns (user, model, provider, environment, release, session)
or by any property (``customer_tier``, ``feature``), each group with its
calls, errors, tokens, cost, unpriced calls and latency: the users page, and
"break down cost by" on the dashboard.

Columns are grouped by the database, over the time index, whatever the
volume. A property lives in the event's JSON document, which SQLite and
PostgreSQL cannot group without parsing each one: those breakdowns (and any
property filter) read the calls newest first in chunks, at most
:data:`SCAN_LIMIT` of them, and say when they stopped short
(``LlmBreakdown.complete``). The ClickHouse mode groups everything in
ClickHouse (``store/clickhouse/store.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic

import orjson

from heliograph.llm_vocabulary import PRICED_EVENTS
from heliograph.store.llm_reads import DbT, ReadConnection
from heliograph.store.sql_dialect import SqlDialect
from heliograph.store.web_records import PropertyFilter, matches, property_text

__all__ = [
    "COLUMN_DIMENSIONS",
    "SCAN_LIMIT",
    "LlmBreakdown",
    "LlmBreakdownMixin",
    "LlmBreakdownQuery",
    "LlmBreakdownRow",
    "group_rows",
    "merge_into",
    "rank",
    "row_from_values",
]

# Dimension name -> llm_events column.
COLUMN_DIMENSIONS = {
    "user": "distinct_id",
    "model": "model",
    "provider": "provider",
    "environment": "environment",
    "release": "release",
    "session": "session_id",
}
SCAN_LIMIT = 50_000
_CHUNK = 2_000
_CALLS = tuple(sorted(PRICED_EVENTS))


@dataclass(frozen=True, slots=True)
class LlmBreakdownQuery:
    """Calls of ``[since, until)`` grouped by ``dimension`` (a column's name) or ``prop``.

    Exactly one of ``dimension`` and ``prop`` is set. The filters narrow the
    calls first; ``properties`` are property conditions as the events
    explorer writes them.
    """

    project_id: int
    since: float
    until: float
    dimension: str | None = None
    prop: str | None = None
    model: str | None = None
    provider: str | None = None
    distinct_id: str | None = None
    environment: str | None = None
    release: str | None = None
    properties: tuple[PropertyFilter, ...] = ()
    limit: int = 50

    def __post_init__(self) -> None:
        if (self.dimension is None) == (self.prop is None):
            raise ValueError("group by a dimension or a property, one of them")
        if self.dimension is not None and self.dimension not in COLUMN_DIMENSIONS:
            raise ValueError(f"unknown dimension {self.dimension!r}")

    def column_filters(self) -> list[tuple[str, str]]:
        """(column, value) conditions of the filters that are columns."""
        pairs = [
            ("model", self.model),
            ("provider", self.provider),
            ("distinct_id", self.distinct_id),
            ("environment", self.environment),
            ("release", self.release),
        ]
        return [(column, value) for column, value in pairs if value is not None]


@dataclass(slots=True)
class LlmBreakdownRow:
    """One group's totals. ``value`` None: calls without that column or property."""

    value: str | None
    calls: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    unpriced: int = 0
    latency_sum: float = 0.0
    latency_count: int = 0

    @property
    def priced(self) -> bool:
        return self.calls > self.unpriced

    @property
    def mean_latency(self) -> float | None:
        return self.latency_sum / self.latency_count if self.latency_count else None

    @property
    def error_rate(self) -> float:
        return self.errors / self.calls if self.calls else 0.0

    def add(
        self,
        is_error: bool,
        input_tokens: int | None,
        output_tokens: int | None,
        cost: float | None,
        latency: float | None,
    ) -> None:
        self.calls += 1
        self.errors += int(bool(is_error))
        self.input_tokens += input_tokens or 0
        self.output_tokens += output_tokens or 0
        if cost is None:
            self.unpriced += 1
        else:
            self.cost_usd += cost
        if latency is not None:
            self.latency_sum += latency
            self.latency_count += 1


@dataclass(frozen=True, slots=True)
class LlmBreakdown:
    """The groups, costliest first (then by calls), and whether every call was read."""

    rows: list[LlmBreakdownRow]
    complete: bool = True
    scanned: int = 0
    totals: LlmBreakdownRow = field(default_factory=lambda: LlmBreakdownRow(None))


def group_rows(
    calls: Iterable[tuple[str | None, bool, int | None, int | None, float | None, float | None]],
    limit: int,
) -> tuple[list[LlmBreakdownRow], LlmBreakdownRow]:
    """Group (value, is_error, input, output, cost, latency) calls; the top ``limit`` and totals."""
    groups: dict[str | None, LlmBreakdownRow] = {}
    totals = LlmBreakdownRow(None)
    for value, is_error, tokens_in, tokens_out, cost, latency in calls:
        row = groups.get(value)
        if row is None:
            row = groups[value] = LlmBreakdownRow(value)
        row.add(is_error, tokens_in, tokens_out, cost, latency)
        totals.add(is_error, tokens_in, tokens_out, cost, latency)
    return rank(groups.values(), limit), totals


def rank(rows: Iterable[LlmBreakdownRow], limit: int) -> list[LlmBreakdownRow]:
    ordered = sorted(rows, key=lambda r: (-r.cost_usd, -r.calls, r.value is None, r.value or ""))
    return ordered[: max(limit, 0)]


def _fetch(statement: str, params: list[Any]) -> Callable[[ReadConnection], list[Any]]:
    def query(conn: ReadConnection) -> list[Any]:
        return conn.execute(statement, params).fetchall()

    return query


def _properties(data: Any) -> dict[str, Any]:
    try:
        document = orjson.loads(bytes(data))
    except orjson.JSONDecodeError:
        return {}
    found = document.get("properties") if isinstance(document, dict) else None
    return found if isinstance(found, dict) else {}


class LlmBreakdownMixin(Generic[DbT]):
    """:meth:`llm_breakdown` for SQLite and PostgreSQL (the class provides ``db``, ``dialect``)."""

    db: DbT
    dialect: ClassVar[SqlDialect]

    def llm_breakdown(self, query: LlmBreakdownQuery) -> LlmBreakdown:
        if query.prop is None and not query.properties:
            return self._grouped_in_sql(query)
        return self._grouped_by_scan(query)

    def _where(self, query: LlmBreakdownQuery, alias: str = "") -> tuple[str, list[Any]]:
        condition, names = self.dialect.in_list(f"{alias}name", _CALLS)
        sql = (
            f"{alias}project_id = ? AND {condition} AND {alias}timestamp >= ? "
            f"AND {alias}timestamp < ?"
        )
        params: list[Any] = [query.project_id, *names, query.since, query.until]
        for column, value in query.column_filters():
            sql += f" AND {alias}{column} = ?"
            params.append(value)
        return sql, params

    def _grouped_in_sql(self, query: LlmBreakdownQuery) -> LlmBreakdown:
        assert query.dimension is not None
        column = COLUMN_DIMENSIONS[query.dimension]
        where, params = self._where(query)
        d = self.dialect
        sums = (
            f"COUNT(*), {d.int_sum('is_error')}, {d.int_sum('COALESCE(input_tokens, 0)')}, "
            f"{d.int_sum('COALESCE(output_tokens, 0)')}, SUM(COALESCE(total_cost_usd, 0)), "
            f"{d.int_sum('CASE WHEN total_cost_usd IS NULL THEN 1 ELSE 0 END')}, "
            "SUM(COALESCE(latency_s, 0)), COUNT(latency_s)"
        )
        statement = d.sql(
            f"SELECT {column}, {sums} FROM llm_events WHERE {where} GROUP BY {column}"
        )
        groups = [row_from_values(r) for r in self.db.read(_fetch(statement, params))]
        totals = LlmBreakdownRow(None)
        for group in groups:
            merge_into(totals, group)
        return LlmBreakdown(rank(groups, query.limit), True, totals.calls, totals)

    def _grouped_by_scan(self, query: LlmBreakdownQuery) -> LlmBreakdown:
        where, params = self._where(query, "l.")
        column = COLUMN_DIMENSIONS[query.dimension] if query.dimension else None
        select = (
            "SELECT l.id, l.timestamp, l.is_error, l.input_tokens, l.output_tokens, "
            f"l.total_cost_usd, l.latency_s, {f'l.{column}' if column else 'NULL'}, e.data "
            f"FROM llm_events l JOIN events e ON e.id = l.id WHERE {where}"
        )
        scanned = 0

        def calls() -> Iterable[
            tuple[str | None, bool, int | None, int | None, float | None, float | None]
        ]:
            nonlocal scanned
            after: tuple[float, int] | None = None
            while scanned < SCAN_LIMIT:
                sql, page_params = select, list(params)
                if after is not None:
                    sql += " AND (l.timestamp < ? OR (l.timestamp = ? AND l.id < ?))"
                    page_params += [after[0], after[0], after[1]]
                chunk = min(_CHUNK, SCAN_LIMIT - scanned)
                statement = self.dialect.sql(
                    f"{sql} ORDER BY l.timestamp DESC, l.id DESC LIMIT {chunk}"
                )
                rows = self.db.read(_fetch(statement, page_params))
                for row_id, at, is_error, tokens_in, tokens_out, cost, latency, value, data in rows:
                    scanned += 1
                    after = (float(at), int(row_id))
                    properties = _properties(data)
                    if not matches(properties, query.properties):
                        continue
                    group = value if column else property_text(properties, query.prop or "")
                    yield group, bool(is_error), tokens_in, tokens_out, cost, latency
                if len(rows) < chunk:
                    return

        ranked, totals = group_rows(calls(), query.limit)
        complete = scanned < SCAN_LIMIT
        return LlmBreakdown(ranked, complete, scanned, totals)


def row_from_values(values: Sequence[Any]) -> LlmBreakdownRow:
    """A row from (value, calls, errors, input, output, cost, unpriced, latency sum, count)."""
    value, calls, errors, tokens_in, tokens_out, cost, unpriced, latency_sum, latency_count = values
    return LlmBreakdownRow(
        value=None if value is None else str(value),
        calls=int(calls),
        errors=int(errors or 0),
        input_tokens=int(tokens_in or 0),
        output_tokens=int(tokens_out or 0),
        cost_usd=float(cost or 0.0),
        unpriced=int(unpriced or 0),
        latency_sum=float(latency_sum or 0.0),
        latency_count=int(latency_count or 0),
    )


def merge_into(into: LlmBreakdownRow, other: LlmBreakdownRow) -> None:
    """Add ``other``'s totals to ``into``."""
    into.calls += other.calls
    into.errors += other.errors
    into.input_tokens += other.input_tokens
    into.output_tokens += other.output_tokens
    into.cost_usd += other.cost_usd
    into.unpriced += other.unpriced
    into.latency_sum += other.latency_sum
    into.latency_count += other.latency_count
