"""The AI-fix cache in the main database (``fix_cache`` table).

Implements :class:`heliograph.store.fix_cache.FixCache`. Entries expire by time;
expired rows are skipped on read and overwritten on the next put. A put is
queued to the writer without waiting (it runs on the event loop), so recent
entries are also kept in memory: the next request sees them at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from heliograph.store.fix_cache import CachedFix, MemoryFixCache
from heliograph.store.sqlite.database import Database


class SQLiteFixCache:
    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock
        self._recent = MemoryFixCache(clock=clock, max_entries=256)

    def get(self, key: str) -> CachedFix | None:
        recent = self._recent.get(key)
        if recent is not None:
            return recent
        row = self._db.read(
            lambda c: c.execute(
                "SELECT text, model, input_tokens, output_tokens, created_at FROM fix_cache "
                "WHERE cache_key = ? AND expires_at > ?",
                (key, self._clock()),
            ).fetchone()
        )
        if row is None:
            return None
        return CachedFix(row[0], row[1], row[2] or 0, row[3] or 0, row[4])

    def put(self, key: str, fix: CachedFix, ttl_seconds: float) -> None:
        self._recent.put(key, fix, ttl_seconds)
        expires_at = self._clock() + ttl_seconds  # from now, as the in-memory layer counts
        self._db.submit(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO fix_cache (cache_key, text, model, input_tokens, "
                "output_tokens, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    fix.text,
                    fix.model,
                    fix.input_tokens,
                    fix.output_tokens,
                    fix.created_at,
                    expires_at,
                ),
            )
        )
