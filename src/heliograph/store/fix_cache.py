"""The fix cache's contract, and the in-memory cache every backend keeps in front.

:class:`FixCache` is what :class:`~heliograph.ai.fix.FixService` needs; each
storage backend provides a durable one (``Store.fix_cache()``). Expiry is the
cache's job: ``put`` gets the time to live.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

__all__ = ["CachedFix", "FixCache", "MemoryFixCache"]


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
