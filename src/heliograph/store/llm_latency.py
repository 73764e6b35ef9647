"""Latency histograms: how the LLM dashboard gets p50/p95 without sorting a million rows.

An exact percentile needs every latency of the range, sorted: over 30 days
of a busy project that is a million values per chart, far past a page's
time budget. Digest instead counts each generation into a log-scale bucket
(per hour and per day, per model), and a percentile is read back from the
summed counts. Bucket ``b >= 1`` holds latencies in
``[MIN_S * BASE**(b-1), MIN_S * BASE**b)``; reporting its geometric middle
puts any percentile within ``sqrt(BASE) - 1`` (about 2%) of the exact
nearest-rank value, which is finer than anyone reads a latency chart.
Bucket 0 holds everything under a millisecond.

The same formula is used by the store when it writes and by the query layer
when it reads, so it lives here, next to neither.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "BASE",
    "MAX_BUCKET",
    "MIN_S",
    "bucket_value",
    "exact_percentile",
    "histogram_percentile",
    "latency_bucket",
    "merge",
]

BASE = 1.04
MIN_S = 0.001
# Past ~28 hours everything shares the last bucket: no model call runs that long.
MAX_BUCKET = 400
_LOG_BASE = math.log(BASE)


def latency_bucket(seconds: float) -> int:
    """The histogram bucket of a latency in seconds (negative or NaN count as 0)."""
    if not seconds >= MIN_S:  # also catches NaN
        return 0
    return min(1 + int(math.log(seconds / MIN_S) / _LOG_BASE), MAX_BUCKET)


def bucket_value(bucket: int) -> float:
    """The latency (seconds) a bucket stands for: the geometric middle of its range."""
    if bucket <= 0:
        return MIN_S / 2
    return MIN_S * BASE ** (bucket - 1) * math.sqrt(BASE)


def histogram_percentile(counts: Mapping[int, int], q: float) -> float | None:
    """The ``q``-th (0-1) nearest-rank percentile of a bucket -> count histogram.

    None for an empty histogram. Nearest rank: the smallest value with at
    least ``ceil(q * n)`` values at or below it (so p100 is the maximum's
    bucket and p0 the minimum's).
    """
    total = sum(count for count in counts.values() if count > 0)
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for bucket in sorted(counts):
        count = counts[bucket]
        if count <= 0:
            continue
        seen += count
        if seen >= rank:
            return bucket_value(bucket)
    return bucket_value(max(counts))  # pragma: no cover - rank <= total always stops above


def exact_percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank percentile of already sorted ``values`` (None when empty)."""
    if not values:
        return None
    rank = max(1, math.ceil(q * len(values)))
    return values[min(rank, len(values)) - 1]


def merge(histograms: Iterable[Mapping[int, int]]) -> dict[int, int]:
    """Sum several histograms into one."""
    merged: dict[int, int] = {}
    for histogram in histograms:
        for bucket, count in histogram.items():
            merged[bucket] = merged.get(bucket, 0) + count
    return merged
