"""Retention runs on one node at a time when N nodes share one PostgreSQL database.

Each node's retention job calls ``purge_expired``; a pass holds an advisory lock,
and a node that finds it held skips its pass (an empty report) rather than
deleting the same rows beside the holder. Two stores on one database stand for
two nodes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from heliograph.store.postgresql import PostgresStore
from heliograph.store.postgresql.retention import retention_lock
from tests.postgres import PostgresCluster


@pytest.fixture
def nodes(postgres: PostgresCluster | None) -> Iterator[tuple[PostgresStore, PostgresStore]]:
    """Two stores on one fresh database, as two nodes would open it."""
    if postgres is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    url = postgres.new_database()
    first = PostgresStore(url)
    second = PostgresStore(url)
    yield first, second
    second.close()
    first.close()


def used_link(store: PostgresStore) -> None:
    """Something the next real pass deletes and counts (``report.sessions``)."""
    user = store.create_user(f"u{store.count_users()}@example.com")
    link = store.create_login_link(user.id)
    assert store.consume_login_link(link) == user.id


def test_a_pass_is_skipped_while_another_node_holds_the_lock(
    nodes: tuple[PostgresStore, PostgresStore], caplog: pytest.LogCaptureFixture
) -> None:
    first, second = nodes
    org = first.create_organization("acme", "Acme")
    first.create_project(org.id, "shop", "Shop")
    used_link(first)
    with retention_lock(first.db) as held:
        assert held
        with caplog.at_level(logging.INFO, logger="heliograph.store.postgresql.retention"):
            skipped = second.purge_expired()
        assert (skipped.projects, skipped.sessions) == ([], 0)
        assert "skipping" in caplog.text
        # A dry run only counts: it takes no lock and is not skipped.
        assert [p.project.slug for p in second.purge_expired(dry_run=True).projects] == ["shop"]
    done = second.purge_expired()
    assert [p.project.slug for p in done.projects] == ["shop"] and done.sessions == 1


def test_the_lock_is_released_after_each_pass(nodes: tuple[PostgresStore, PostgresStore]) -> None:
    first, second = nodes
    used_link(first)
    assert first.purge_expired().sessions == 1
    used_link(first)
    assert second.purge_expired().sessions == 1  # the first node's pass let go
    with retention_lock(second.db) as held:
        assert held  # and so did the second's, on a connection back in its pool
    used_link(second)
    assert first.purge_expired().sessions == 1


def test_one_node_holds_the_lock_at_a_time(nodes: tuple[PostgresStore, PostgresStore]) -> None:
    first, second = nodes
    with (
        retention_lock(first.db) as held_first,
        retention_lock(second.db) as held_second,
        retention_lock(first.db) as again,
    ):
        assert held_first and not held_second
        assert not again  # the holder's other connections do not get it either
    with retention_lock(second.db) as held_second:
        assert held_second
