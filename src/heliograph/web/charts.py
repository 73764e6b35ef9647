"""Bar charts as geometry for inline SVG, computed on the server.

The templates draw ``<rect>`` elements from these numbers: no chart library,
no script, nothing a strict Content-Security-Policy would block, and the
chart is there on first paint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

MIN_BAR = 1.5  # a single event must stay visible next to a peak of thousands


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    count: int
    label: str


@dataclass(frozen=True, slots=True)
class BarChart:
    width: int
    height: int
    bars: list[Bar]
    peak: int
    total: int


def bar_chart(
    counts: Sequence[int],
    labels: Sequence[str],
    *,
    width: int,
    height: int,
    gap: float = 1.0,
) -> BarChart:
    """Scale ``counts`` into bars filling ``width`` x ``height`` (y grows down).

    Empty buckets get a zero-height bar so the template can still draw a
    baseline tick and a tooltip for them.
    """
    peak = max(counts, default=0)
    slot = width / max(len(counts), 1)
    bar_width = max(slot - gap, 1.0)
    bars = []
    for index, (count, label) in enumerate(zip(counts, labels, strict=True)):
        bar_height = 0.0
        if count and peak:
            bar_height = max(height * count / peak, MIN_BAR)
        bars.append(
            Bar(
                x=round(index * slot, 2),
                y=round(height - bar_height, 2),
                width=round(bar_width, 2),
                height=round(bar_height, 2),
                count=count,
                label=label,
            )
        )
    return BarChart(width=width, height=height, bars=bars, peak=peak, total=sum(counts))


def hour_labels(end_hour: int, count: int) -> list[str]:
    """``"14:00 UTC"`` for each of the ``count`` hours ending at ``end_hour``."""
    start = end_hour - count + 1
    return [
        datetime.fromtimestamp((start + i) * 3600, tz=timezone.utc).strftime("%b %d, %H:00 UTC")
        for i in range(count)
    ]


def day_labels(end_hour: int, count: int) -> list[str]:
    """``"May 01"`` for each of the ``count`` UTC days ending on ``end_hour``'s day."""
    last_day = end_hour // 24
    return [
        datetime.fromtimestamp((last_day - count + 1 + i) * 86400, tz=timezone.utc).strftime(
            "%b %d"
        )
        for i in range(count)
    ]
