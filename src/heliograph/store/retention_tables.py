"""What retention deletes, named once for every backend.

Each backend's ``purge_expired`` walks these tables by these time columns, so
that SQLite and PostgreSQL drop the same rows: a table added to the LLM
analytics joins retention here, not in each backend.
"""

from __future__ import annotations

__all__ = ["EVENT_KINDS", "LLM_ROWS", "PERSONS", "PERSON_IDS", "ROLLUPS"]

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
    # Web analytics (store/web_rollups.py): a session goes with the hour it started.
    ("event_hourly", "hour", 3600),
    ("web_hourly", "hour", 3600),
    ("web_top_hourly", "hour", 3600),
    ("web_sessions", "hour", 3600),
    ("web_visitors_hourly", "hour", 3600),
    ("web_visitors_daily", "day", 86400),
)
# Row tables: (table, time column in seconds).
LLM_ROWS = (
    ("llm_events", "timestamp"),
    ("llm_traces", "ended_at"),
    ("llm_search_text", "timestamp"),
    # Scores (store/score_store.py) go with the time they were given.
    ("llm_scores", "timestamp"),
    ("llm_score_flags", "timestamp"),
)
# People (store/people_store.py): a person last seen before the cutoff goes, with
# every distinct id of theirs, in the same write.
PERSONS = ("persons", "last_seen")
PERSON_IDS = ("person_distinct_ids", "person_id")
