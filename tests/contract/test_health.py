"""``Store.ping``: the trivial read readiness probes make, on every backend."""

from __future__ import annotations

from collections.abc import Callable

from heliograph.store.contract import Store


def test_a_fresh_store_answers_a_ping_with_every_migration_applied(store: Store) -> None:
    states = store.ping(timeout=2.0)
    assert states, "a store has at least one database"
    for state in states:
        assert state.database in ("sqlite", "postgresql", "clickhouse")
        assert state.expected > 0
        assert state.applied == state.expected, state
        assert state.pending == 0 and not state.too_new


def test_a_ping_writes_nothing_and_gives_the_same_answer_after_a_restart(
    store: Store, reopen: Callable[[], Store]
) -> None:
    before = store.ping()
    assert store.list_projects() == []
    assert reopen().ping() == before
