"""Rate limits at the ingest edge: token buckets per key and per project, in memory.

Why in memory: the check runs on every ingest request and must cost
microseconds, not a database round trip. Limits are events per second; a
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

The server processes of one node share their buckets: given ``shared_path``
(``ratelimits.bin`` in the data directory), every limiter spends from a
table in that file, mapped into each process
(:mod:`heliograph.ingest.shared_buckets`), so a limit holds for the whole
node however many acceptor processes it runs; a check then costs about
three microseconds instead of one, an ``flock`` included. Refusal counts
stay per process (their sum is the node's). Separate nodes behind a load
balancer still each keep their own buckets: with N nodes a project may send
up to N times its limit. Without ``shared_path`` the buckets are the
process's own.
"""

from __future__ import annotations

import fcntl
import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from heliograph.ingest.shared_buckets import (
    SLOT,
    TOKENS,
    TOKENS_AT,
    SharedTable,
    bucket_hash,
    reset_shared_buckets,
)
from heliograph.store.base import Outcome

__all__ = [
    "BURST_SECONDS",
    "IngestLimiter",
    "Refusal",
    "TokenBucket",
    "reset_shared_buckets",
]

log = logging.getLogger(__name__)

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
        elapsed = now - self.stamp
        if elapsed >= 0.0:
            tokens = min(self.capacity, self.tokens + elapsed * self.rate)
            self.stamp = now
        else:  # a stamp ahead of ``now`` (another process's, on a shared bucket) refills nothing
            tokens = min(self.capacity, self.tokens)
        needed = min(cost, self.capacity)
        if tokens >= needed:
            self.tokens = tokens - cost  # may go below zero: a big batch borrows
            return 0.0
        self.tokens = tokens
        return (needed - tokens) / self.rate

    def give_back(self, cost: float) -> None:
        self.tokens = min(self.capacity, self.tokens + cost)


class SharedBucket:
    """A bucket kept in a slot of the node's :class:`SharedTable`, spent by all its processes.

    The math is :class:`TokenBucket`'s: the slot's tokens and stamp are loaded
    into one, spent, and stored back, all while the caller holds the table.
    A slot found with another rate starts full at this one (a changed limit
    starts a new bucket), except when this rate is the slot's previous one:
    that is a process still on the old limit (a new limit reaches each
    process at its next reload), and switching back and forth must not hand
    out a full bucket each time, so the tokens are kept (capped).
    """

    __slots__ = ("_bucket", "_hash", "_offset", "_table", "rate")

    def __init__(self, table: SharedTable, key_hash: int, offset: int, bucket: TokenBucket) -> None:
        self._table = table
        self._hash = key_hash
        self._offset = offset  # -1: the table filled up, ``_bucket`` is a local bucket now
        self._bucket = bucket
        self.rate = bucket.rate

    def take(self, cost: float, now: float) -> float:
        bucket, offset = self._bucket, self._offset
        if offset < 0:
            return bucket.take(cost, now)
        mm = self._table.mm
        key_hash, tokens, stamp, rate, previous = SLOT.unpack_from(mm, offset)
        if key_hash != self._hash or rate != bucket.rate:
            offset = self._resettle(key_hash, tokens, stamp, rate, previous, now)
            if offset < 0:
                return bucket.take(cost, now)
        else:
            bucket.tokens, bucket.stamp = tokens, stamp
        wait = bucket.take(cost, now)
        TOKENS.pack_into(mm, offset + TOKENS_AT, bucket.tokens, bucket.stamp)
        return wait

    def give_back(self, cost: float) -> None:
        bucket, offset = self._bucket, self._offset
        if offset >= 0:
            bucket.tokens, bucket.stamp = TOKENS.unpack_from(self._table.mm, offset + TOKENS_AT)
        bucket.give_back(cost)
        if offset >= 0:
            TOKENS.pack_into(self._table.mm, offset + TOKENS_AT, bucket.tokens, bucket.stamp)

    def _resettle(
        self, key_hash: int, tokens: float, stamp: float, rate: float, previous: float, now: float
    ) -> int:
        """Load the bucket from a slot not as expected: the table was emptied, or the rate differs.

        Returns the slot's offset, -1 when the table has no room left (the
        bucket is this process's own from then on).
        """
        bucket, table = self._bucket, self._table
        if key_hash != self._hash:  # emptied since (a server restart): claim a slot again
            fresh = (self._hash, bucket.capacity, now, bucket.rate, 0.0)
            self._offset = table.locate(self._hash, fresh)
            if self._offset < 0:
                _table_full(table)
                bucket.tokens, bucket.stamp = bucket.capacity, now
                return -1
            key_hash, tokens, stamp, rate, previous = table.read(self._offset)
        if rate == bucket.rate:
            bucket.tokens, bucket.stamp = tokens, stamp
        elif previous == bucket.rate:  # a process on the other limit, flipping back: no refill
            bucket.tokens, bucket.stamp = min(tokens, bucket.capacity), stamp
            table.write(self._offset, (key_hash, bucket.tokens, bucket.stamp, bucket.rate, rate))
        else:  # a new limit: a new, full bucket
            bucket.tokens, bucket.stamp = bucket.capacity, now
            table.write(self._offset, (key_hash, bucket.tokens, bucket.stamp, bucket.rate, rate))
        return self._offset


Bucket = TokenBucket | SharedBucket


def _table_full(table: SharedTable) -> None:
    if not table.full_logged:
        table.full_logged = True
        log.warning(
            "rate-limit table %s is full (%d buckets): new buckets are this process's own",
            table.path,
            table.slots,
        )


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
    """Every bucket of one server process (or the node's, shared), and what they refused.

    With ``shared_path`` the buckets live in that file, shared by every
    limiter of every process opening it (the file is created when missing;
    :func:`reset_shared_buckets` empties it). Without, they are this process's own.
    """

    def __init__(
        self,
        default_project_rate: int = 0,
        clock: Callable[[], float] = time.monotonic,
        shared_path: Path | None = None,
    ) -> None:
        self.default_project_rate = default_project_rate
        self._clock = clock
        self._key_rates: dict[str, int] = {}
        self._project_rates: dict[int, int] = {}
        self._key_buckets: dict[str, Bucket] = {}
        self._project_buckets: dict[int, Bucket] = {}
        self._refused: Counter[tuple[int, str, str]] = Counter()
        self._lock = threading.Lock()
        self._table = SharedTable(shared_path) if shared_path is not None else None

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
        key_rate = self._key_rates.get(public_key)
        project_rate = self._project_rates.get(project_id, self.default_project_rate)
        if not key_rate and not project_rate:
            return None
        table = self._table
        if table is None:
            return self._spend(public_key, key_rate, project_id, project_rate, cost)
        with table.lock:  # the process's threads, then the node's processes
            fcntl.flock(table.fd, fcntl.LOCK_EX)
            try:
                return self._spend(public_key, key_rate, project_id, project_rate, cost)
            finally:
                fcntl.flock(table.fd, fcntl.LOCK_UN)

    def _spend(
        self,
        public_key: str,
        key_rate: int | None,
        project_id: int,
        project_rate: int,
        cost: int,
    ) -> Refusal | None:
        now = self._clock()
        key_bucket = None
        if key_rate:
            key_bucket = self._key_buckets.get(public_key)
            if key_bucket is None:
                key_bucket = self._key_buckets[public_key] = self._bucket(
                    b"k:" + public_key.encode(), key_rate, now
                )
            wait = key_bucket.take(cost, now)
            if wait:
                return Refusal("key", _seconds(wait), key_rate)
        if project_rate:
            bucket = self._project_buckets.get(project_id)
            if bucket is None:
                bucket = self._project_buckets[project_id] = self._bucket(
                    b"p:%d" % project_id, project_rate, now
                )
            wait = bucket.take(cost, now)
            if wait:
                if key_bucket is not None:
                    key_bucket.give_back(cost)
                return Refusal("project", _seconds(wait), project_rate)
        return None

    def _bucket(self, name: bytes, rate: int, now: float) -> Bucket:
        """A new bucket: in the shared table when there is one (and room), else local."""
        table = self._table
        if table is None:
            return TokenBucket(rate, now)
        bucket = TokenBucket(rate, now)
        key_hash = bucket_hash(name)
        offset = table.locate(key_hash, (key_hash, bucket.capacity, now, bucket.rate, 0.0))
        if offset < 0:
            _table_full(table)
            return bucket
        return SharedBucket(table, key_hash, offset, bucket)

    def close(self) -> None:
        """Unmap the shared table (if any); the limiter is not to be used afterwards."""
        if self._table is not None:
            self._table.close()

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
