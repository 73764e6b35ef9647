"""The ingest queue (:mod:`heliograph.store.queue`): one SQLite file per shard.

A payload is committed with ``synchronous=FULL`` before ingest answers 2xx.
The queue lives in files of its own so that ingest never waits for the write
lock of the main database, which digest holds for much longer transactions.

Each acceptor process appends to a shard of its own (``queue.sqlite3`` is
shard 0, then ``queue-1.sqlite3``, ...), so N acceptors commit in parallel
instead of taking turns on one write lock. Shard ``k`` numbers its payloads
from ``k << SHARD_ID_BITS``: queue ids, and so dead-letter ids, are unique
across the node, and an id names its shard.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from heliograph.store.queue import DeadLetter, PayloadKind, QueuedPayload
from heliograph.store.sqlite.database import Database

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
    """,
    # Payloads digest could not store, kept for an admin to inspect and replay.
    """
    CREATE TABLE dead_letters (
        id INTEGER PRIMARY KEY,  -- the payload's queue id
        project_id INTEGER NOT NULL,
        kind TEXT NOT NULL,
        received_at REAL NOT NULL,
        encoding TEXT,
        body BLOB NOT NULL,
        failed_at REAL NOT NULL,
        reason TEXT NOT NULL
    );
    """,
    # The client's address, for events whose SDK asks the server to fill it in
    # (Sentry's "{{auto}}"): digest uses it, the store never keeps it as is.
    """
    ALTER TABLE queue ADD COLUMN client_address TEXT;
    ALTER TABLE dead_letters ADD COLUMN client_address TEXT;
    """,
]


MAX_REASON_CHARS = 500
_DEAD_LETTER_COLUMNS = (
    "id, project_id, kind, received_at, encoding, length(body), failed_at, reason"
)

DEPTH_REFRESH_SECONDS = 0.25
# Room for 2**40 (about 10**12) payloads per shard before ids would run into
# the next shard's; SQLite's ids stop at 2**63, so 2**23 shards fit.
SHARD_ID_BITS = 40
MAX_SHARDS = 1 << 23
_SHARD_FILE = re.compile(r"queue(?:-([1-9][0-9]*))?\.sqlite3")


def shard_path(data_dir: Path, shard: int) -> Path:
    """The file of queue shard ``shard`` (shard 0 keeps the historical name)."""
    if not 0 <= shard < MAX_SHARDS:
        raise ValueError(f"queue shard {shard} out of range")
    return data_dir / ("queue.sqlite3" if shard == 0 else f"queue-{shard}.sqlite3")


def existing_shards(data_dir: Path) -> list[int]:
    """The shards with a file in ``data_dir``, in order."""
    shards = []
    for path in data_dir.glob("queue*.sqlite3"):
        match = _SHARD_FILE.fullmatch(path.name)
        if match and int(match.group(1) or 0) < MAX_SHARDS:
            shards.append(int(match.group(1) or 0))
    return sorted(shards)


def shard_of(queue_id: int) -> int:
    """The shard a queue (or dead-letter) id belongs to."""
    return queue_id >> SHARD_ID_BITS


class SQLiteQueue:
    """Append-only durable queue, shared by the server and the digest process.

    ``depth`` is what backpressure looks at. Ids only grow and digest deletes
    from the head, so the depth is ``max(id) - min(id) + 1``: two index
    look-ups, refreshed a few times a second, never a ``COUNT(*)`` on the
    hot path.
    """

    def __init__(self, path: Path, shard: int = 0) -> None:
        self.shard = shard
        self._db = Database(path, migrations=MIGRATIONS, durable=True)
        if shard:
            self._db.write(lambda conn: _start_ids_at(conn, shard << SHARD_ID_BITS))
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
        client_address: str | None = None,
    ) -> int:
        """Commit one payload to disk; returns its queue id once durable."""
        queue_id = await self._db.write_async(
            lambda c: _insert(c, project_id, kind, received_at, body, encoding, client_address)
        )
        self._depth += 1
        self._new_work.set()
        return queue_id

    def append_nowait(
        self, project_id: int, kind: PayloadKind, received_at: float, body: bytes
    ) -> None:
        """Queue a payload without waiting for its commit (internal, best-effort events)."""
        self._db.submit(lambda c: _insert(c, project_id, kind, received_at, body, None, None))
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
                "SELECT id, project_id, kind, received_at, encoding, body, client_address "
                "FROM queue WHERE id > ? ORDER BY id LIMIT ?",
                (after_id, limit),
            ).fetchall()
        )
        return [QueuedPayload(r[0], r[1], r[2], r[3], r[4], bytes(r[5]), r[6]) for r in rows]

    def remove(self, ids: Sequence[int], *, dead: Mapping[int, str] | None = None) -> None:
        """Delete processed payloads (after their results are committed elsewhere).

        Those in ``dead`` (queue id -> reason) move to the dead letters in the
        same transaction instead of vanishing.
        """
        if not ids:
            return
        low, high = min(ids), max(ids)
        failed_at = time.time()

        def write(conn: sqlite3.Connection) -> None:
            for queue_id, reason in (dead or {}).items():
                conn.execute(
                    "INSERT OR REPLACE INTO dead_letters "
                    "(id, project_id, kind, received_at, encoding, body, client_address, "
                    "failed_at, reason) "
                    "SELECT id, project_id, kind, received_at, encoding, body, client_address, "
                    "?, ? FROM queue WHERE id = ?",
                    (failed_at, reason[:MAX_REASON_CHARS], queue_id),
                )
            conn.execute("DELETE FROM queue WHERE id BETWEEN ? AND ?", (low, high))

        self._db.write(write)
        self._depth_at = 0.0

    # -- dead letters ------------------------------------------------------

    def dead_letters(self, *, limit: int = 100) -> list[DeadLetter]:
        """Quarantined payloads, newest first (bodies not included)."""
        rows = self._db.read(
            lambda c: c.execute(
                f"SELECT {_DEAD_LETTER_COLUMNS} FROM dead_letters ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        )
        return [DeadLetter(*row) for row in rows]

    def dead_letter_body(self, dead_id: int) -> tuple[DeadLetter, bytes] | None:
        """One quarantined payload and its body, as it arrived (still encoded)."""
        row = self._db.read(
            lambda c: c.execute(
                f"SELECT {_DEAD_LETTER_COLUMNS}, body FROM dead_letters WHERE id = ?",
                (dead_id,),
            ).fetchone()
        )
        return None if row is None else (DeadLetter(*row[:-1]), bytes(row[-1]))

    def replay_dead_letters(self, ids: Sequence[int] | None = None) -> int:
        """Queue quarantined payloads again (all when ``ids`` is None); returns how many.

        A replayed payload gets a new queue id at the tail; events of it that
        were stored before are skipped by id, so a replay never doubles them.
        """
        moved = self._db.write(lambda conn: _take_dead_letters(conn, ids, requeue=True))
        if moved:
            self._depth_at = 0.0
            self._new_work.set()
        return moved

    def purge_dead_letters(self, ids: Sequence[int] | None = None) -> int:
        """Delete quarantined payloads for good (all when ``ids`` is None)."""
        return self._db.write(lambda conn: _take_dead_letters(conn, ids, requeue=False))

    def close(self) -> None:
        self._db.close()


def _insert(
    conn: sqlite3.Connection,
    project_id: int,
    kind: str,
    received_at: float,
    body: bytes,
    encoding: str | None,
    client_address: str | None,
) -> int:
    cursor = conn.execute(
        "INSERT INTO queue (project_id, kind, received_at, encoding, body, client_address) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (project_id, kind, received_at, encoding, body, client_address),
    )
    return cursor.lastrowid or 0


def _take_dead_letters(
    conn: sqlite3.Connection, ids: Sequence[int] | None, *, requeue: bool
) -> int:
    """Delete dead letters (all when ``ids`` is None), first queueing them again if asked."""
    where = ""
    params: tuple[int, ...] = ()
    if ids is not None:
        params = tuple(int(i) for i in ids) or (-1,)
        where = f"WHERE id IN ({', '.join('?' * len(params))})"
    if requeue:
        conn.execute(
            "INSERT INTO queue (project_id, kind, received_at, encoding, body, client_address) "
            "SELECT project_id, kind, received_at, encoding, body, client_address "
            f"FROM dead_letters {where} "
            "ORDER BY id",
            params,
        )
    return int(conn.execute(f"DELETE FROM dead_letters {where}", params).rowcount)


def _start_ids_at(conn: sqlite3.Connection, first: int) -> None:
    """Make a new shard number its payloads from ``first`` (no-op once it has any)."""
    seen = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'queue'").fetchone()
    if seen is None:
        conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('queue', ?)", (first,))
    elif seen[0] < first:
        conn.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'queue'", (first,))


def _count_span(conn: sqlite3.Connection) -> int:
    low, high = conn.execute("SELECT MIN(id), MAX(id) FROM queue").fetchone()
    return 0 if low is None else int(high) - int(low) + 1
