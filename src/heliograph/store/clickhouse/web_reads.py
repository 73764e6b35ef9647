"""The events explorer and a person's LLM usage, read from ClickHouse.

With events in ClickHouse, PostgreSQL keeps only their keys, so the
explorer's raw reads come here: property filters and breakdowns are SQL over
the JSON documents of ``analytics_events``, counting the whole range (no
scan limit, unlike ``store/event_explorer.py``). A property's value is read
by the rule of :func:`heliograph.store.web_records.property_text`: missing
or null is NULL, a string as it is, anything else as its JSON text, cut to
:data:`~heliograph.store.web_records.MAX_VALUE_TEXT` characters.

A row written twice (a replayed batch not yet merged) is read once: lists
drop a repeated id beside its twin, counts read ``LIMIT 1 BY id``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from heliograph.llm_vocabulary import PRICED_EVENTS
from heliograph.model import Event
from heliograph.store.base import StoredEvent, TimeUnit
from heliograph.store.clickhouse.client import ClickHouseClient, Row
from heliograph.store.cursors import decode_cursor, encode_cursor
from heliograph.store.event_explorer import top_series
from heliograph.store.llm_breakdown import (
    COLUMN_DIMENSIONS,
    LlmBreakdown,
    LlmBreakdownQuery,
    LlmBreakdownRow,
    merge_into,
    rank,
    row_from_values,
)
from heliograph.store.people_store import MAX_LISTED_IDS, usage_from_rows
from heliograph.store.web_records import (
    MAX_VALUE_TEXT,
    EventBreakdown,
    EventQuery,
    PersonLlmUsage,
    PropertyFilter,
)

__all__ = ["ClickHouseWebReads"]

_UNIT_SECONDS = {"hour": 3600, "day": 86400}
# An llm_events column as read from an analytics event's document.
_DOCUMENT_COLUMNS = {
    "distinct_id": "nullIf(distinct_id, '')",
    "model": "nullIf(JSONExtractString(data, 'properties', '$ai_model'), '')",
    "provider": "nullIf(JSONExtractString(data, 'properties', '$ai_provider'), '')",
    "environment": "nullIf(JSONExtractString(data, 'environment'), '')",
    "release": "nullIf(JSONExtractString(data, 'release'), '')",
    "session_id": "nullIf(JSONExtractString(data, 'properties', '$ai_session_id'), '')",
}


def _value(param: str) -> str:
    """The SQL of a property's value as text, its key bound as ``{param:String}``."""
    path = f"data, 'properties', {{{param}:String}}"
    return (
        f"substringUTF8(multiIf(JSONType({path}) = 'Null', NULL, "
        f"JSONType({path}) = 'String', JSONExtractString({path}), "
        f"JSONExtractRaw({path})), 1, {MAX_VALUE_TEXT})"
    )


def property_condition(number: int, condition: PropertyFilter, params: dict[str, Any]) -> str:
    key, value = f"k{number}", f"v{number}"
    params[key] = condition.key
    params[value] = condition.value
    text = _value(key)
    if condition.operator == "is_set":
        return f"{text} IS NOT NULL"
    if condition.operator == "is_not_set":
        return f"{text} IS NULL"
    if condition.operator == "eq":
        return f"ifNull({text} = {{{value}:String}}, 0)"
    if condition.operator == "neq":
        return f"ifNull({text} != {{{value}:String}}, 1)"
    return f"ifNull(positionCaseInsensitiveUTF8({text}, {{{value}:String}}) > 0, 0)"


def _where(query: EventQuery) -> tuple[str, dict[str, Any]]:
    params: dict[str, Any] = {"p": query.project_id, "since": query.since, "until": query.until}
    sql = "project_id = {p:UInt64} AND timestamp >= {since:Float64} AND timestamp < {until:Float64}"
    if query.name is not None:
        sql += " AND name = {name:String}"
        params["name"] = query.name
    if query.distinct_ids:
        # The materialized column of migration 2, under its bloom filter.
        sql += " AND distinct_id IN {ids:Array(String)}"
        params["ids"] = list(query.distinct_ids)
    for number, condition in enumerate(query.filters):
        sql += f" AND {property_condition(number, condition, params)}"
    return sql, params


def _stored(project_id: int, data: str) -> StoredEvent:
    document = orjson.loads(data)
    event_id = str(document.get("event_id", ""))
    return StoredEvent(project_id, event_id, None, Event.from_dict(document))


class ClickHouseWebReads:
    """Explorer reads for the ClickHouse store; the class provides ``events`` (the client)."""

    events: ClickHouseClient

    def find_events(
        self, query: EventQuery, *, limit: int, cursor: str | None = None
    ) -> tuple[list[StoredEvent], str | None]:
        limit = max(1, limit)
        where, params = _where(query)
        after = decode_cursor(cursor)
        if after:
            where += (
                " AND (timestamp < {at:Float64} OR "
                "(timestamp = {at:Float64} AND id < {row:UInt64}))"
            )
            params.update(at=after[0], row=after[1])
        rows: list[Row] = self.events.query(
            f"SELECT id, timestamp, data FROM analytics_events WHERE {where} "
            "ORDER BY timestamp DESC, id DESC LIMIT {n:UInt32}",
            {**params, "n": limit + 1},
        )
        once = [row for n, row in enumerate(rows) if n == 0 or row[0] != rows[n - 1][0]]
        page = once[:limit]
        more = len(rows) > limit
        events = [_stored(query.project_id, row[2]) for row in page]
        next_cursor = encode_cursor(float(page[-1][1]), int(page[-1][0])) if more and page else None
        return events, next_cursor

    def event_breakdown(
        self, query: EventQuery, prop: str | None, unit: TimeUnit, *, top: int = 10
    ) -> EventBreakdown:
        where, params = _where(query)
        params["size"] = _UNIT_SECONDS[unit]
        value = _value("prop") if prop else "''"
        if prop:
            params["prop"] = prop
        matching = (
            f"SELECT intDiv(toInt64(timestamp), {{size:Int64}}) * {{size:Int64}} AS bucket, "
            f"{value} AS value FROM analytics_events WHERE {where} LIMIT 1 BY id"
        )
        ranked_rows = self.events.query(
            f"SELECT value, count() AS n FROM ({matching}) GROUP BY value "
            "ORDER BY n DESC, isNull(value), value LIMIT {top:UInt32}",
            {**params, "top": top},
        )
        bucket_rows = self.events.query(
            f"SELECT bucket, count() FROM ({matching}) GROUP BY bucket", params
        )
        buckets = {int(bucket): int(count) for bucket, count in bucket_rows}
        total = sum(buckets.values())
        wanted = [row[0] for row in ranked_rows if row[0] is not None]
        with_null = any(row[0] is None for row in ranked_rows)
        counts: dict[str | None, dict[int, int]] = {row[0]: {} for row in ranked_rows}
        if ranked_rows:
            series_rows = self.events.query(
                f"SELECT bucket, value, count() FROM ({matching}) "
                "WHERE value IN {wanted:Array(String)}"
                + (" OR value IS NULL" if with_null else "")
                + " GROUP BY bucket, value",
                {**params, "wanted": wanted},
            )
            for bucket, found, count in series_rows:
                counts.setdefault(found, {})[int(bucket)] = int(count)
        ranked, series = top_series(counts, top)
        return EventBreakdown(unit, total, ranked, series, total, True, buckets)

    def llm_breakdown(self, query: LlmBreakdownQuery) -> LlmBreakdown:
        """Grouped in ClickHouse: columns from ``llm_events``, properties from the documents."""
        params: dict[str, Any] = {
            "p": query.project_id,
            "since": query.since,
            "until": query.until,
            "calls": sorted(PRICED_EVENTS),
        }
        where = (
            "project_id = {p:UInt64} AND name IN {calls:Array(String)} "
            "AND timestamp >= {since:Float64} AND timestamp < {until:Float64}"
        )
        if query.prop is None and not query.properties:
            assert query.dimension is not None
            for number, (column, value) in enumerate(query.column_filters()):
                where += f" AND {column} = {{c{number}:String}}"
                params[f"c{number}"] = value
            column = COLUMN_DIMENSIONS[query.dimension]
            calls = (
                f"SELECT {column} AS value, is_error, input_tokens, output_tokens, "
                f"total_cost_usd AS cost, latency_s AS latency FROM llm_events WHERE {where} "
                "LIMIT 1 BY id"
            )
        else:
            for number, (column, value) in enumerate(query.column_filters()):
                where += f" AND {_DOCUMENT_COLUMNS[column]} = {{c{number}:String}}"
                params[f"c{number}"] = value
            for number, condition in enumerate(query.properties):
                where += f" AND {property_condition(number, condition, params)}"
            if query.prop is not None:
                params["prop"] = query.prop
                value = _value("prop")
            else:
                assert query.dimension is not None
                value = _DOCUMENT_COLUMNS[COLUMN_DIMENSIONS[query.dimension]]
            number_of = "JSONExtract(data, 'properties', {key}, 'Nullable({kind})')"
            calls = (
                f"SELECT {value} AS value, "
                f"toUInt8(JSONExtractBool(data, 'properties', '$ai_is_error')) AS is_error, "
                f"{number_of.format(key=repr('$ai_input_tokens'), kind='Int64')} AS input_tokens, "
                f"{number_of.format(key=repr('$ai_output_tokens'), kind='Int64')} "
                "AS output_tokens, "
                f"{number_of.format(key=repr('$ai_total_cost_usd'), kind='Float64')} AS cost, "
                f"{number_of.format(key=repr('$ai_latency'), kind='Float64')} AS latency "
                f"FROM analytics_events WHERE {where} LIMIT 1 BY id"
            )
        rows = self.events.query(
            "SELECT value, count(), sum(is_error), sum(ifNull(input_tokens, 0)), "
            "sum(ifNull(output_tokens, 0)), sum(ifNull(cost, 0)), countIf(cost IS NULL), "
            f"sum(ifNull(latency, 0)), count(latency) FROM ({calls}) GROUP BY value",
            params,
        )
        groups = [row_from_values(row) for row in rows]
        totals = LlmBreakdownRow(None)
        for group in groups:
            merge_into(totals, group)
        return LlmBreakdown(rank(groups, query.limit), True, totals.calls, totals)

    def person_llm_usage(
        self, project_id: int, distinct_ids: Sequence[str], since: float
    ) -> PersonLlmUsage:
        if not distinct_ids:
            return PersonLlmUsage()
        rows = self.events.query(
            "SELECT ifNull(model, ''), count(), sum(is_error), sum(ifNull(input_tokens, 0)), "
            "sum(ifNull(output_tokens, 0)), sum(ifNull(total_cost_usd, 0)), "
            "countIf(total_cost_usd IS NULL) FROM (SELECT * FROM llm_events "
            "WHERE project_id = {p:UInt64} AND distinct_id IN {ids:Array(String)} "
            "AND name IN {names:Array(String)} AND timestamp >= {since:Float64} LIMIT 1 BY id) "
            "GROUP BY 1 ORDER BY 2 DESC, 1",
            {
                "p": project_id,
                "ids": list(distinct_ids[:MAX_LISTED_IDS]),
                "names": sorted(PRICED_EVENTS),
                "since": since,
            },
        )
        return usage_from_rows(rows)
