"""The durable ingest queue: payloads as they arrived, in their own SQLite file.

Ingest's promise is durability, not processing: a request is answered 2xx only
after its payload is committed (``synchronous=FULL``) here. The digest worker
reads the oldest entries, processes them into the event store, and only then
deletes them, so a crash at any point loses nothing (digest is idempotent on
event ids, so re-processing after a crash is harmless).

The queue lives in a file of its own so that ingest never waits for the write
lock of the main database, which digest holds for much longer transactions.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from heliograph.store.database import Database

PayloadKind = Literal["sentry_envelope", "sentry_store", "posthog", "otlp"]

MIGRATIONS = [
    """
    CREATE TABLE queue (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        project_id INTEGER NOT NULL,
        kind TEXT NOT NULL,
        received_at REAL NOT NULL,
        body BLOB NOT NULL
    );
    """
]


@dataclass(frozen=True, slots=True)
class QueuedPayload:
    id: int
    project_id: int
    kind: str
    received_at: float
    body: bytes


class IngestQueue:
    """Append-only durable queue with a cheap in-memory depth counter.

    ``depth`` is what backpressure looks at: it is counted, not queried, so
    the hot path never runs ``COUNT(*)``.
    """

    def __init__(self, path: Path) -> None:
        self._db = Database(path, migrations=MIGRATIONS, durable=True)
        self._lock = threading.Lock()
        self._depth: int = self._db.read(
            lambda c: int(c.execute("SELECT COUNT(*) FROM queue").fetchone()[0])
        )
        self._new_work = threading.Event()
        if self._depth:
            self._new_work.set()

    @property
    def depth(self) -> int:
        return self._depth

    async def append(
        self, project_id: int, kind: PayloadKind, received_at: float, body: bytes
    ) -> int:
        """Commit one payload to disk; returns its queue id once durable."""

        def insert(conn: sqlite3.Connection) -> int:
            cursor = conn.execute(
                "INSERT INTO queue (project_id, kind, received_at, body) VALUES (?, ?, ?, ?)",
                (project_id, kind, received_at, body),
            )
            return cursor.lastrowid or 0

        queue_id = await self._db.write_async(insert)
        with self._lock:
            self._depth += 1
        self._new_work.set()
        return queue_id

    def append_sync(
        self, project_id: int, kind: PayloadKind, received_at: float, body: bytes
    ) -> int:
        """Blocking variant for tools and tests that are not running an event loop."""
        queue_id = self._db.write(
            lambda c: (
                c.execute(
                    "INSERT INTO queue (project_id, kind, received_at, body) VALUES (?, ?, ?, ?)",
                    (project_id, kind, received_at, body),
                ).lastrowid
                or 0
            )
        )
        with self._lock:
            self._depth += 1
        self._new_work.set()
        return queue_id

    def wait_for_work(self, timeout: float) -> bool:
        """Block the digest thread until something is appended (or timeout)."""
        signalled = self._new_work.wait(timeout)
        self._new_work.clear()
        return signalled

    def wake(self) -> None:
        self._new_work.set()

    def oldest(self, limit: int) -> list[QueuedPayload]:
        rows = self._db.read(
            lambda c: c.execute(
                "SELECT id, project_id, kind, received_at, body FROM queue ORDER BY id LIMIT ?",
                (limit,),
            ).fetchall()
        )
        return [QueuedPayload(r[0], r[1], r[2], r[3], bytes(r[4])) for r in rows]

    def remove(self, ids: Sequence[int]) -> None:
        """Delete processed payloads (after their results are committed elsewhere)."""
        if not ids:
            return
        deleted = self._db.write(
            lambda c: (
                c.execute(
                    "DELETE FROM queue WHERE id BETWEEN ? AND ?", (min(ids), max(ids))
                ).rowcount
            )
        )
        with self._lock:
            self._depth = max(0, self._depth - deleted)

    def close(self) -> None:
        self._db.close()
