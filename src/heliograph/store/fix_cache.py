"""The fix cache's contract, and the in-memory cache every backend keeps in front.

:class:`FixCache` is what :class:`~heliograph.ai.fix.FixService` needs; each
storage backend provides a durable one (``Store.fix_cache()``). Expiry is the
cache's job: ``put`` gets the time to live.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol

from heliograph.store.sql_dialect import SqlDialect

__all__ = ["CachedFix", "FixCache", "MemoryFixCache", "SqlFixCache"]


@dataclass(frozen=True, slots=True)
class CachedFix:
    """One cache entry: the suggestion and what it cost."""

    text: str
    model: str
    input_tokens: int
    output_tokens: int
    created_at: float


class FixCache(Protocol):
    """Where suggestions are kept; expiry is the cache's job."""

    def get(self, key: str) -> CachedFix | None: ...

    def put(self, key: str, fix: CachedFix, ttl_seconds: float) -> None: ...


class MemoryFixCache:
    """A process-local :class:`FixCache` (tests, the CLI). Oldest entries go first."""

    def __init__(self, *, clock: Callable[[], float] = time.time, max_entries: int = 1000) -> None:
        self._clock = clock
        self._max_entries = max_entries
        self._entries: dict[str, tuple[CachedFix, float]] = {}

    def get(self, key: str) -> CachedFix | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        fix, expires_at = entry
        if self._clock() >= expires_at:
            del self._entries[key]
            return None
        return fix

    def put(self, key: str, fix: CachedFix, ttl_seconds: float) -> None:
        self._entries.pop(key, None)
        self._entries[key] = (fix, self._clock() + ttl_seconds)
        while len(self._entries) > self._max_entries:
            del self._entries[next(iter(self._entries))]

    def __len__(self) -> int:
        return len(self._entries)


class _WriteDatabase(Protocol):
    """What :class:`SqlFixCache` needs of a backend's database (SQLite's or PostgreSQL's)."""

    def read(self, query: Callable[[Any], Any]) -> Any: ...

    def submit(self, task: Callable[[Any], Any]) -> Future[Any]: ...


_SELECT = (
    "SELECT text, model, input_tokens, output_tokens, created_at FROM fix_cache "
    "WHERE cache_key = ? AND expires_at > ?"
)
# Standard upsert: SQLite (3.24+) and PostgreSQL both take it, and of two nodes
# putting one key at once the last to commit wins.
_UPSERT = (
    "INSERT INTO fix_cache (cache_key, text, model, input_tokens, output_tokens, created_at, "
    "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (cache_key) DO UPDATE SET "
    "text = excluded.text, model = excluded.model, input_tokens = excluded.input_tokens, "
    "output_tokens = excluded.output_tokens, created_at = excluded.created_at, "
    "expires_at = excluded.expires_at"
)


class SqlFixCache:
    """The durable cache in a store's ``fix_cache`` table, for every SQL backend.

    Entries expire by time: expired rows are skipped on read and overwritten
    on the next put. A put is queued to the database's writer without waiting
    (it runs on the event loop), so recent entries are also kept in memory:
    the next request on this process sees them at once. Other processes and
    nodes see an entry once it is committed.
    """

    def __init__(
        self, db: _WriteDatabase, dialect: SqlDialect, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._db = db
        self._clock = clock
        self._recent = MemoryFixCache(clock=clock, max_entries=256)
        self._select = dialect.sql(_SELECT)
        self._upsert = dialect.sql(_UPSERT)

    def get(self, key: str) -> CachedFix | None:
        recent = self._recent.get(key)
        if recent is not None:
            return recent
        row = self._db.read(lambda c: c.execute(self._select, (key, self._clock())).fetchone())
        if row is None:
            return None
        return CachedFix(row[0], row[1], row[2] or 0, row[3] or 0, row[4])

    def put(self, key: str, fix: CachedFix, ttl_seconds: float) -> None:
        self._recent.put(key, fix, ttl_seconds)
        expires_at = self._clock() + ttl_seconds  # from now, as the in-memory layer counts
        values = (key, fix.text, fix.model, fix.input_tokens, fix.output_tokens)
        self._db.submit(lambda c: c.execute(self._upsert, (*values, fix.created_at, expires_at)))
