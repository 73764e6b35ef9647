"""What retention deletes, named once for every backend.

Each backend's ``purge_expired`` walks these tables by these time columns, so
that SQLite and PostgreSQL drop the same rows: a table added to the LLM
analytics joins retention here, not in each backend.
"""

from __future__ import annotations

__all__ = ["EVENT_KINDS", "LLM_ROWS", "ROLLUPS"]

# Purged one kind at a time, so that the (project_id, kind, timestamp) index serves it.
EVENT_KINDS = ("error", "analytics")
# Rollup tables (the LLM analytics', and flag calls'): (table, time column, seconds
# per unit of that column).
ROLLUPS = (
    ("llm_hourly", "hour", 3600),
    ("llm_latency_hourly", "hour", 3600),
    ("llm_latency_daily", "day", 86400),
    ("llm_flag_hourly", "hour", 3600),
    ("flag_calls_hourly", "hour", 3600),
)
# Row tables: (table, time column in seconds).
LLM_ROWS = (("llm_events", "timestamp"), ("llm_traces", "ended_at"))
