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
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from heliograph.store.database import Database

PayloadKind = Literal["sentry_envelope", "sentry_store", "posthog", "otlp_proto", "otlp_json"]

MIGRATIONS = [
    """
    CREATE TABLE queue (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        project_id INTEGER NOT NULL,
        kind TEXT NOT NULL,
        received_at REAL NOT NULL,
        -- The body is kept as it arrived: compressed bodies are a fraction of the
        -- bytes to write; digest undoes this Content-Encoding.
        encoding TEXT,
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
    encoding: str | None
    body: bytes


DEPTH_REFRESH_SECONDS = 0.25


class IngestQueue:
    """Append-only durable queue, shared by the server and the digest process.

    ``depth`` is what backpressure looks at. Ids only grow and digest deletes
    from the head, so the depth is ``max(id) - min(id) + 1``: two index
    look-ups, refreshed a few times a second, never a ``COUNT(*)`` on the
    hot path.
    """

    def __init__(self, path: Path) -> None:
        self._db = Database(path, migrations=MIGRATIONS, durable=True)
        self._new_work = threading.Event()
        self._depth = 0
        self._depth_at = 0.0
        if self.depth:
            self._new_work.set()

    @property
    def depth(self) -> int:
        now = time.monotonic()
        if now - self._depth_at > DEPTH_REFRESH_SECONDS:
            self._depth = self._db.read(_count_span)
            self._depth_at = now
        return self._depth

    async def append(
        self,
        project_id: int,
        kind: PayloadKind,
        received_at: float,
        body: bytes,
        encoding: str | None = None,
    ) -> int:
        """Commit one payload to disk; returns its queue id once durable."""
        queue_id = await self._db.write_async(
            lambda c: _insert(c, project_id, kind, received_at, body, encoding)
        )
        self._depth += 1
        self._new_work.set()
        return queue_id

    def append_nowait(
        self, project_id: int, kind: PayloadKind, received_at: float, body: bytes
    ) -> None:
        """Queue a payload without waiting for its commit (internal, best-effort events)."""
        self._db.submit(lambda c: _insert(c, project_id, kind, received_at, body, None))
        self._new_work.set()

    def wait_for_work(self, timeout: float) -> bool:
        """Block the digest thread until something is appended (or timeout)."""
        signalled = self._new_work.wait(timeout)
        self._new_work.clear()
        return signalled

    def wake(self) -> None:
        self._new_work.set()

    def oldest(self, limit: int, *, after_id: int = 0) -> list[QueuedPayload]:
        """The first ``limit`` payloads with an id above ``after_id``, oldest first."""
        rows = self._db.read(
            lambda c: c.execute(
                "SELECT id, project_id, kind, received_at, encoding, body FROM queue "
                "WHERE id > ? ORDER BY id LIMIT ?",
                (after_id, limit),
            ).fetchall()
        )
        return [QueuedPayload(r[0], r[1], r[2], r[3], r[4], bytes(r[5])) for r in rows]

    def remove(self, ids: Sequence[int]) -> None:
        """Delete processed payloads (after their results are committed elsewhere)."""
        if not ids:
            return
        self._db.write(
            lambda c: c.execute("DELETE FROM queue WHERE id BETWEEN ? AND ?", (min(ids), max(ids)))
        )
        self._depth_at = 0.0

    def close(self) -> None:
        self._db.close()


def _insert(
    conn: sqlite3.Connection,
    project_id: int,
    kind: str,
    received_at: float,
    body: bytes,
    encoding: str | None,
) -> int:
    cursor = conn.execute(
        "INSERT INTO queue (project_id, kind, received_at, encoding, body) VALUES (?, ?, ?, ?, ?)",
        (project_id, kind, received_at, encoding, body),
    )
    return cursor.lastrowid or 0


def _count_span(conn: sqlite3.Connection) -> int:
    low, high = conn.execute("SELECT MIN(id), MAX(id) FROM queue").fetchone()
    return 0 if low is None else int(high) - int(low) + 1
