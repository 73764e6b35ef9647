"""Two nodes claiming alert deliveries at once on PostgreSQL never take the same one.

Each node's delivery thread claims due rows with ``FOR UPDATE SKIP LOCKED``:
while one claim's transaction holds rows, another skips them instead of
waiting, and no row is handed to both.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from heliograph.alerts.rules import check_rule
from heliograph.store.base import DigestBatch
from heliograph.store.postgresql import PostgresStore
from tests.contract.builders import error
from tests.postgres import PostgresCluster


@pytest.fixture
def nodes(postgres: PostgresCluster | None) -> Iterator[list[PostgresStore]]:
    if postgres is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    url = postgres.new_database()
    stores = [PostgresStore(url) for _ in range(4)]
    yield stores
    for store in stores:
        store.close()


def test_concurrent_claims_are_disjoint(nodes: list[PostgresStore]) -> None:
    first = nodes[0]
    org = first.create_organization("acme", "Acme")
    project = first.create_project(org.id, "shop", "Shop")
    raw = {"name": "new", "trigger": "new_issue",
           "actions": [{"type": "webhook", "url": "https://hooks.example/x"}]}  # fmt: skip
    first.create_alert_rule(project.id, check_rule(raw), user_id=None)
    first.record(DigestBatch(errors=[error(project.id, f"g{n}") for n in range(200)]))
    claimed: list[list[int]] = [[] for _ in nodes]
    start = threading.Barrier(len(nodes))

    def claim(index: int) -> None:
        start.wait()
        while found := nodes[index].claim_deliveries(limit=7):
            claimed[index] += [d.id for d in found]

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(nodes))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    everything = [d for ids in claimed for d in ids]
    assert len(everything) == 200 and len(set(everything)) == 200
    assert sum(1 for ids in claimed if ids) >= 2  # they really claimed side by side
