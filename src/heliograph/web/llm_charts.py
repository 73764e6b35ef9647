"""Chart geometry for the LLM dashboard and the trace timeline, drawn as inline SVG.

Like :mod:`heliograph.web.charts`, all the maths happens here on the server
and templates only emit ``<rect>``/``<polyline>`` elements: no script, no
chart library, nothing a strict Content-Security-Policy blocks, and the
charts are on the page at first paint. Each chart is drawn in a fixed
``WIDTH`` x ``HEIGHT`` box the browser stretches to the card's width (lines
keep their stroke width with ``vector-effect``); axis labels are HTML
beside it, so text is never stretched. Hovering a column shows a native
tooltip with that slot's values.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from heliograph.web.llm_format import seconds

__all__ = [
    "Column",
    "LineChart",
    "StackedBars",
    "Tick",
    "line_chart",
    "nice_ceiling",
    "stacked_bars",
    "timeline_ticks",
]

WIDTH = 600
HEIGHT = 150
MIN_BAR = 1.5  # a lone request beside a peak of thousands stays visible
Format = Callable[[float], str]


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 x 10^k at or above ``value`` (1 for nothing)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power * (1 + 1e-9):
            return step * power
    return 10 * power  # pragma: no cover


@dataclass(frozen=True, slots=True)
class Segment:
    y: float
    height: float
    css: str


@dataclass(frozen=True, slots=True)
class Column:
    """One time slot: its hit area, its tooltip and its bar segments (bottom first)."""

    x: float
    width: float
    tooltip: str
    segments: list[Segment]


@dataclass(frozen=True, slots=True)
class Legend:
    css: str
    label: str


@dataclass(frozen=True, slots=True)
class StackedBars:
    width: int
    height: int
    columns: list[Column]
    y_labels: list[str]  # top, middle, bottom
    x_labels: list[str]  # first, middle, last slot
    legend: list[Legend]
    empty: bool


def _x_labels(labels: Sequence[str]) -> list[str]:
    if not labels:
        return []
    return [labels[0], labels[len(labels) // 2], labels[-1]]


def _y_labels(top: float, fmt: Format) -> list[str]:
    return [fmt(top), fmt(top / 2), fmt(0)]


def stacked_bars(
    labels: Sequence[str],
    stacks: Sequence[tuple[str, str, Sequence[float]]],
    fmt: Format,
    *,
    extra: Sequence[str] | None = None,
) -> StackedBars:
    """Bars per slot, one segment per ``(css, name, values)`` stack, stacked upwards.

    ``extra`` adds a line per slot to the tooltips (e.g. "3 unpriced").
    """
    count = len(labels)
    totals = [sum(values[i] for _, _, values in stacks) for i in range(count)]
    top = nice_ceiling(max(totals, default=0.0))
    slot = WIDTH / max(count, 1)
    gap = min(2.0, slot * 0.2)
    columns = []
    for i, label in enumerate(labels):
        segments = []
        base = float(HEIGHT)
        for css, _name, values in stacks:
            value = values[i]
            if value <= 0:
                continue
            height = max(HEIGHT * value / top, MIN_BAR)
            base -= height
            segments.append(Segment(round(base, 2), round(height, 2), css))
        lines = [label] + [f"{name}: {fmt(values[i])}" for _, name, values in stacks]
        if extra and extra[i]:
            lines.append(extra[i])
        columns.append(
            Column(round(i * slot + gap / 2, 2), round(slot - gap, 2), "\n".join(lines), segments)
        )
    return StackedBars(
        width=WIDTH,
        height=HEIGHT,
        columns=columns,
        y_labels=_y_labels(top, fmt),
        x_labels=_x_labels(labels),
        legend=[Legend(css, name) for css, name, _ in stacks] if len(stacks) > 1 else [],
        empty=not any(totals),
    )


@dataclass(frozen=True, slots=True)
class Line:
    css: str
    paths: list[str]  # "x,y x,y ..." runs; a slot without a value breaks the line
    dots: list[tuple[float, float]]  # lone points (a run of one) drawn as dots


@dataclass(frozen=True, slots=True)
class LineChart:
    width: int
    height: int
    columns: list[Column]  # hit areas with tooltips (no segments)
    lines: list[Line]
    y_labels: list[str]
    x_labels: list[str]
    legend: list[Legend]
    empty: bool


def line_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float | None]]],
    fmt: Format,
) -> LineChart:
    """Lines through each slot's value (``None`` leaves a gap), on a shared scale."""
    count = len(labels)
    values = [v for _, _, vals in series for v in vals if v is not None]
    top = nice_ceiling(max(values, default=0.0))
    slot = WIDTH / max(count, 1)

    def point(i: int, value: float) -> tuple[float, float]:
        return round(i * slot + slot / 2, 2), round(HEIGHT - HEIGHT * value / top, 2)

    lines = []
    for css, _name, vals in series:
        runs: list[list[tuple[float, float]]] = [[]]
        for i, value in enumerate(vals):
            if value is None:
                if runs[-1]:
                    runs.append([])
                continue
            runs[-1].append(point(i, value))
        paths = [" ".join(f"{x},{y}" for x, y in run) for run in runs if len(run) > 1]
        dots = [run[0] for run in runs if len(run) == 1]
        lines.append(Line(css, paths, dots))
    columns = []
    for i, label in enumerate(labels):
        parts = [label] + [f"{name}: {_maybe(fmt, vals[i])}" for _, name, vals in series]
        columns.append(Column(round(i * slot, 2), round(slot, 2), "\n".join(parts), []))
    return LineChart(
        width=WIDTH,
        height=HEIGHT,
        columns=columns,
        lines=lines,
        y_labels=_y_labels(top, fmt),
        x_labels=_x_labels(labels),
        legend=[Legend(css, name) for css, name, _ in series],
        empty=not values,
    )


def _maybe(fmt: Format, value: float | None) -> str:
    return "no data" if value is None else fmt(value)


@dataclass(frozen=True, slots=True)
class Tick:
    percent: float
    label: str


def timeline_ticks(duration: float, count: int = 5) -> list[Tick]:
    """Evenly spaced time labels under a trace timeline, from 0 to its duration."""
    steps = max(count - 1, 1)
    return [Tick(100.0 * i / steps, seconds(duration * i / steps)) for i in range(steps + 1)]
