"""SQLite retention: old events and every derived row go, in batches of ``BATCH_ROWS``.

What any backend's ``purge_expired`` must do is in ``tests/contract/test_retention.py``;
this checks the SQLite tables themselves (no derived or orphaned row left behind) and
the batched deletes (more old events than one batch holds).
"""

from __future__ import annotations

import time
import uuid

from heliograph.model import Event, Exception_
from heliograph.store.base import DigestBatch, GroupedEvent
from heliograph.store.sqlite import SQLiteStore
from heliograph.store.sqlite.retention import BATCH_ROWS, purge_expired

DAY = 86400.0


def _error(store: SQLiteStore, project_id: int, ts: float, group: str) -> None:
    event = Event(
        project_id=project_id,
        event_id=uuid.uuid4().hex,
        timestamp=ts,
        received_at=ts,
        exceptions=[Exception_(type="E", value=group)],
    )
    store.record(DigestBatch(errors=[GroupedEvent(event, group, "t", group, "c")]))


def _generation(project_id: int, ts: float) -> Event:
    return Event(
        project_id=project_id,
        event_id=uuid.uuid4().hex,
        timestamp=ts,
        received_at=ts,
        kind="analytics",
        name="$ai_generation",
        properties={
            "$ai_model": "gpt-4o-mini",
            "$ai_provider": "openai",
            "$ai_trace_id": uuid.uuid4().hex,
            "$ai_input_tokens": 10,
            "$ai_output_tokens": 5,
            "$ai_latency": 0.5,
        },
    )


def _rows(store: SQLiteStore, table: str, project_id: int) -> int:
    return int(
        store.db.read(
            lambda c: c.execute(
                f"SELECT COUNT(*) FROM {table} WHERE project_id = ?", (project_id,)
            ).fetchone()[0]
        )
    )


def test_retention_deletes_old_events_and_derived_rows_in_batches(store: SQLiteStore) -> None:
    org = store.create_organization("o", "O")
    short = store.create_project(org.id, "short", "Short")
    long = store.create_project(org.id, "long", "Long")
    store.update_project(short.id, retention_days=7)
    now = time.time()
    old_events = 1200  # several batches of old events in one issue
    assert old_events > 2 * BATCH_ROWS
    for index in range(old_events):
        _error(store, short.id, now - 30 * DAY + index, "old")
    _error(store, short.id, now - 30 * DAY, "mixed")
    _error(store, short.id, now - 60, "mixed")
    _error(store, short.id, now - 60, "recent")
    _error(store, long.id, now - 30 * DAY, "kept")
    generations = [_generation(short.id, now - 30 * DAY), _generation(short.id, now - 60)]
    store.record(DigestBatch(analytics=generations))
    llm_tables = ("llm_events", "llm_traces", "llm_hourly")
    llm_before = {table: _rows(store, table, short.id) for table in llm_tables}
    assert all(count >= 2 for count in llm_before.values()), llm_before
    dry = purge_expired(store, now=now, dry_run=True)
    assert {p.project.slug: p.events for p in dry.projects} == {"short": 1202, "long": 0}
    report = purge_expired(store, now=now, pause=0)
    by_slug = {p.project.slug: p for p in report.projects}
    assert by_slug["short"].events == 1202 and by_slug["short"].issues == 1
    assert {table: _rows(store, table, short.id) for table in llm_tables} == {
        table: count - 1 for table, count in llm_before.items()
    }
    assert by_slug["long"].total == 0

    def count(sql: str, *params: object) -> int:
        return int(store.db.read(lambda c: c.execute(sql, params).fetchone()[0]))

    assert count("SELECT COUNT(*) FROM events WHERE project_id = ?", short.id) == 3
    titles = store.db.read(
        lambda c: [r[0] for r in c.execute("SELECT title FROM issues ORDER BY title")]
    )
    assert titles == ["kept", "mixed", "recent"]  # "old" had nothing left
    cutoff_hour = int((now - 7 * DAY) // 3600)
    assert (
        count(
            "SELECT COUNT(*) FROM issue_hourly h JOIN issues i ON i.id = h.issue_id "
            "WHERE i.project_id = ? AND h.hour < ?",
            short.id,
            cutoff_hour,
        )
        == 0
    )
    assert (
        count(
            "SELECT COUNT(*) FROM issue_tags t LEFT JOIN issues i ON i.id = t.issue_id "
            "WHERE i.id IS NULL"
        )
        == 0
    )
    assert purge_expired(store, now=now).total == 0
