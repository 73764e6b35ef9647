"""Rate-limit buckets shared by the processes of one node through a mapped file."""

from __future__ import annotations

import fcntl
import logging
import multiprocessing
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from heliograph.ingest.limits import (
    BURST_SECONDS,
    IngestLimiter,
    TokenBucket,
    reset_shared_buckets,
)
from heliograph.ingest.shared_buckets import SLOTS, SharedTable, bucket_hash


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def table_path(tmp_path: Path) -> Path:
    path = tmp_path / "ratelimits.bin"
    reset_shared_buckets(path)
    return path


Pair = tuple[Clock, IngestLimiter, IngestLimiter]


@pytest.fixture
def pair(table_path: Path) -> Iterator[Pair]:
    """Two limiters on one table, as two server processes would have, on one fake clock."""
    clock = Clock()
    first = IngestLimiter(clock=clock, shared_path=table_path)
    second = IngestLimiter(clock=clock, shared_path=table_path)
    yield clock, first, second
    first.close()
    second.close()


def granted(limiter: IngestLimiter, n: int, key: str = "k", project: int = 1) -> int:
    return sum(1 for _ in range(n) if limiter.check(key, project) is None)


def test_two_limiters_together_grant_one_bucket_then_the_rate(pair: Pair) -> None:
    clock, first, second = pair
    for limiter in (first, second):
        limiter.configure({}, {1: 5})  # holds 10
    results = [(first if i % 2 else second).check("k", 1) for i in range(30)]
    assert [r is None for r in results] == [True] * 10 + [False] * 20
    refusal = results[10]
    assert refusal is not None and refusal.scope == "project" and refusal.limit == 5
    clock.now += 1.0  # 5 tokens back, whoever spends them
    assert granted(first, 3) + granted(second, 10) == 5
    clock.now += 100.0  # refills up to the capacity, not beyond
    assert granted(second, 50) == 5 * BURST_SECONDS


def test_without_a_path_each_limiter_keeps_its_own_buckets() -> None:
    clock = Clock()
    first, second = IngestLimiter(clock=clock), IngestLimiter(clock=clock)
    for limiter in (first, second):
        limiter.configure({}, {1: 5})
    assert granted(first, 30) == granted(second, 30) == 10


def test_key_limits_are_shared_and_project_refusals_give_key_tokens_back(pair: Pair) -> None:
    clock, first, second = pair
    for limiter in (first, second):
        limiter.configure({"slow": 1, "fast": 100}, {1: 1, 2: 0})
    assert granted(first, 1, "slow", 2) == 1
    assert granted(second, 1, "slow", 2) == 1
    refusal = first.check("slow", 2)
    assert refusal is not None and refusal.scope == "key"
    # Project 1 (2 tokens) refuses "fast" from now on: "fast" must lose nothing by it.
    assert granted(first, 1, "fast", 1) + granted(second, 50, "fast", 1) == 2
    for limiter in (first, second):
        limiter.configure({"fast": 100}, {1: 1000})  # the project limit goes away, in effect
    # "fast" spent 2 of its 200 and lost nothing to the 49 project refusals.
    assert granted(first, 150, "fast", 1) + granted(second, 100, "fast", 1) == 198
    clock.now += 0.5
    assert granted(second, 100, "fast", 1) == 50


def test_a_changed_limit_starts_a_new_bucket_an_unchanged_one_keeps_its_state(
    pair: Pair, table_path: Path
) -> None:
    clock, first, second = pair
    for limiter in (first, second):
        limiter.configure({}, {1: 5, 2: 5})
    assert granted(first, 10, project=1) == 10
    assert granted(first, 10, project=2) == 10
    for limiter in (first, second):
        limiter.configure({}, {1: 5, 2: 5})  # unchanged: still empty
    assert granted(second, 5, project=1) == 0
    assert granted(first, 5, project=2) == 0
    first.configure({}, {1: 8, 2: 5})  # a new limit for project 1 only
    assert granted(first, 30, project=1) == 16  # a full bucket at the new rate
    assert granted(first, 5, project=2) == 0
    # A limiter that opens the table later sees the same state.
    late = IngestLimiter(clock=clock, shared_path=table_path)
    late.configure({}, {1: 8, 2: 5})
    assert granted(late, 5, project=1) == granted(late, 5, project=2) == 0
    late.close()


def test_a_process_still_on_the_old_limit_does_not_refill_the_bucket(pair: Pair) -> None:
    clock, first, second = pair
    first.configure({}, {1: 5})
    second.configure({}, {1: 5})
    assert granted(first, 10) == 10
    first.configure({}, {1: 50})  # the new limit reached the first process only
    assert granted(first, 10) == 10  # a new bucket (100), spend 10 of it
    # Alternating between the new and the old limit hands out no fresh bucket:
    # 90 left; the first takes 1, then the old limit sees at most 10 (its capacity).
    results = [granted(first, 1) + granted(second, 1) for _ in range(60)]
    assert sum(results) == 1 + 10  # a full bucket on each switch would have been 120
    clock.now += 1.0
    second.configure({}, {1: 50})  # now everyone agrees: it keeps its state
    assert granted(second, 200) == 50


def test_a_clock_behind_the_stamp_neither_refills_nor_drains() -> None:
    # Another process may have stamped a shared bucket a moment after this one read its clock.
    bucket = TokenBucket(10, now=5.0)
    assert sum(1 for _ in range(30) if bucket.take(1, 4.0) == 0.0) == 20
    assert bucket.take(1, 5.0) > 0  # the time from 4.0 to 5.0 was not earned twice
    assert bucket.take(1, 5.2) == 0.0


def test_emptying_the_table_fills_every_bucket_again(pair: Pair, table_path: Path) -> None:
    _clock, first, _second = pair
    first.configure({"k": 2}, {1: 5})
    assert granted(first, 10) == 4
    reset_shared_buckets(table_path)
    assert granted(first, 10) == 4


def test_a_full_table_falls_back_to_local_buckets(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "small.bin"
    reset_shared_buckets(path, slots=2)
    clock = Clock()
    first = IngestLimiter(clock=clock, shared_path=path)
    second = IngestLimiter(clock=clock, shared_path=path)
    for limiter in (first, second):
        limiter.configure({}, {1: 1, 2: 1, 3: 1, 4: 1})
    with caplog.at_level(logging.WARNING, logger="heliograph.ingest.limits"):
        shared = [granted(first, 5, project=p) + granted(second, 5, project=p) for p in (1, 2)]
        local = [granted(limiter, 5, project=p) for p in (3, 4) for limiter in (first, second)]
    assert shared == [2, 2]  # one bucket of 2 for both processes
    assert local == [2, 2, 2, 2]  # the table is full: each process its own, still limited
    assert sum("is full" in r.getMessage() for r in caplog.records) == 2  # once per process
    first.close()
    second.close()


def test_a_missing_or_foreign_file_becomes_an_empty_table(tmp_path: Path) -> None:
    missing = tmp_path / "new.bin"
    limiter = IngestLimiter(clock=Clock(), shared_path=missing)
    limiter.configure({}, {1: 1})
    assert granted(limiter, 5) == 2
    limiter.close()
    assert missing.stat().st_size == 64 + SLOTS * 40
    foreign = tmp_path / "foreign.bin"
    foreign.write_bytes(b"not a table" * 100)
    limiter = IngestLimiter(clock=Clock(), shared_path=foreign)
    limiter.configure({}, {1: 1})
    assert granted(limiter, 5) == 2
    limiter.close()


def test_a_forked_child_takes_its_own_lock(table_path: Path) -> None:
    table = SharedTable(table_path)
    with table:
        pid = os.fork()
        if pid == 0:  # the child: the parent holds the table, so the child must not get it
            try:
                fcntl.flock(table.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os._exit(0)
            os._exit(1)
        _, status = os.waitpid(pid, 0)
    table.close()
    assert os.waitstatus_to_exitcode(status) == 0


def test_bucket_hashes_are_fixed_whatever_the_process() -> None:
    names = [b"k:abc", b"p:7", b"p:%d" % 123456789]
    here = [bucket_hash(name) for name in names]
    assert here[:2] == [0x47AA322D60EB30AB, 0xB9A6A01DFB6FAB38]
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        there = pool.map(bucket_hash, names)
    assert there == here
    assert len(set(here)) == 3 and 0 not in here


RATE = 200


def hammer(path: str, start: Any, seconds: float) -> tuple[int, int, float, float]:
    """One server process: check as fast as it can for ``seconds``; grants, checks, span."""
    limiter = IngestLimiter(shared_path=Path(path))
    limiter.configure({}, {1: RATE})
    start.wait()
    grants = checks = 0
    first = time.monotonic()
    while (last := time.monotonic()) - first < seconds:
        checks += 1
        if limiter.check("k", 1) is None:
            grants += 1
    limiter.close()
    return grants, checks, first, last


def test_three_processes_together_stay_within_one_limit(table_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(3) as pool:
        start = manager.Barrier(3)
        pending = [pool.apply_async(hammer, (str(table_path), start, 0.5)) for _ in range(3)]
        results = [p.get(timeout=120) for p in pending]
    grants = sum(r[0] for r in results)
    checks = sum(r[1] for r in results)
    elapsed = max(r[3] for r in results) - min(r[2] for r in results)
    capacity = RATE * BURST_SECONDS
    allowed = capacity + RATE * elapsed  # one bucket for the node: 400 + 200/s, ~500
    assert checks > 3 * allowed  # they did hammer: far more checks than grants
    # Three separate buckets would have granted about three times as much.
    assert capacity <= grants <= allowed + 5
