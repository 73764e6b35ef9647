"""The storage contract suite: every test in ``tests/contract`` runs once per backend.

The tests speak only to the store's public methods (never SQL), so they say
what *any* backend must do. Backends are the parameters of one fixture,
:func:`store_url`; nothing else in the suite names a backend.

How a new backend joins the suite:

1. add its id to ``BACKENDS`` and, in :func:`backend_url`, the URLs of a fresh,
   empty store for one test (a file under ``tmp_path``, or a throwaway
   database on a test server; skip the param when that server is missing);
2. register the backend's scheme in :data:`heliograph.store.BACKENDS`, which
   :func:`open_backend` goes through (``heliograph.store.open_store``).

``clickhouse`` is PostgreSQL with its events in ClickHouse, the engine run
in-process (chdb); ``clickhouse-http`` is the same through the production
client, clickhouse-connect, over HTTP to a test endpoint on that engine.

The tests themselves are not touched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from heliograph.store import open_store
from heliograph.store.base import Organization, Project
from heliograph.store.contract import Store
from tests import clickhouse
from tests.postgres import PostgresCluster

BACKENDS = ["sqlite", "postgresql", "clickhouse", "clickhouse-http"]


class StoreUrls(NamedTuple):
    """``HELIOGRAPH_DATABASE_URL``, ``HELIOGRAPH_EVENTS_URL`` (empty: none) and
    ``HELIOGRAPH_BLOB_URL`` (empty: the backend's default)."""

    database: str
    events: str = ""
    blobs: str = ""


def backend_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> StoreUrls:
    """The URLs of a fresh, empty store of ``backend`` for one test (with its replay
    blobs in the test's directory)."""
    return backend_url_for(backend, tmp_path, request)._replace(blobs=f"file://{tmp_path}/blobs")


def backend_url_for(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> StoreUrls:
    if backend == "sqlite":
        return StoreUrls(f"sqlite:///{tmp_path}/heliograph.sqlite3")
    running: PostgresCluster | None = request.getfixturevalue("postgres")
    if running is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    if backend == "postgresql":
        return StoreUrls(running.new_database())
    if not clickhouse.available():
        pytest.skip("chdb is not installed (pip install -e '.[dev]')")
    if backend == "clickhouse":
        clickhouse.register()
        return StoreUrls(running.new_database(), f"chdb://{clickhouse.new_database()}")
    if backend == "clickhouse-http":
        endpoint: clickhouse.ClickHouseHttp = request.getfixturevalue("clickhouse_http")
        return StoreUrls(running.new_database(), endpoint.url(clickhouse.new_database()))
    raise ValueError(f"no contract URL for backend {backend!r}")


def open_backend(urls: StoreUrls) -> Store:
    """Open the store the URLs name: the one place the suite constructs a backend."""
    return open_store(urls.database, events_url=urls.events, blobs_url=urls.blobs, create=True)


@pytest.fixture(scope="session")
def clickhouse_http() -> Iterator[clickhouse.ClickHouseHttp]:
    endpoint = clickhouse.ClickHouseHttp()
    yield endpoint
    endpoint.close()


@pytest.fixture(params=BACKENDS, ids=[f"backend={b}" for b in BACKENDS])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> StoreUrls:
    return backend_url(request.param, tmp_path, request)


@pytest.fixture
def store(store_url: StoreUrls) -> Iterator[Store]:
    opened = open_backend(store_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def reopen(store: Store, store_url: StoreUrls) -> Iterator[Callable[[], Store]]:
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
