"""Latency histograms: bucket maths and percentiles against the exact nearest rank."""

from __future__ import annotations

import math
import random

import pytest

from heliograph.store.llm_latency import (
    BASE,
    MAX_BUCKET,
    bucket_value,
    exact_percentile,
    histogram_percentile,
    latency_bucket,
    merge,
)


def histogram(values: list[float]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for value in values:
        bucket = latency_bucket(value)
        counts[bucket] = counts.get(bucket, 0) + 1
    return counts


def test_nearest_rank_percentile() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
    assert exact_percentile(values, 0.5) == 5.0
    assert exact_percentile(values, 0.95) == 10.0
    assert exact_percentile(values, 0.9) == 9.0
    assert exact_percentile(values, 0.0) == 1.0
    assert exact_percentile(values, 1.0) == 10.0
    assert exact_percentile([], 0.5) is None


def test_every_value_lands_in_the_bucket_whose_range_holds_it() -> None:
    for value in (0.001, 0.0011, 0.05, 0.5, 1.0, 2.5, 30.0, 600.0):
        bucket = latency_bucket(value)
        low = 0.001 * BASE ** (bucket - 1)
        assert low <= value * (1 + 1e-12) and value < low * BASE * (1 + 1e-12)
        assert abs(bucket_value(bucket) / value - 1) <= math.sqrt(BASE) - 1 + 1e-9


def test_odd_values_are_clamped() -> None:
    assert latency_bucket(0.0) == 0
    assert latency_bucket(-3.0) == 0
    assert latency_bucket(float("nan")) == 0
    assert latency_bucket(1e9) == MAX_BUCKET
    assert bucket_value(0) < 0.001


@pytest.mark.parametrize("q", [0.5, 0.95, 0.99])
def test_histogram_percentiles_are_within_two_percent_of_exact(q: float) -> None:
    rng = random.Random(3)
    values = sorted(math.exp(rng.gauss(0.3, 0.8)) for _ in range(20000))
    exact = exact_percentile(values, q)
    approx = histogram_percentile(histogram(values), q)
    assert exact is not None and approx is not None
    assert abs(approx / exact - 1) <= math.sqrt(BASE) - 1 + 1e-9


def test_small_and_empty_histograms() -> None:
    assert histogram_percentile({}, 0.5) is None
    assert histogram_percentile({5: 0}, 0.5) is None
    single = histogram([1.5])
    assert histogram_percentile(single, 0.5) == histogram_percentile(single, 0.95)
    two = histogram([0.1, 10.0])
    assert histogram_percentile(two, 0.5) == pytest.approx(0.1, rel=0.02)
    assert histogram_percentile(two, 0.51) == pytest.approx(10.0, rel=0.02)


def test_merging_histograms_equals_one_histogram_of_all_values() -> None:
    a, b = [0.2, 0.4, 1.0], [0.4, 3.0]
    assert merge([histogram(a), histogram(b)]) == histogram(a + b)
