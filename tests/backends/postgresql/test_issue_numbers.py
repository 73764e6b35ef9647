"""Nodes creating issues in one project at once on PostgreSQL never share a number.

Each digest transaction numbers the issues it created last, through the
project's counter row, which it holds until commit: a second node's batch
waits for it and continues from its number.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from heliograph.store.base import DigestBatch, IssueFilter
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


def test_concurrent_batches_number_their_issues_without_collision(
    nodes: list[PostgresStore],
) -> None:
    first = nodes[0]
    org = first.create_organization("acme", "Acme")
    project = first.create_project(org.id, "shop", "Shop")
    start = threading.Barrier(len(nodes))
    failures: list[BaseException] = []

    def digest(index: int) -> None:
        start.wait()
        try:
            for batch in range(5):
                # Each batch: issues of its own and one every node shares.
                groups = [f"n{index}-b{batch}-{k}" for k in range(10)] + [f"shared-{batch}"]
                nodes[index].record(DigestBatch(errors=[error(project.id, g) for g in groups]))
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=digest, args=(i,)) for i in range(len(nodes))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures
    issues, _ = first.list_issues(IssueFilter(project.id, status=None), limit=1000, cursor=None)
    assert len(issues) == 4 * 5 * 10 + 5
    assert sorted(i.short_number for i in issues) == list(range(1, len(issues) + 1))
