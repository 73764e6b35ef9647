"""SQLite reads and writes of web analytics and people, checked on the tables themselves.

What any backend must do is in ``tests/contract/test_web_analytics.py``; this
checks how SQLite does it: the query plans and the bounded purge writes.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from heliograph.model import Event
from heliograph.store import event_explorer
from heliograph.store.base import DigestBatch
from heliograph.store.people_store import MAX_LISTED_IDS
from heliograph.store.sqlite import SQLiteStore
from heliograph.store.sqlite.retention import BATCH_ROWS, purge_expired
from heliograph.store.web_records import EventQuery


def _event(project_id: int, name: str, distinct_id: str, at: float) -> Event:
    return Event(
        project_id=project_id, event_id=uuid.uuid4().hex, timestamp=at, received_at=at,
        kind="analytics", name=name, distinct_id=distinct_id, properties={},
    )  # fmt: skip


def _project(store: SQLiteStore) -> int:
    org = store.create_organization("acme", "Acme")
    return store.create_project(org.id, "shop", "Shop").id


def test_a_persons_events_are_read_by_distinct_id_not_by_time(
    store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = _project(store)
    now = time.time()
    store.record(
        DigestBatch(analytics=[_event(pid, "seen", f"d{n % 50}", now - n) for n in range(500)])
    )
    statements: list[tuple[str, list[Any]]] = []
    fetch_all = event_explorer._fetch_all

    def spy(statement: str, params: list[Any]) -> Any:
        statements.append((statement, params))
        return fetch_all(statement, params)

    monkeypatch.setattr(event_explorer, "_fetch_all", spy)
    query = EventQuery(pid, now - 30 * 86400, now + 1, distinct_ids=("d1", "d2"))
    found, _ = store.find_events(query, limit=25)
    assert len(found) == 20
    [(statement, params)] = statements
    plan = store.db.read(
        lambda c: [row[3] for row in c.execute(f"EXPLAIN QUERY PLAN {statement}", params)]
    )
    assert any("events_by_distinct_id" in step for step in plan), plan


def test_an_id_left_pointing_at_a_missing_person_makes_the_person_again(
    store: SQLiteStore,
) -> None:
    pid = _project(store)
    now = time.time()
    store.record(DigestBatch(analytics=[_event(pid, "seen", "ada", now - 10)]))
    store.db.write(lambda c: c.execute("DELETE FROM persons WHERE project_id = ?", (pid,)))
    later = _event(pid, "$set", "ada", now)
    later.properties["$set"] = {"plan": "pro"}
    store.record(DigestBatch(analytics=[later]))
    person = store.person_by_distinct_id(pid, "ada")
    assert person is not None and person.properties == {"plan": "pro"}
    assert person.distinct_ids == ("ada",)


def test_rollup_purge_deletes_a_bounded_number_of_rows_per_write(
    store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = _project(store)
    old_hour = int((time.time() - 400 * 86400) // 3600)
    rows = [(pid, old_hour, "page", f"/spam{n}", 1, 0) for n in range(3 * BATCH_ROWS + 7)]
    store.db.write(
        lambda c: c.executemany("INSERT INTO web_top_hourly VALUES (?, ?, ?, ?, ?, ?)", rows)
    )
    changes: list[int] = []
    write = store.db.write

    def counted(task: Any) -> Any:
        def run(conn: Any) -> Any:
            before = conn.total_changes
            result = task(conn)
            changes.append(conn.total_changes - before)
            return result

        return write(run)

    monkeypatch.setattr(store.db, "write", counted)
    purge_expired(store, pause=0)
    assert max(changes) <= BATCH_ROWS
    left = store.db.read(lambda c: c.execute("SELECT COUNT(*) FROM web_top_hourly").fetchone()[0])
    assert left == 0


def test_a_person_with_many_ids_is_read_with_at_most_the_listed_ones(
    store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = _project(store)
    now = time.time()
    store.record(DigestBatch(analytics=[_event(pid, "seen", "ada", now)]))
    person = store.person_by_distinct_id(pid, "ada")
    assert person is not None
    extra = [(pid, f"id-{n:04}", person.id) for n in range(MAX_LISTED_IDS + 50)]
    store.db.write(
        lambda c: c.executemany("INSERT INTO person_distinct_ids VALUES (?, ?, ?)", extra)
    )
    read: list[int] = []
    rows = store._person_rows

    def spy(sql: str, params: Any) -> list[Any]:
        found = rows(sql, params)
        read.append(len(found))
        return found

    monkeypatch.setattr(store, "_person_rows", spy)
    [listed], _ = store.list_persons(pid, limit=10)
    assert len(listed.distinct_ids) == MAX_LISTED_IDS
    assert listed.distinct_ids[0] == "ada" and listed.distinct_ids[-1] == f"id-{98:04}"
    assert max(read) <= MAX_LISTED_IDS
