"""A person's events in ClickHouse are found through a skip index, not a parse of every row.

The person page asks for the events of a few distinct ids over 30 days; the
contract suite checks the answer, this checks that the query can skip the
granules without those ids (migration 2: a materialized ``distinct_id`` and
its bloom filter).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from heliograph.model import Event
from heliograph.store.base import DigestBatch, Project
from heliograph.store.clickhouse import ClickHouseStore
from heliograph.store.clickhouse.client import Row
from heliograph.store.web_records import EventQuery
from tests import clickhouse
from tests.postgres import PostgresCluster


class Spy(clickhouse.ChdbClient):
    """The engine, remembering each query."""

    def __init__(self, database: str) -> None:
        super().__init__(database)
        self.queries: list[tuple[str, dict[str, Any]]] = []

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        self.queries.append((sql, dict(params or {})))
        return super().query(sql, params)


def seen(project_id: int, distinct_id: str, at: float) -> Event:
    return Event(
        project_id=project_id, event_id=uuid.uuid4().hex, timestamp=at, received_at=at,
        kind="analytics", name="seen", distinct_id=distinct_id,
    )  # fmt: skip


@pytest.fixture
def store(postgres: PostgresCluster | None) -> Iterator[ClickHouseStore]:
    if postgres is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    if not clickhouse.available():
        pytest.skip("chdb is not installed (pip install -e '.[test]')")
    opened = ClickHouseStore(postgres.new_database(), Spy(clickhouse.new_database()))
    yield opened
    opened.close()


@pytest.fixture
def project(store: ClickHouseStore) -> Project:
    org = store.create_organization("acme", "Acme")
    return store.create_project(org.id, "shop", "Shop")


def test_a_persons_events_use_the_distinct_id_skip_index(
    store: ClickHouseStore, project: Project
) -> None:
    now = time.time()
    events = [seen(project.id, f"d{n % 20}", now - n) for n in range(200)]
    store.record(DigestBatch(analytics=events))
    client = store.events
    assert isinstance(client, Spy)
    client.queries.clear()
    query = EventQuery(project.id, now - 30 * 86400, now + 1, distinct_ids=("d1", "d2"))
    found, _ = store.find_events(query, limit=25)
    assert len(found) == 20
    [(sql, params)] = client.queries
    plan = " ".join(str(row[0]) for row in client.query(f"EXPLAIN indexes = 1 {sql}", params))
    assert "by_distinct_id" in plan, plan
