"""Token buckets, the ingest limiter and the login throttle, on a fake clock.

The login throttle counts in a real (SQLite) store, as it does in production.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from heliograph.ingest.limits import BURST_SECONDS, IngestLimiter, TokenBucket
from heliograph.store import open_store
from heliograph.store.contract import Store
from heliograph.web.throttle import IP_FACTOR, LoginThrottle, address_key, pair_key


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_a_burst_then_the_rate() -> None:
    bucket = TokenBucket(10, now=0.0)
    granted = sum(1 for _ in range(100) if bucket.take(1, 0.0) == 0.0)
    assert granted == 10 * BURST_SECONDS
    wait = bucket.take(1, 0.0)
    assert 0 < wait <= 0.1 + 1e-9
    assert bucket.take(1, 0.1) == 0.0  # one token back after 1/rate seconds


def test_big_batches_borrow_instead_of_starving() -> None:
    bucket = TokenBucket(5, now=0.0)  # holds 10
    assert bucket.take(100, 0.0) == 0.0  # a full bucket lets a big batch through...
    assert bucket.take(1, 1.0) > 0  # ...and is in debt afterwards
    assert bucket.take(1, 20.0) == 0.0  # repaid at the rate


def test_limiter_refuses_by_key_then_by_project_and_counts() -> None:
    clock = Clock()
    limiter = IngestLimiter(default_project_rate=0, clock=clock)
    limiter.configure({"slow": 1, "free": None}, {7: 5})
    assert all(limiter.check("slow", 7) is None for _ in range(2))
    refusal = limiter.check("slow", 7)
    assert refusal is not None and refusal.scope == "key" and refusal.retry_after >= 1
    # The project's bucket (10 events) is shared by its keys; "slow" spent 2 of it.
    results = [limiter.check("free", 7) for _ in range(9)]
    assert results[:8] == [None] * 8
    assert results[8] is not None and results[8].scope == "project"
    clock.now += 2
    assert limiter.check("free", 7) is None
    limiter.count_refused(7, "error", "key_quota", 1)
    limiter.count_refused(7, "error", "key_quota", 2)
    outcomes = limiter.drain_outcomes()
    assert [(o.project_id, o.outcome, o.reason, o.quantity) for o in outcomes] == [
        (7, "rate_limited", "key_quota", 3)
    ]
    assert limiter.drain_outcomes() == []


def test_project_refusal_gives_the_key_its_tokens_back() -> None:
    clock = Clock()
    limiter = IngestLimiter(clock=clock)
    limiter.configure({"k": 100}, {1: 1})
    assert limiter.check("k", 1) is None
    assert limiter.check("k", 1) is None
    for _ in range(50):
        refusal = limiter.check("k", 1)
        assert refusal is not None and refusal.scope == "project"
    bucket = limiter._key_buckets["k"]
    assert isinstance(bucket, TokenBucket)
    assert bucket.tokens >= 197  # nothing lost to project refusals


def test_default_project_rate_and_reconfiguration() -> None:
    clock = Clock()
    limiter = IngestLimiter(default_project_rate=1, clock=clock)
    limiter.configure({}, {1: None, 2: 0})
    assert [limiter.check("k", 1) is None for _ in range(3)] == [True, True, False]
    assert all(limiter.check("k", 2) is None for _ in range(100))  # 0: unlimited
    assert all(limiter.check("k", 3) is None for _ in range(2))  # unknown: the default
    limiter.configure({}, {1: None, 2: 0})  # unchanged limits keep their state
    assert limiter.check("k", 1) is not None
    limiter.configure({}, {1: 1000})  # a new limit starts a new bucket
    assert limiter.check("k", 1) is None


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'heliograph.sqlite3'}", create=True)
    try:
        yield opened
    finally:
        opened.close()


def test_login_throttle_locks_out_after_repeated_failures(store: Store) -> None:
    clock = Clock()
    throttle = LoginThrottle(max_failures=3, lockout_seconds=60, failures=store, clock=clock)
    for _ in range(3):
        assert throttle.retry_after("Bob@x", "1.2.3.4") == 0
        throttle.failed("bob@x", "1.2.3.4")
    assert throttle.retry_after("bob@x", "1.2.3.4") == 60
    assert throttle.retry_after("BOB@x", "1.2.3.4") == 60  # emails are compared lowercased
    assert throttle.retry_after("bob@x", "5.6.7.8") == 0  # another address
    assert throttle.retry_after("alice@x", "1.2.3.4") == 0  # another account
    clock.now += 59.5
    assert throttle.retry_after("bob@x", "1.2.3.4") == 1
    clock.now += 1
    assert throttle.retry_after("bob@x", "1.2.3.4") == 0
    throttle.failed("bob@x", "1.2.3.4")
    throttle.succeeded("bob@x", "1.2.3.4")
    assert throttle.retry_after("bob@x", "1.2.3.4") == 0


def test_login_throttle_cools_down_from_the_last_failure(store: Store) -> None:
    clock = Clock()
    throttle = LoginThrottle(max_failures=2, lockout_seconds=60, failures=store, clock=clock)
    throttle.failed("bob@x", "1.2.3.4")
    clock.now += 30
    throttle.failed("bob@x", "1.2.3.4")
    assert throttle.retry_after("bob@x", "1.2.3.4") == 60
    clock.now += 31  # the first failure is out of the window: one left in it
    assert throttle.retry_after("bob@x", "1.2.3.4") == 0


def test_login_throttle_caps_password_spraying_from_one_address(store: Store) -> None:
    clock = Clock()
    throttle = LoginThrottle(max_failures=2, lockout_seconds=60, failures=store, clock=clock)
    for index in range(2 * IP_FACTOR):
        throttle.failed(f"user{index}@x", "9.9.9.9")
    assert throttle.retry_after("fresh@x", "9.9.9.9") == 60
    assert throttle.retry_after("fresh@x", "8.8.8.8") == 0
    throttle.succeeded("user0@x", "9.9.9.9")  # one account's success does not lift the cap
    assert throttle.retry_after("fresh@x", "9.9.9.9") == 60
    clock.now += 60
    assert throttle.retry_after("fresh@x", "9.9.9.9") == 0


def test_login_throttle_off_neither_refuses_nor_counts(store: Store) -> None:
    throttle = LoginThrottle(max_failures=0, lockout_seconds=60, failures=store, clock=Clock())
    for _ in range(10):
        throttle.failed("bob@x", "1.2.3.4")
    assert throttle.retry_after("bob@x", "1.2.3.4") == 0
    keys = [pair_key("bob@x", "1.2.3.4"), address_key("1.2.3.4")]
    assert store.login_failures_since(keys, 0) == {}


def test_login_throttles_over_one_store_share_the_count(store: Store) -> None:
    """Two server processes (or nodes) over one database: the limit holds for both."""
    clock = Clock()
    first = LoginThrottle(max_failures=4, lockout_seconds=60, failures=store, clock=clock)
    second = LoginThrottle(max_failures=4, lockout_seconds=60, failures=store, clock=clock)
    for throttle in (first, second, first, second):
        assert throttle.retry_after("bob@x", "1.2.3.4") == 0
        throttle.failed("bob@x", "1.2.3.4")
    assert first.retry_after("bob@x", "1.2.3.4") == 60
    assert second.retry_after("bob@x", "1.2.3.4") == 60
    second.succeeded("bob@x", "1.2.3.4")  # a success in one process clears it for all
    assert first.retry_after("bob@x", "1.2.3.4") == 0
