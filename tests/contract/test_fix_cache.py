"""The fix cache (``Store.fix_cache()``): hits, misses, time to live, refresh, durability."""

from __future__ import annotations

import time
from collections.abc import Callable

from heliograph.ai.cache import fix_cache_key
from heliograph.store.contract import Store
from heliograph.store.fix_cache import CachedFix

SHORT_TTL = 0.3


def fix(text: str = "Check for None before calling .strip()") -> CachedFix:
    return CachedFix(text, "claude-x", 1200, 300, time.time())


def test_a_miss_then_a_hit(store: Store) -> None:
    cache = store.fix_cache()
    key = fix_cache_key("issue-1", "claude-x")
    assert cache.get(key) is None
    entry = fix()
    cache.put(key, entry, 3600)
    assert cache.get(key) == entry
    assert cache.get(fix_cache_key("issue-2", "claude-x")) is None
    assert cache.get(fix_cache_key("issue-1", "claude-x", with_locals=True)) is None


def test_entries_survive_reopening(store: Store, reopen: Callable[[], Store]) -> None:
    first, second = fix("first"), fix("second")
    store.fix_cache().put("k1", first, 3600)
    store.fix_cache().put("k2", second, 3600)
    cache = reopen().fix_cache()
    assert cache.get("k1") == first and cache.get("k2") == second
    assert cache.get("k3") is None


def test_an_entry_expires_after_its_time_to_live(store: Store, reopen: Callable[[], Store]) -> None:
    cache = store.fix_cache()
    cache.put("short", fix("short"), SHORT_TTL)
    cache.put("long", fix("long"), 3600)
    cache.put("none", fix("none"), 0)  # a zero time to live keeps nothing
    assert cache.get("short") is not None and cache.get("none") is None
    time.sleep(SHORT_TTL + 0.1)
    assert cache.get("short") is None
    assert cache.get("long") is not None
    reopened = reopen().fix_cache()
    assert reopened.get("short") is None and reopened.get("none") is None
    assert reopened.get("long") is not None


def test_a_put_refreshes_the_entry_and_its_time_to_live(
    store: Store, reopen: Callable[[], Store]
) -> None:
    cache = store.fix_cache()
    cache.put("k", fix("stale answer"), SHORT_TTL)
    fresh = fix("fresh answer")
    cache.put("k", fresh, 3600)
    assert cache.get("k") == fresh
    time.sleep(SHORT_TTL + 0.1)
    assert cache.get("k") == fresh  # the new time to live, not the first one
    assert reopen().fix_cache().get("k") == fresh


def test_an_expired_entry_is_replaced_by_the_next_put(
    store: Store, reopen: Callable[[], Store]
) -> None:
    cache = store.fix_cache()
    cache.put("k", fix("old"), SHORT_TTL)
    time.sleep(SHORT_TTL + 0.1)
    assert cache.get("k") is None
    new = fix("new")
    cache.put("k", new, 3600)
    assert cache.get("k") == new
    assert reopen().fix_cache().get("k") == new
