"""LLM analytics events into typed rows and rollups, in digest's transaction (PostgreSQL).

The same tables and the same sums as the SQLite backend
(:mod:`heliograph.store.sqlite.llm_write` says what each table is for): for
every ``$ai_*`` event, one ``llm_events`` row, additions to ``llm_hourly`` and
the latency histograms for generations and embeddings, and additions to the
trace's ``llm_traces`` row. Which events get a row, how an event becomes one
and what a batch adds to each rollup are shared by every backend
(:mod:`heliograph.store.llm_shaping`, :mod:`heliograph.store.llm_rows`).

What differs here is that the database is a network hop away and that N
nodes write to it at once:

* a batch costs a fixed number of round trips, not one per event: the
  events' row ids come in one query, the typed rows go in one multi-row
  ``INSERT ... ON CONFLICT DO NOTHING RETURNING id`` (which also says which
  rows are new: a replayed event is in none of the sums), and each rollup is
  one pipelined ``executemany`` of upserts;
* rollup rows are single-statement upserts that add to what is stored, so
  two nodes adding to the same hour or trace both count; and each table's
  rows are upserted in key order, so that two batches touching the same rows
  lock them in the same order and never deadlock. (A trace's row id, the
  lists' tie-breaker between traces started at the very same instant, thus
  follows trace id order within a batch, not arrival order as in SQLite.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import psycopg

from heliograph.model import Event
from heliograph.store.llm_flags import FlagRollups, FlagValues, event_flags, flush_flag_rollups
from heliograph.store.llm_records import LlmEventRecord
from heliograph.store.llm_rows import EVENT_COLUMNS, LlmRollups
from heliograph.store.llm_search import search_text
from heliograph.store.llm_shaping import is_llm_event, llm_record
from heliograph.store.postgresql.event_rows import EventRows
from heliograph.store.sql_dialect import POSTGRESQL

__all__ = ["add_to_rollups", "record_llm_events", "write_llm_rows"]

# Rows per INSERT: 28 parameters each, under PostgreSQL's 65535 per statement.
_INSERT_CHUNK = 1000
_ROW_VALUES = f"({', '.join(['%s'] * len(EVENT_COLUMNS.split(',')))})"


def record_llm_events(
    conn: psycopg.Connection[Any],
    events: Iterable[Event],
    table: EventRows,
    new_keys: set[tuple[int, str]],
) -> None:
    """Write the typed rows and rollups of the ``$ai_*`` events among ``events``.

    Call it after the events themselves were inserted into ``table``, in the
    same transaction; ``new_keys`` are those that were stored for the first
    time. When PostgreSQL keeps no ``llm_events`` rows (the events are in
    ClickHouse), only the new events are added to the rollups.
    """
    llm = [event for event in events if is_llm_event(event)]
    if not table.keeps_llm_rows:
        llm = [event for event in llm if (event.project_id, event.event_id) in new_keys]
    if not llm:
        return
    found = conn.execute(
        table.stored(with_id=True),
        ([event.project_id for event in llm], [event.event_id for event in llm]),
    ).fetchall()
    row_ids = {(row[0], row[1]): row[2] for row in found}
    rows = []
    texts = []
    flags: dict[int, list[tuple[str, str]]] = {}
    for event in llm:
        row_id = row_ids.get((event.project_id, event.event_id))
        if row_id is not None:
            rows.append(llm_record(event, row_id))
            flags[row_id] = event_flags(event)
            texts.append((row_id, event.project_id, event.timestamp, search_text(event)))
    if not rows:
        return
    if table.keeps_llm_rows:
        write_llm_rows(conn, rows, flags)
        _index_texts(conn, texts)
    else:
        add_to_rollups(conn, rows, flags)


def _index_texts(conn: psycopg.Connection[Any], texts: list[tuple[int, int, float, str]]) -> None:
    """The calls' searchable text (store/llm_search.py); a replayed call keeps its row."""
    if not texts:
        return
    with conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO llm_search_text (id, project_id, timestamp, body) "
            "VALUES (%s, %s, %s, to_tsvector('simple', %s)) ON CONFLICT (id) DO NOTHING",
            [
                (row_id, project, at, text.replace("\x00", ""))
                for row_id, project, at, text in texts
            ],
        )


def write_llm_rows(
    conn: psycopg.Connection[Any],
    rows: Sequence[LlmEventRecord],
    flags: Mapping[int, FlagValues] | None = None,
) -> int:
    """Insert rows (skipping ids already stored) and add the new ones to the rollups.

    ``flags``: the (flag, value) pairs each row's event carried, by row id.
    Returns how many rows were new. Rows are summed in the order given (the
    first of equal candidates names a trace), whatever order they went in.
    """
    new_ids: set[int] = set()
    ordered = sorted(rows, key=lambda row: row.id)
    for start in range(0, len(ordered), _INSERT_CHUNK):
        chunk = ordered[start : start + _INSERT_CHUNK]
        params: list[Any] = []
        for row in chunk:
            params += (*row[:22], int(row.is_error), *row[23:])  # is_error as 0/1
        found = conn.execute(
            f"INSERT INTO llm_events ({EVENT_COLUMNS}) VALUES "
            f"{', '.join([_ROW_VALUES] * len(chunk))} ON CONFLICT (id) DO NOTHING RETURNING id",
            params,
        ).fetchall()
        new_ids.update(found_row[0] for found_row in found)
    new_rows = []
    for row in rows:
        if row.id not in new_ids:
            continue  # a replay (or the same event twice in the batch): already counted
        new_ids.discard(row.id)
        new_rows.append(row)
    add_to_rollups(conn, new_rows, flags)
    return len(new_rows)


def add_to_rollups(
    conn: psycopg.Connection[Any],
    rows: Sequence[LlmEventRecord],
    flags: Mapping[int, FlagValues] | None = None,
) -> None:
    """Sum ``rows`` (each new) in Python, then add the sums to each rollup table."""
    rollups = LlmRollups()
    by_flag = FlagRollups()
    for row in rows:
        rollups.add(row)
    if flags:
        by_flag.add_all(rows, flags)
    _flush(conn, rollups)
    flush_flag_rollups(conn, POSTGRESQL, by_flag)


_HOURLY_UPSERT = """
INSERT INTO llm_hourly (project_id, hour, model, provider, requests, errors, input_tokens,
    output_tokens, cache_read_tokens, cache_creation_tokens, reasoning_tokens, cost_usd, priced,
    latency_sum, latency_count, ttft_sum, ttft_count)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (project_id, hour, model, provider) DO UPDATE SET
    requests = llm_hourly.requests + excluded.requests,
    errors = llm_hourly.errors + excluded.errors,
    input_tokens = llm_hourly.input_tokens + excluded.input_tokens,
    output_tokens = llm_hourly.output_tokens + excluded.output_tokens,
    cache_read_tokens = llm_hourly.cache_read_tokens + excluded.cache_read_tokens,
    cache_creation_tokens = llm_hourly.cache_creation_tokens + excluded.cache_creation_tokens,
    reasoning_tokens = llm_hourly.reasoning_tokens + excluded.reasoning_tokens,
    cost_usd = llm_hourly.cost_usd + excluded.cost_usd,
    priced = llm_hourly.priced + excluded.priced,
    latency_sum = llm_hourly.latency_sum + excluded.latency_sum,
    latency_count = llm_hourly.latency_count + excluded.latency_count,
    ttft_sum = llm_hourly.ttft_sum + excluded.ttft_sum,
    ttft_count = llm_hourly.ttft_count + excluded.ttft_count
"""
_LATENCY_UPSERT = """
INSERT INTO {table} (project_id, {unit}, model, provider, bucket, count)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (project_id, {unit}, model, provider, bucket) DO UPDATE SET
    count = {table}.count + excluded.count
"""
_TRACE_UPSERT = """
INSERT INTO llm_traces (project_id, trace_id, started_at, ended_at, name, name_rank,
    has_trace_event, trace_latency_s, events, generations, errors, input_tokens, output_tokens,
    cost_usd, unpriced, session_id, distinct_id, environment, release)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (project_id, trace_id) DO UPDATE SET
    started_at = LEAST(llm_traces.started_at, excluded.started_at),
    ended_at = GREATEST(llm_traces.ended_at, excluded.ended_at),
    name = CASE WHEN excluded.name_rank < llm_traces.name_rank
        THEN excluded.name ELSE llm_traces.name END,
    name_rank = LEAST(llm_traces.name_rank, excluded.name_rank),
    has_trace_event = GREATEST(llm_traces.has_trace_event, excluded.has_trace_event),
    trace_latency_s = COALESCE(excluded.trace_latency_s, llm_traces.trace_latency_s),
    events = llm_traces.events + excluded.events,
    generations = llm_traces.generations + excluded.generations,
    errors = llm_traces.errors + excluded.errors,
    input_tokens = llm_traces.input_tokens + excluded.input_tokens,
    output_tokens = llm_traces.output_tokens + excluded.output_tokens,
    cost_usd = llm_traces.cost_usd + excluded.cost_usd,
    unpriced = llm_traces.unpriced + excluded.unpriced,
    session_id = COALESCE(llm_traces.session_id, excluded.session_id),
    distinct_id = CASE
        WHEN llm_traces.distinct_id IS NULL OR llm_traces.distinct_id = llm_traces.trace_id
        THEN COALESCE(excluded.distinct_id, llm_traces.distinct_id)
        ELSE llm_traces.distinct_id END,
    environment = COALESCE(llm_traces.environment, excluded.environment),
    release = COALESCE(llm_traces.release, excluded.release)
"""


def _flush(conn: psycopg.Connection[Any], rollups: LlmRollups) -> None:
    """Upsert each rollup table's rows in key order (the same lock order on every node)."""
    with conn.cursor() as cursor:
        if rollups.hourly:
            cursor.executemany(
                _HOURLY_UPSERT,
                [(*key, *acc.values()) for key, acc in sorted(rollups.hourly.items())],
            )
        for table, unit, counts in (
            ("llm_latency_hourly", "hour", rollups.latency_hourly),
            ("llm_latency_daily", "day", rollups.latency_daily),
        ):
            if counts:
                cursor.executemany(
                    _LATENCY_UPSERT.format(table=table, unit=unit),
                    [(*key, count) for key, count in sorted(counts.items())],
                )
        if rollups.traces:
            cursor.executemany(
                _TRACE_UPSERT,
                [(*key, *acc.values()) for key, acc in sorted(rollups.traces.items())],
            )
