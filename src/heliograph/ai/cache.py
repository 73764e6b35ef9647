"""The fix cache: its interface, its key, and an in-memory implementation.

:class:`FixCache` is what :class:`~heliograph.ai.fix.FixService` needs; the
store provides a SQLite-backed one (the ``fix_cache`` table, whose columns are
:class:`CachedFix`'s fields plus the key and the expiry). Expiry is the cache's
job: ``put`` gets the time to live.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import orjson

from heliograph.ai.describe import PROMPT_VERSION

__all__ = ["CachedFix", "FixCache", "MemoryFixCache", "fix_cache_key"]


@dataclass(frozen=True, slots=True)
class CachedFix:
    """One cache entry (the columns of the store's ``fix_cache`` table)."""

    text: str
    model: str
    input_tokens: int
    output_tokens: int
    created_at: float


class FixCache(Protocol):
    """Where suggestions are kept; expiry is the cache's job."""

    def get(self, key: str) -> CachedFix | None: ...

    def put(self, key: str, fix: CachedFix, ttl_seconds: float) -> None: ...


def fix_cache_key(
    issue_key: str, model: str, prompt_version: str = PROMPT_VERSION, *, with_locals: bool = False
) -> str:
    """The cache key: unambiguous whatever characters the parts hold.

    ``with_locals`` keeps answers written from local variables (sent only on
    PII certification) away from requests that did not certify: an answer may
    quote the values it saw.
    """
    parts = ["fix", prompt_version, model, issue_key]
    if with_locals:
        parts.append("locals")
    return orjson.dumps(parts).decode()


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
