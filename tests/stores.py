"""Opening a server's store from a test, as an admin tool would: through the contract.

Tests seed and read a server's data through :func:`heliograph.store.open_store`
and the :class:`~heliograph.store.contract.Store` methods, never through a
backend class or SQL, so they hold whichever backend the URL names. (What only
SQLite can answer lives in ``tests/backends/sqlite``.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from heliograph.config import Settings
from heliograph.model import Event
from heliograph.store import open_store
from heliograph.store.contract import Store
from heliograph.store.llm_records import LlmEventFilter
from tests.conftest import LiveServer


@contextmanager
def data_store(data_dir: Path) -> Iterator[Store]:
    """The store of a server with ``data_dir``: the URL the server itself computes."""
    store = open_store(Settings(data_dir=data_dir).store_url)
    try:
        yield store
    finally:
        store.close()


@contextmanager
def server_store(server: LiveServer) -> Iterator[Store]:
    """The live server's store (it sees every write at once: it reads the same database)."""
    with data_store(server.data_dir) as store:
        yield store


def llm_analytics(store: Store, project_id: int, *names: str) -> list[Event]:
    """Every stored LLM analytics event named ``names`` in a project, newest first."""
    found: list[Event] = []
    cursor = None
    while True:
        rows, cursor = store.llm_events(
            LlmEventFilter(project_id, names=names), limit=100, cursor=cursor
        )
        for row in rows:
            stored = store.get_event(project_id, row.event_id)
            assert stored is not None, row.event_id
            found.append(stored.event)
        if cursor is None:
            return found
