"""Rate limits at the ingest edge: token buckets per key and per project, in memory.

Why in memory: the check runs on every ingest request and must cost
nanoseconds, not a database round trip. Limits are events per second; a
bucket holds ``BURST_SECONDS`` worth of events (at least one), so a client
may burst briefly and then settles to the rate. A request carrying more
events than a bucket holds (a big PostHog batch) passes when the bucket is
full and leaves it in debt, so large batches are slowed, never starved.

A request passes the key's bucket first (when the key has a limit), then the
project's (its own limit, else the server default); when the project refuses
it, the key's tokens are given back. Refusals are counted in memory and
written as ``rate_limited`` outcomes by the server's housekeeping thread
(:meth:`IngestLimiter.drain_outcomes`): never a database write per refused
request, which is exactly when the server is busiest.

Each server process keeps its own buckets: behind a load balancer with N
nodes a project may send up to N times its limit.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from heliograph.store.base import Outcome

__all__ = ["BURST_SECONDS", "IngestLimiter", "Refusal", "TokenBucket"]

BURST_SECONDS = 2.0


class TokenBucket:
    """Refills at ``rate`` tokens per second up to ``capacity``; one token per event."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, rate: float, now: float) -> None:
        self.rate = float(rate)
        self.capacity = max(self.rate * BURST_SECONDS, 1.0)
        self.tokens = self.capacity
        self.stamp = now

    def take(self, cost: float, now: float) -> float:
        """Spend ``cost`` tokens: 0.0 when granted, else the seconds to wait first."""
        tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        needed = min(cost, self.capacity)
        if tokens >= needed:
            self.tokens = tokens - cost  # may go below zero: a big batch borrows
            return 0.0
        self.tokens = tokens
        return (needed - tokens) / self.rate

    def give_back(self, cost: float) -> None:
        self.tokens = min(self.capacity, self.tokens + cost)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request was refused: ``scope`` is ``key`` or ``project``."""

    scope: str
    retry_after: int
    limit: int

    @property
    def reason(self) -> str:
        return f"{self.scope}_quota"


class IngestLimiter:
    """Every bucket of one server process, and the count of what they refused."""

    def __init__(
        self, default_project_rate: int = 0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.default_project_rate = default_project_rate
        self._clock = clock
        self._key_rates: dict[str, int] = {}
        self._project_rates: dict[int, int] = {}
        self._key_buckets: dict[str, TokenBucket] = {}
        self._project_buckets: dict[int, TokenBucket] = {}
        self._refused: Counter[tuple[int, str, str]] = Counter()
        self._lock = threading.Lock()

    def configure(
        self, key_rates: Mapping[str, int | None], project_rates: Mapping[int, int | None]
    ) -> None:
        """Take new limits (from the store); buckets whose limit is unchanged keep their state."""
        keys = {key: rate for key, rate in key_rates.items() if rate}
        projects = {
            project_id: self.default_project_rate if rate is None else rate
            for project_id, rate in project_rates.items()
        }
        self._key_buckets = {
            key: bucket for key, bucket in self._key_buckets.items() if keys.get(key) == bucket.rate
        }
        self._project_buckets = {
            pid: bucket
            for pid, bucket in self._project_buckets.items()
            if projects.get(pid, self.default_project_rate) == bucket.rate
        }
        # Swapped whole: a request running meanwhile sees the old or the new map, never half.
        self._key_rates, self._project_rates = keys, projects

    def check(self, public_key: str, project_id: int, cost: int = 1) -> Refusal | None:
        """Spend ``cost`` events from the key's and the project's buckets, or say why not."""
        now = self._clock()
        key_bucket = None
        key_rate = self._key_rates.get(public_key)
        if key_rate:
            key_bucket = self._key_buckets.get(public_key)
            if key_bucket is None:
                key_bucket = self._key_buckets[public_key] = TokenBucket(key_rate, now)
            wait = key_bucket.take(cost, now)
            if wait:
                return Refusal("key", _seconds(wait), key_rate)
        project_rate = self._project_rates.get(project_id, self.default_project_rate)
        if project_rate:
            bucket = self._project_buckets.get(project_id)
            if bucket is None:
                bucket = self._project_buckets[project_id] = TokenBucket(project_rate, now)
            wait = bucket.take(cost, now)
            if wait:
                if key_bucket is not None:
                    key_bucket.give_back(cost)
                return Refusal("project", _seconds(wait), project_rate)
        return None

    def count_refused(self, project_id: int, category: str, reason: str, quantity: int) -> None:
        with self._lock:
            self._refused[(project_id, category, reason)] += quantity

    def drain_outcomes(self) -> list[Outcome]:
        """The refusals counted since the last call, as outcomes to store."""
        with self._lock:
            refused, self._refused = self._refused, Counter()
        return [
            Outcome(project_id, category, "rate_limited", reason, quantity)
            for (project_id, category, reason), quantity in refused.items()
        ]


def _seconds(wait: float) -> int:
    """Whole seconds for ``Retry-After``: rounded up, at least one."""
    return max(1, math.ceil(wait))
