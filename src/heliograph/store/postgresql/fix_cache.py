"""The AI-fix cache in the shared database (``fix_cache`` table).

Implements :class:`heliograph.store.fix_cache.FixCache`, as the SQLite cache
does: entries expire by time; expired rows are skipped on read and
overwritten on the next put. A put is queued to the writer thread without
waiting (it runs on the event loop), so recent entries are also kept in
memory: the next request on this process sees them at once. Nodes sharing
the database see each other's entries once committed; concurrent puts of one
key are a single upsert each, and the last to commit wins.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from heliograph.store.fix_cache import CachedFix, MemoryFixCache
from heliograph.store.postgresql.database import PgDatabase


class PgFixCache:
    def __init__(self, db: PgDatabase, *, clock: Callable[[], float] = time.time) -> None:
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
                "WHERE cache_key = %s AND expires_at > %s",
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
                "INSERT INTO fix_cache (cache_key, text, model, input_tokens, output_tokens, "
                "created_at, expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (cache_key) DO UPDATE SET text = EXCLUDED.text, "
                "model = EXCLUDED.model, input_tokens = EXCLUDED.input_tokens, "
                "output_tokens = EXCLUDED.output_tokens, created_at = EXCLUDED.created_at, "
                "expires_at = EXCLUDED.expires_at",
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
