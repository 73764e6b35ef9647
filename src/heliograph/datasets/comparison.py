"""Runs of a dataset side by side, item by item: outputs, scores, cost, latency, errors.

Each run item names the trace its execution recorded. Cost and latency are
that trace's, as the LLM pipeline summed them (:meth:`LlmReads.llm_trace`:
priced from the calls' tokens, on every backend, ClickHouse included); until
the trace is digested the runner's own measure stands in. Scores are those
naming the trace or a call in it (:meth:`Scores.scores_of_traces`), whoever
gave them: an evaluator, the SDK, a person annotating. Aggregates per run:
mean of each score, total cost, median latency, errors.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from heliograph.datasets.definition import Dataset, DatasetItem, DatasetRun, RunItem
from heliograph.store.contract import Datasets, LlmReads, Scores
from heliograph.store.llm_records import TraceRecord
from heliograph.store.score_records import Score

__all__ = ["Cell", "ComparedItem", "Comparison", "RunFigures", "compare_runs"]

# Items a comparison reads at most (a run is bounded lower: HELIOGRAPH_EXPERIMENT_MAX_ITEMS).
MAX_ITEMS = 2_000
_PAGE = 500


class _Reads(Datasets, LlmReads, Scores, Protocol):
    """What a comparison reads: the runs' items, their traces and their scores."""


@dataclass(frozen=True, slots=True)
class Cell:
    """What one run did with one item."""

    trace_id: str
    output: Any
    error: str | None
    latency_s: float | None
    cost_usd: float | None
    # Per score name: the mean of its numeric values on this trace, or its last label.
    scores: dict[str, float | str]
    digested: bool  # the trace's calls are stored: cost and latency are theirs


@dataclass(frozen=True, slots=True)
class ComparedItem:
    item_id: str
    input: Any
    expected_output: Any
    cells: tuple[Cell | None, ...]  # one per run, in the runs' order; None: not run
    removed: bool = False  # the item was deleted from the dataset since


@dataclass(frozen=True, slots=True)
class RunFigures:
    """A run's aggregate row."""

    run: DatasetRun
    items: int
    errors: int
    cost_usd: float
    p50_latency_s: float | None
    mean_scores: dict[str, float]
    score_counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Comparison:
    dataset: Dataset
    runs: tuple[RunFigures, ...]
    items: tuple[ComparedItem, ...]
    score_names: tuple[str, ...]
    truncated: bool  # the dataset has more than MAX_ITEMS items: the first ones are compared


def _cell_scores(scores: Sequence[Score]) -> dict[str, float | str]:
    numbers: dict[str, list[float]] = {}
    labels: dict[str, str] = {}
    for score in scores:
        if score.value is not None and score.data_type != "categorical":
            numbers.setdefault(score.name, []).append(score.value)
        elif score.string_value is not None:
            labels[score.name] = score.string_value
    found: dict[str, float | str] = dict(labels)
    found.update({name: sum(values) / len(values) for name, values in numbers.items()})
    return dict(sorted(found.items()))


def _cell(item: RunItem, trace: TraceRecord | None, scores: Sequence[Score]) -> Cell:
    error = item.error
    if error is None and trace is not None and trace.errors:
        error = f"{trace.errors} failed call(s) in the trace"
    return Cell(
        trace_id=item.trace_id,
        output=item.output,
        error=error,
        latency_s=trace.latency_s if trace is not None else item.latency_s,
        cost_usd=(trace.cost_usd if trace.cost_usd or not trace.unpriced else None)
        if trace is not None
        else item.cost_usd,
        scores=_cell_scores(scores),
        digested=trace is not None,
    )


def _figures(run: DatasetRun, cells: Sequence[Cell]) -> RunFigures:
    latencies = [c.latency_s for c in cells if c.latency_s is not None]
    by_name: dict[str, list[float]] = {}
    for cell in cells:
        for name, value in cell.scores.items():
            if isinstance(value, float):
                by_name.setdefault(name, []).append(value)
    return RunFigures(
        run=run,
        items=len(cells),
        errors=sum(1 for c in cells if c.error),
        cost_usd=sum(c.cost_usd or 0.0 for c in cells),
        p50_latency_s=statistics.median(latencies) if latencies else None,
        mean_scores={n: sum(v) / len(v) for n, v in sorted(by_name.items())},
        score_counts={n: len(v) for n, v in sorted(by_name.items())},
    )


def _dataset_items(store: _Reads, dataset: Dataset) -> tuple[list[DatasetItem], bool]:
    items: list[DatasetItem] = []
    cursor: str | None = None
    while len(items) < MAX_ITEMS:
        page, cursor = store.dataset_items(dataset.id, limit=_PAGE, cursor=cursor)
        items += page
        if cursor is None:
            return items[:MAX_ITEMS], False
    return items[:MAX_ITEMS], True


def compare_runs(store: _Reads, dataset: Dataset, runs: Sequence[DatasetRun]) -> Comparison:
    """The runs' results on each item of ``dataset`` (then on items removed since)."""
    items, truncated = _dataset_items(store, dataset)
    per_run = [{ri.item_id: ri for ri in store.run_items(run.id)} for run in runs]
    traces = sorted({ri.trace_id for results in per_run for ri in results.values()})
    scores: dict[str, list[Score]] = {}
    for score in store.scores_of_traces(dataset.project_id, traces):
        if score.trace_id is not None:
            scores.setdefault(score.trace_id, []).append(score)
    records = {t: store.llm_trace(dataset.project_id, t) for t in traces}
    cells = [
        {
            item_id: _cell(ri, records.get(ri.trace_id), scores.get(ri.trace_id, ()))
            for item_id, ri in results.items()
        }
        for results in per_run
    ]
    compared = [
        ComparedItem(
            item.id, item.input, item.expected_output, tuple(c.get(item.id) for c in cells)
        )
        for item in items
    ]
    known = {item.id for item in items}
    removed = sorted({i for c in cells for i in c} - known) if not truncated else []
    compared += [
        ComparedItem(i, None, None, tuple(c.get(i) for c in cells), removed=True) for i in removed
    ]
    figures = tuple(_figures(run, list(c.values())) for run, c in zip(runs, cells, strict=True))
    names = sorted({n for c in cells for cell in c.values() for n in cell.scores})
    return Comparison(dataset, figures, tuple(compared), tuple(names), truncated)
