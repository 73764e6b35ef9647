"""Storage: the contract every backend keeps, and the one place a backend is chosen.

A backend is named by the scheme of ``HELIOGRAPH_DATABASE_URL`` (default:
``sqlite:///<data-dir>/heliograph.sqlite3``, the embedded backend). With
``HELIOGRAPH_EVENTS_URL`` (``clickhouse://``), a PostgreSQL store keeps its
events in ClickHouse (:mod:`heliograph.store.clickhouse`). Like an
httpx transport or a Bugsink storage class, it is one entry in
:data:`BACKENDS`: a function from the URL to a
:class:`~heliograph.store.contract.Store`. Everything outside this package
holds a ``Store`` (or a narrower role from :mod:`heliograph.store.contract`)
and never learns which backend it is. Adding one: ``docs/extending.md``.

The ingest queue is not a backend choice: every node keeps its own on local
disk, a shard per acceptor process (:func:`open_queue`, :func:`open_node_queue`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from heliograph.config import ConfigError
from heliograph.store.base import StoreNotFound
from heliograph.store.blobs import BlobStore, open_blob_store
from heliograph.store.contract import Store
from heliograph.store.queue import NodeQueue, PayloadQueue

__all__ = [
    "BACKENDS",
    "migrate_queue_shards",
    "open_node_queue",
    "open_queue",
    "open_store",
    "queue_shards",
]


def _open_sqlite(url: str, create: bool, events_url: str, blobs: BlobStore | None) -> Store:
    from heliograph.store.sqlite import SQLiteStore

    if events_url:
        raise ConfigError("HELIOGRAPH_EVENTS_URL needs a postgresql:// HELIOGRAPH_DATABASE_URL")
    path = Path(url.removeprefix("sqlite:///"))
    if not create and not path.exists():
        raise StoreNotFound(f"no Heliograph database at {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    return SQLiteStore(path, blobs)


def _open_postgresql(url: str, create: bool, events_url: str, blobs: BlobStore | None) -> Store:
    from heliograph.store.postgresql import PostgresStore

    # A server database always exists once it answers; create=False needs no check.
    if not events_url:
        return PostgresStore(url, blobs)
    from heliograph.store.clickhouse import ClickHouseStore
    from heliograph.store.clickhouse.client import connect

    return ClickHouseStore(url, connect(events_url), blobs)


# URL scheme -> opener(url, create, events_url, blobs). ``create=False`` refuses to
# start an empty store (admin commands pointed at the wrong place say so instead);
# ``events_url`` (may be empty) is where the events go instead of this store;
# ``blobs`` where replay recordings go (None: the backend's default).
BACKENDS: dict[str, Callable[[str, bool, str, BlobStore | None], Store]] = {
    "sqlite": _open_sqlite,
    "postgresql": _open_postgresql,
}


def open_store(
    url: str, *, events_url: str = "", blobs_url: str = "", create: bool = True
) -> Store:
    """The store named by ``url`` (its events in ``events_url``, its replay blobs in
    ``blobs_url``, if given).

    :class:`ConfigError` names the schemes known.
    """
    scheme = url.split(":", 1)[0].lower()
    opener = BACKENDS.get(scheme)
    if opener is None or "://" not in url:
        known = ", ".join(f"{name}://" for name in sorted(BACKENDS))
        raise ConfigError(f"unsupported database URL {url.split('@')[-1]!r}: use one of {known}")
    return opener(url, create, events_url, open_blob_store(blobs_url) if blobs_url else None)


def open_queue(data_dir: Path, shard: int = 0) -> PayloadQueue:
    """Shard ``shard`` of the ingest queue in ``data_dir`` (one per acceptor process)."""
    from heliograph.store.sqlite.queue import SQLiteQueue, shard_path

    data_dir.mkdir(parents=True, exist_ok=True)
    return SQLiteQueue(shard_path(data_dir, shard), shard)


def open_node_queue(data_dir: Path) -> NodeQueue:
    """All the queue shards in ``data_dir``: the node's backlog and dead letters."""
    from heliograph.store.sqlite.queue_shards import QueueShards

    return QueueShards(data_dir)


def queue_shards(data_dir: Path) -> list[int]:
    """The queue shards that have a file in ``data_dir``, in order."""
    from heliograph.store.sqlite.queue import existing_shards

    return existing_shards(data_dir)


def migrate_queue_shards(data_dir: Path) -> None:
    """Open each queue shard in ``data_dir`` once: migrated, or refused.

    ``serve`` runs this before it starts its acceptor and digest processes, so
    that a shard a newer Heliograph wrote stops the start with
    :class:`~heliograph.store.base.SchemaTooNew` instead of a crash loop.
    """
    for shard in queue_shards(data_dir):
        open_queue(data_dir, shard).close()
