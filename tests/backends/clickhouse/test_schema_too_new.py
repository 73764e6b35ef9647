"""ClickHouse's event schema, migrated by a newer release: the store refuses to open."""

from __future__ import annotations

import pytest

from heliograph.store.base import SchemaTooNew
from heliograph.store.clickhouse import ClickHouseStore
from heliograph.store.clickhouse.schema import MIGRATIONS
from tests import clickhouse
from tests.postgres import PostgresCluster


def test_an_event_schema_a_newer_release_migrated_is_refused(
    postgres: PostgresCluster | None,
) -> None:
    if postgres is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    if not clickhouse.available():
        pytest.skip("chdb is not installed (pip install -e '.[test]')")
    url, events = postgres.new_database(), clickhouse.new_database()
    ClickHouseStore(url, clickhouse.ChdbClient(events)).close()
    newer = len(MIGRATIONS) + 1
    clickhouse.ChdbClient(events).command(
        f"INSERT INTO heliograph_schema (version) VALUES ({newer})"
    )
    with pytest.raises(SchemaTooNew) as refused:
        ClickHouseStore(url, clickhouse.ChdbClient(events))
    message = str(refused.value)
    assert "ClickHouse" in message and f"schema {newer}" in message
    assert f"which knows up to {len(MIGRATIONS)}" in message
