"""The storage contract suite: every test in ``tests/contract`` runs once per backend.

The tests speak only to the store's public methods (never SQL), so they say
what *any* backend must do. Backends are the parameters of one fixture,
:func:`store_url`; nothing else in the suite names a backend.

How a new backend (PostgreSQL, ClickHouse...) joins the suite:

1. add its id to ``BACKENDS`` and, in :func:`backend_url`, the URL of a fresh,
   empty database for one test (a file under ``tmp_path``, or a throwaway
   database on a test server named by an environment variable; skip the
   param when that variable is unset);
2. register the backend's scheme in :data:`heliograph.store.BACKENDS`, which
   :func:`open_backend` goes through (``heliograph.store.open_store``).

The tests themselves are not touched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from heliograph.store import open_store
from heliograph.store.base import Organization, Project
from heliograph.store.contract import Store
from tests.postgres import PostgresCluster

BACKENDS = ["sqlite", "postgresql"]


def backend_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The URL of a fresh, empty store of ``backend`` for one test."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}/heliograph.sqlite3"
    if backend == "postgresql":
        running: PostgresCluster | None = request.getfixturevalue("postgres")
        if running is None:
            pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
        return running.new_database()
    raise ValueError(f"no contract URL for backend {backend!r}")


def open_backend(url: str) -> Store:
    """Open the store a URL names: the one place the suite constructs a backend."""
    return open_store(url, create=True)


@pytest.fixture(params=BACKENDS, ids=[f"backend={b}" for b in BACKENDS])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return backend_url(request.param, tmp_path, request)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_backend(store_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def reopen(store: Store, store_url: str) -> Iterator[Callable[[], Store]]:
    """Close ``store`` (finishing its queued writes) and open the same URL again.

    What a restarted server sees: only what the backend really kept. The
    ``store`` fixture closes the first store again: a second close is harmless.
    """
    opened: list[Store] = []

    def again() -> Store:
        (opened[-1] if opened else store).close()
        opened.append(open_backend(store_url))
        return opened[-1]

    yield again
    for each in opened:
        each.close()


@pytest.fixture
def org(store: Store) -> Organization:
    return store.create_organization("acme", "Acme")


@pytest.fixture
def project(store: Store, org: Organization) -> Project:
    return store.create_project(org.id, "shop", "Shop")


@pytest.fixture
def other_project(store: Store, org: Organization) -> Project:
    return store.create_project(org.id, "blog", "Blog")
