"""The embedded backend: everything in SQLite files on this node's disk.

The default, and the whole of a one-machine deployment: the store in
``heliograph.sqlite3`` (:class:`SQLiteStore`), the ingest queue in
``queue.sqlite3``, ``queue-1.sqlite3``, ... (:class:`SQLiteQueue`, a shard per
acceptor process, on every deployment). Each file has
one writer thread with group commit and read-only readers
(:mod:`.database`). Nothing outside :mod:`heliograph.store` imports this
package: :func:`heliograph.store.open_store` does.
"""

from __future__ import annotations

from heliograph.store.sqlite.queue import SQLiteQueue
from heliograph.store.sqlite.store import SQLiteStore

__all__ = ["SQLiteQueue", "SQLiteStore"]
