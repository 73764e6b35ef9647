"""LLM analytics events into typed rows and rollups, in digest's transaction.

``events`` keeps every event as a JSON blob; the LLM pages need numbers
(tokens, cost, latency) per model per hour and traces as trees, which JSON
blobs cannot give fast. For every ``$ai_*`` event, :func:`record_llm_events`
writes, inside the same transaction as the event itself:

* one ``llm_events`` row: the typed columns (model, tokens, cost, latency,
  trace/span/parent ids...);
* for generations and embeddings, additions to ``llm_hourly`` (requests,
  errors, tokens, cost) and to the latency histograms ``llm_latency_hourly``
  and ``llm_latency_daily`` (see :mod:`heliograph.store.llm_latency`);
* additions to the trace's ``llm_traces`` row (start, end, name, counts,
  tokens, cost), which makes the trace list and "top traces by cost" an
  index read. A trace with no ``$ai_trace`` event (a pseudo-trace) gets a
  row all the same, from its children.

Rollups are summed in Python per batch first, so a batch of 500 events costs
a handful of upserts, not 500. A replayed event (its id already stored) is
skipped before anything is added, so counts never double.

Which events get a row and how an event becomes one (columns, value reading,
``started_at``) is shared by every backend: :mod:`heliograph.store.llm_shaping`;
so are the per-batch sums and the rule naming a trace:
:mod:`heliograph.store.llm_rows`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping

from heliograph.model import Event
from heliograph.store.llm_flags import FlagRollups, FlagValues, event_flags, flush_flag_rollups
from heliograph.store.llm_records import LlmEventRecord
from heliograph.store.llm_rows import EVENT_COLUMNS, LlmRollups
from heliograph.store.llm_search import search_text
from heliograph.store.llm_shaping import is_llm_event, llm_record
from heliograph.store.sql_dialect import SQLITE

__all__ = ["record_llm_events", "write_llm_rows"]

_EVENT_ROW_ID = "SELECT id FROM events WHERE project_id = ? AND event_id = ?"
_INSERT = (
    f"INSERT OR IGNORE INTO llm_events ({EVENT_COLUMNS}) "
    f"VALUES ({', '.join('?' * len(EVENT_COLUMNS.split(',')))})"
)


def record_llm_events(conn: sqlite3.Connection, events: Iterable[Event]) -> None:
    """Write the typed rows and rollups of the ``$ai_*`` events among ``events``.

    Call it after the events themselves were inserted, in the same transaction.
    """
    rows = []
    texts = []
    flags: dict[int, list[tuple[str, str]]] = {}
    for event in events:
        if not is_llm_event(event):
            continue
        found = conn.execute(_EVENT_ROW_ID, (event.project_id, event.event_id)).fetchone()
        if found is not None:
            rows.append(llm_record(event, found[0]))
            flags[found[0]] = event_flags(event)
            texts.append((found[0], event.project_id, event.timestamp, search_text(event)))
    if rows:
        write_llm_rows(conn, rows, flags)
        # The searchable text (store/llm_search.py): the FTS index follows by trigger.
        conn.executemany(
            "INSERT OR IGNORE INTO llm_search_text (id, project_id, timestamp, body) "
            "VALUES (?, ?, ?, ?)",
            texts,
        )


def write_llm_rows(
    conn: sqlite3.Connection,
    rows: Iterable[LlmEventRecord],
    flags: Mapping[int, FlagValues] | None = None,
) -> int:
    """Insert rows (skipping ids already stored) and add the new ones to the rollups.

    ``flags``: the (flag, value) pairs each row's event carried, by row id.
    Returns how many rows were new. Also the bulk loader's entry point
    (``bench/analytics.py``), so benchmarks exercise the real write path.
    """
    rollups = LlmRollups()
    by_flag = FlagRollups()
    added = 0
    for row in rows:
        if conn.execute(_INSERT, row).rowcount != 1:
            continue  # a replay: already counted
        added += 1
        rollups.add(row)
        if flags and flags.get(row.id):
            by_flag.add(row, flags[row.id])
    _flush(conn, rollups)
    flush_flag_rollups(conn, SQLITE, by_flag)
    return added


_HOURLY_UPSERT = """
INSERT INTO llm_hourly (project_id, hour, model, provider, requests, errors, input_tokens,
    output_tokens, cache_read_tokens, cache_creation_tokens, reasoning_tokens, cost_usd, priced,
    latency_sum, latency_count, ttft_sum, ttft_count)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (project_id, hour, model, provider) DO UPDATE SET
    requests = requests + excluded.requests, errors = errors + excluded.errors,
    input_tokens = input_tokens + excluded.input_tokens,
    output_tokens = output_tokens + excluded.output_tokens,
    cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
    cache_creation_tokens = cache_creation_tokens + excluded.cache_creation_tokens,
    reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens,
    cost_usd = cost_usd + excluded.cost_usd, priced = priced + excluded.priced,
    latency_sum = latency_sum + excluded.latency_sum,
    latency_count = latency_count + excluded.latency_count,
    ttft_sum = ttft_sum + excluded.ttft_sum, ttft_count = ttft_count + excluded.ttft_count
"""
_LATENCY_UPSERT = """
INSERT INTO {table} (project_id, {unit}, model, provider, bucket, count) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (project_id, {unit}, model, provider, bucket) DO UPDATE SET
    count = count + excluded.count
"""
_TRACE_UPSERT = """
INSERT INTO llm_traces (project_id, trace_id, started_at, ended_at, name, name_rank,
    has_trace_event, trace_latency_s, events, generations, errors, input_tokens, output_tokens,
    cost_usd, unpriced, session_id, distinct_id, environment, release)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (project_id, trace_id) DO UPDATE SET
    started_at = MIN(started_at, excluded.started_at),
    ended_at = MAX(ended_at, excluded.ended_at),
    name = CASE WHEN excluded.name_rank < name_rank THEN excluded.name ELSE name END,
    name_rank = MIN(name_rank, excluded.name_rank),
    has_trace_event = MAX(has_trace_event, excluded.has_trace_event),
    trace_latency_s = COALESCE(excluded.trace_latency_s, trace_latency_s),
    events = events + excluded.events, generations = generations + excluded.generations,
    errors = errors + excluded.errors, input_tokens = input_tokens + excluded.input_tokens,
    output_tokens = output_tokens + excluded.output_tokens,
    cost_usd = cost_usd + excluded.cost_usd, unpriced = unpriced + excluded.unpriced,
    session_id = COALESCE(session_id, excluded.session_id),
    distinct_id = CASE WHEN distinct_id IS NULL OR distinct_id = trace_id
        THEN COALESCE(excluded.distinct_id, distinct_id) ELSE distinct_id END,
    environment = COALESCE(environment, excluded.environment),
    release = COALESCE(release, excluded.release)
"""


def _flush(conn: sqlite3.Connection, rollups: LlmRollups) -> None:
    conn.executemany(_HOURLY_UPSERT, [(*key, *acc.values()) for key, acc in rollups.hourly.items()])
    conn.executemany(
        _LATENCY_UPSERT.format(table="llm_latency_hourly", unit="hour"),
        [(*key, count) for key, count in rollups.latency_hourly.items()],
    )
    conn.executemany(
        _LATENCY_UPSERT.format(table="llm_latency_daily", unit="day"),
        [(*key, count) for key, count in rollups.latency_daily.items()],
    )
    conn.executemany(_TRACE_UPSERT, [(*key, *acc.values()) for key, acc in rollups.traces.items()])
