"""ClickHouse schema of the event store, as an ordered list of migrations.

Three tables of raw rows, one per kind of event, each keyed for its hot reads:

* ``error_events``: an issue's events, newest or oldest first, are a range of
  the sort key (project, issue, time, row id);
* ``analytics_events``: product events by (project, name, hour);
* ``llm_events``: the typed LLM rows by (project, hour), the generations list
  reading newest hours first.

Every table is a ``ReplacingMergeTree`` on a key that ends in the event's row
id, so a row written twice (a replay whose first insert did land) collapses
when parts merge, and reads take each id once (``LIMIT 1 BY id``) until then.
Bloom filters find an event by id and a trace's rows without a scan.

Each row carries its project's ``retention_days``, copied at digest time:
parts are partitioned by it and by week, and a TTL drops whole parts once
every row in them is older than its retention (``ttl_only_drop_parts``),
which costs no mutation. ``heliograph retention`` still deletes a project's
older rows at once (a lightweight ``DELETE``) when its retention shortens.

Counts, issue state and the LLM rollups are not here: PostgreSQL keeps them
exact in digest's transaction (``docs/scaling.md`` says why).

Each migration is a list of statements (the HTTP interface runs one per
request), each safe to run twice (``IF NOT EXISTS``): a node stopped halfway
through runs the whole migration again. Append a migration to change the
schema; never edit one that shipped.
"""

from __future__ import annotations

# Seconds since the epoch (Float64) as the DateTime that partitions and TTLs need,
# clamped to what DateTime holds.
_AT = "toDateTime(toUInt32(least(greatest(timestamp, 0), 4294967295)))"
_STORAGE = f"""
PARTITION BY (retention_days, toMonday({_AT}))
TTL {_AT} + toIntervalDay(retention_days)
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 1000"""

MIGRATIONS: list[list[str]] = [
    [
        f"""CREATE TABLE IF NOT EXISTS error_events (
    project_id UInt64,
    issue_id UInt64,
    id UInt64,
    event_id String,
    timestamp Float64,
    name String,
    level LowCardinality(String),
    trace_id Nullable(String),
    data String CODEC(ZSTD(3)),
    retention_days UInt16,
    INDEX by_event_id event_id TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX by_trace_id trace_id TYPE bloom_filter(0.01) GRANULARITY 1
) ENGINE = ReplacingMergeTree
ORDER BY (project_id, issue_id, timestamp, id){_STORAGE}""",
        f"""CREATE TABLE IF NOT EXISTS analytics_events (
    project_id UInt64,
    id UInt64,
    event_id String,
    name LowCardinality(String),
    timestamp Float64,
    trace_id Nullable(String),
    data String CODEC(ZSTD(3)),
    retention_days UInt16,
    INDEX by_event_id event_id TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX by_trace_id trace_id TYPE bloom_filter(0.01) GRANULARITY 1
) ENGINE = ReplacingMergeTree
ORDER BY (project_id, name, toStartOfHour({_AT}), id){_STORAGE}""",
        f"""CREATE TABLE IF NOT EXISTS llm_events (
    id UInt64,
    project_id UInt64,
    event_id String,
    name LowCardinality(String),
    timestamp Float64,
    started_at Float64,
    trace_id Nullable(String),
    span_id Nullable(String),
    parent_id Nullable(String),
    session_id Nullable(String),
    distinct_id Nullable(String),
    model LowCardinality(Nullable(String)),
    provider LowCardinality(Nullable(String)),
    input_tokens Nullable(Int64),
    output_tokens Nullable(Int64),
    cache_read_tokens Nullable(Int64),
    cache_creation_tokens Nullable(Int64),
    reasoning_tokens Nullable(Int64),
    total_cost_usd Nullable(Float64),
    cost_source LowCardinality(Nullable(String)),
    latency_s Nullable(Float64),
    ttft_s Nullable(Float64),
    is_error UInt8,
    error Nullable(String) CODEC(ZSTD(3)),
    http_status Nullable(Int64),
    span_name Nullable(String),
    environment Nullable(String),
    release Nullable(String),
    retention_days UInt16,
    INDEX by_event_id event_id TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX by_trace_id trace_id TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX by_user distinct_id TYPE bloom_filter(0.01) GRANULARITY 1
) ENGINE = ReplacingMergeTree
ORDER BY (project_id, toStartOfHour({_AT}), id){_STORAGE}""",
    ],
    # 2: a person's events (the person page, ``store/clickhouse/web_reads.py``) by
    # distinct id: a column computed from the document as rows are written, and a
    # bloom filter on it, so the lookup skips the granules without the person's ids
    # instead of parsing every document of the range. Parts written before keep no
    # index (the column is computed when read) and age out with retention.
    [
        "ALTER TABLE analytics_events ADD COLUMN IF NOT EXISTS distinct_id String "
        "MATERIALIZED JSONExtractString(data, 'distinct_id')",
        "ALTER TABLE analytics_events ADD INDEX IF NOT EXISTS by_distinct_id distinct_id "
        "TYPE bloom_filter(0.01) GRANULARITY 1",
    ],
]

VERSION_TABLE = """CREATE TABLE IF NOT EXISTS heliograph_schema (
    version UInt32,
    applied_at DateTime DEFAULT now()
) ENGINE = MergeTree ORDER BY version"""
