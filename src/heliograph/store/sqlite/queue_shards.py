"""Every shard of a node's ingest queue seen as one: the backlog and the dead letters.

Each acceptor process appends to its own shard (:mod:`.queue`); backpressure
and the admin's dead-letter commands are about the node, not one process.
The backlog is summed over every shard file in the data directory, through
read-only connections (two index look-ups per shard, a few times a second),
so one acceptor refuses work when digest is behind on any of them.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from itertools import groupby
from pathlib import Path

from heliograph.store.queue import DeadLetter
from heliograph.store.sqlite.queue import (
    DEPTH_REFRESH_SECONDS,
    SQLiteQueue,
    existing_shards,
    shard_of,
    shard_path,
)

__all__ = ["QueueShards"]


class QueueShards:
    """The node's queue shards in ``data_dir``: total backlog and dead letters."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._readers: dict[int, sqlite3.Connection] = {}
        self._depth = 0
        self._depth_at = 0.0
        self._lock = threading.Lock()

    @property
    def depth(self) -> int:
        """Payloads waiting in all shards together (refreshed a few times a second)."""
        if time.monotonic() - self._depth_at > DEPTH_REFRESH_SECONDS:
            self.measure()
        return self._depth

    def measure(self) -> int:
        """Payloads waiting in all shards, read now (a 2xx'd payload is in it)."""
        with self._lock:
            self._depth = sum(self._shard_depth(shard) for shard in self.shards())
            self._depth_at = time.monotonic()
            return self._depth

    def oldest_received_at(self) -> float | None:
        """The arrival time of the oldest payload waiting in any shard (None: none waits)."""
        with self._lock:
            times = [self._shard_oldest(shard) for shard in self.shards()]
        waiting = [t for t in times if t is not None]
        return min(waiting) if waiting else None

    def shards(self) -> list[int]:
        return existing_shards(self.data_dir)

    def _reader(self, shard: int) -> sqlite3.Connection:
        conn = self._readers.get(shard)
        if conn is None:
            path = shard_path(self.data_dir, shard)
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 1000")
            self._readers[shard] = conn
        return conn

    def _shard_depth(self, shard: int) -> int:
        try:
            low, high = self._reader(shard).execute("SELECT MIN(id), MAX(id) FROM queue").fetchone()
        except sqlite3.Error:
            return 0  # a shard being created this instant: nothing in it yet
        return 0 if low is None else int(high) - int(low) + 1

    def _shard_oldest(self, shard: int) -> float | None:
        """The head payload's arrival: ids only grow, so the head is the oldest."""
        try:
            row = (
                self._reader(shard)
                .execute("SELECT received_at FROM queue ORDER BY id LIMIT 1")
                .fetchone()
            )
        except sqlite3.Error:
            return None
        return None if row is None else float(row[0])

    # -- dead letters, across shards -------------------------------------

    def count_dead_letters(self) -> int:
        """Dead letters in every shard (a scrape and the status page read it)."""
        with self._lock:
            return sum(self._shard_dead(shard) for shard in self.shards())

    def _shard_dead(self, shard: int) -> int:
        try:
            (count,) = self._reader(shard).execute("SELECT COUNT(*) FROM dead_letters").fetchone()
        except sqlite3.Error:
            return 0  # a shard being created this instant
        return int(count)

    def dead_letters(self, *, limit: int = 100) -> list[DeadLetter]:
        """Quarantined payloads of every shard, the most recently failed first."""
        letters: list[DeadLetter] = []
        for shard in self.shards():
            queue = self._open(shard)
            try:
                letters.extend(queue.dead_letters(limit=limit))
            finally:
                queue.close()
        letters.sort(key=lambda letter: (letter.failed_at, letter.id), reverse=True)
        return letters[:limit]

    def dead_letter_body(self, dead_id: int) -> tuple[DeadLetter, bytes] | None:
        shard = shard_of(dead_id)
        if shard not in self.shards():
            return None
        queue = self._open(shard)
        try:
            return queue.dead_letter_body(dead_id)
        finally:
            queue.close()

    def replay_dead_letters(self, ids: Sequence[int] | None = None) -> int:
        """Queue dead letters again, each in its own shard (all when ``ids`` is None)."""
        return self._each_shard(ids, SQLiteQueue.replay_dead_letters)

    def purge_dead_letters(self, ids: Sequence[int] | None = None) -> int:
        """Delete dead letters for good (all when ``ids`` is None)."""
        return self._each_shard(ids, SQLiteQueue.purge_dead_letters)

    def _each_shard(
        self,
        ids: Sequence[int] | None,
        action: Callable[[SQLiteQueue, Sequence[int] | None], int],
    ) -> int:
        """Run ``action`` on each shard concerned with its own ids; the sum of the counts."""
        present = self.shards()
        if ids is None:
            wanted: dict[int, list[int] | None] = dict.fromkeys(present)
        else:
            known = sorted(i for i in ids if shard_of(i) in present)
            wanted = {shard: list(group) for shard, group in groupby(known, key=shard_of)}
        total = 0
        for shard, chosen in wanted.items():
            queue = self._open(shard)
            try:
                total += action(queue, chosen)
            finally:
                queue.close()
        return total

    def _open(self, shard: int) -> SQLiteQueue:
        return SQLiteQueue(shard_path(self.data_dir, shard), shard)

    def close(self) -> None:
        with self._lock:
            for conn in self._readers.values():
                conn.close()
            self._readers.clear()
