"""A batch whose ClickHouse half failed is written again by its replay, and counted once.

Digest's PostgreSQL transaction commits before the events go to ClickHouse.
Whatever happens after that commit (ClickHouse unreachable, or the insert
landing but its answer lost), the batch's future fails, digest keeps the
payloads and replays the batch: the counts do not move again, and each event
ends up in ClickHouse exactly once as far as any read can tell.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from heliograph.store.base import DigestBatch, IssueFilter, Project, StoreUnavailable
from heliograph.store.clickhouse import ClickHouseStore
from heliograph.store.llm_records import LlmEventFilter
from tests import clickhouse
from tests.contract.builders import ai_event, error
from tests.postgres import PostgresCluster


class FlakyClient(clickhouse.ChdbClient):
    """The engine, whose next insert fails: before it lands, or after (its answer lost)."""

    def __init__(self, database: str) -> None:
        super().__init__(database)
        self.fail_next: str | None = None
        self.inserts: list[str] = []

    def insert(self, table: str, columns: Sequence[str], rows: bytes, *, token: str) -> None:
        self.inserts.append(token)
        if self.fail_next == "before":
            self.fail_next = None
            raise StoreUnavailable("ClickHouse: connection refused")
        super().insert(table, columns, rows, token=token)
        if self.fail_next == "after":
            self.fail_next = None
            raise StoreUnavailable("ClickHouse: read timed out")


@pytest.fixture
def store(postgres: PostgresCluster | None) -> Iterator[ClickHouseStore]:
    if postgres is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    if not clickhouse.available():
        pytest.skip("chdb is not installed (pip install -e '.[test]')")
    opened = ClickHouseStore(postgres.new_database(), FlakyClient(clickhouse.new_database()))
    yield opened
    opened.close()


@pytest.fixture
def project(store: ClickHouseStore) -> Project:
    org = store.create_organization("acme", "Acme")
    return store.create_project(org.id, "shop", "Shop")


def pending_keys(store: ClickHouseStore) -> int:
    return int(store.db.read(lambda c: c.execute(
        "SELECT count(*) FROM event_keys WHERE pending").fetchone()[0]))  # fmt: skip


def state(store: ClickHouseStore, project: Project) -> tuple[Any, ...]:
    [issue] = store.list_issues(IssueFilter(project.id), limit=10, cursor=None)[0]
    events = store.issue_events(issue.id, limit=100, cursor=None)[0]
    calls = store.llm_events(LlmEventFilter(project.id), limit=100)[0]
    usage = store.llm_usage_by_model(project.id, 0, 10**9)
    return issue.times_seen, sorted(e.event_id for e in events), len(calls), usage


@pytest.mark.parametrize("failure", ["before", "after"])
def test_a_replayed_batch_lands_once(
    store: ClickHouseStore, project: Project, failure: str
) -> None:
    now = time.time()
    errors = [error(project.id, "a", at=now - n) for n in range(3)]
    calls = [ai_event(project.id, trace="t1", at=now - n) for n in range(2)]
    batch = DigestBatch(errors=errors, analytics=calls)
    client = store.events
    assert isinstance(client, FlakyClient)

    client.fail_next = failure
    with pytest.raises(StoreUnavailable):
        store.record(batch)  # PostgreSQL committed; ClickHouse did not say so
    assert pending_keys(store) == 5
    [issue] = store.list_issues(IssueFilter(project.id), limit=10, cursor=None)[0]
    assert issue.times_seen == 3  # counted once, in the committed transaction

    tokens_before = list(client.inserts)
    result = store.record(batch)  # digest replays the batch it still holds
    assert result.rejected == ()
    assert pending_keys(store) == 0
    # The replay sends the same blocks under the same tokens.
    assert client.inserts[len(tokens_before) :][: len(set(tokens_before))] == sorted(
        set(tokens_before), key=tokens_before.index
    )
    times_seen, event_ids, llm_rows, usage = state(store, project)
    assert times_seen == 3
    assert event_ids == sorted(g.event.event_id for g in errors)  # each once
    assert llm_rows == 2
    assert [row.requests for row in usage] == [2]

    store.record(batch)  # and a third time, all written: nothing is sent, nothing moves
    assert state(store, project) == (times_seen, event_ids, llm_rows, usage)


def test_rows_stored_twice_are_listed_once_page_by_page(
    store: ClickHouseStore, project: Project
) -> None:
    """Neither dropped on insert nor merged yet: every page still shows each event once."""
    now = time.time()
    errors = [error(project.id, "a", at=now - n) for n in range(5)]
    calls = [ai_event(project.id, trace=None, at=now - n) for n in range(5)]
    store.record(DigestBatch(errors=errors, analytics=calls))
    for table in ("error_events", "llm_events"):  # the same rows again, as a replay would
        store.events.command(
            f"INSERT INTO {table} SETTINGS insert_deduplicate = 0 SELECT * FROM {table}"
        )
        assert store.events.query(f"SELECT count() FROM {table}") == [(10,)]
    [issue] = store.list_issues(IssueFilter(project.id), limit=10, cursor=None)[0]
    newest_first = [g.event.event_id for g in errors]
    for limit in (1, 2, 3, 10):
        seen: list[str] = []
        cursor: str | None = None
        while True:
            page, cursor = store.issue_events(issue.id, limit=limit, cursor=cursor)
            seen += [e.event_id for e in page]
            if cursor is None:
                break
        assert seen == newest_first
        seen, cursor = [], None
        while True:
            rows, cursor = store.llm_events(LlmEventFilter(project.id), limit=limit, cursor=cursor)
            seen += [row.event_id for row in rows]
            if cursor is None:
                break
        assert seen == [call.event_id for call in calls]
    assert [e.event_id for e in store.events_by_trace(project.id, "none")] == []
