"""JSON shapes of datasets, items, runs, run items and comparisons, and body readers.

Shared by the management API (``api/datasets.py``) and the SDK endpoints
(``api/dataset_fetch.py``). Field names follow Langfuse's datasets API
(``expectedOutput``, ``sourceTraceId``, ``datasetItemId``...), so that its
clients read our answers; Heliograph adds run status, cost and outputs.
"""

from __future__ import annotations

from typing import Any

from heliograph.api.errors import ApiError
from heliograph.datasets.comparison import Cell, Comparison, RunFigures
from heliograph.datasets.definition import (
    Dataset,
    DatasetError,
    DatasetItem,
    DatasetRun,
    ItemDraft,
    RunItem,
    check_item_id,
    check_json,
    check_metadata,
    check_status,
)
from heliograph.query.serialize import iso

__all__ = [
    "comparison_json",
    "dataset_json",
    "item_draft",
    "item_json",
    "run_item_json",
    "run_json",
]


def dataset_json(dataset: Dataset) -> dict[str, Any]:
    return {
        "id": str(dataset.id),
        "name": dataset.name,
        "description": dataset.description or None,
        "metadata": dataset.metadata,
        "items": dataset.items,
        "runs": dataset.runs,
        "createdAt": iso(dataset.created_at),
        "updatedAt": iso(dataset.updated_at),
    }


def item_json(item: DatasetItem, dataset: Dataset) -> dict[str, Any]:
    return {
        "id": item.id,
        "datasetId": str(dataset.id),
        "datasetName": dataset.name,
        "input": item.input,
        "expectedOutput": item.expected_output,
        "metadata": item.metadata,
        "sourceTraceId": item.source_trace_id,
        "sourceObservationId": item.source_observation_id,
        "status": item.status.upper(),  # Langfuse's ACTIVE / ARCHIVED
        "createdAt": iso(item.created_at),
        "updatedAt": iso(item.updated_at),
    }


def run_json(run: DatasetRun, dataset: Dataset) -> dict[str, Any]:
    return {
        "id": str(run.id),
        "name": run.name,
        "datasetName": dataset.name,
        "description": run.description or None,
        "metadata": run.metadata,
        "kind": run.kind,
        "status": run.status,
        "promptName": run.prompt_name,
        "promptVersion": run.prompt_version,
        "settings": run.settings,
        "error": run.error,
        "costUsd": run.cost_usd,
        "items": run.items,
        "createdAt": iso(run.created_at),
        "startedAt": iso(run.started_at) if run.started_at is not None else None,
        "finishedAt": iso(run.finished_at) if run.finished_at is not None else None,
    }


def run_item_json(item: RunItem, run: DatasetRun) -> dict[str, Any]:
    return {
        "datasetItemId": item.item_id,
        "datasetRunName": run.name,
        "traceId": item.trace_id,
        "observationId": item.observation_id,
        "output": item.output,
        "error": item.error,
        "latencySeconds": item.latency_s,
        "costUsd": item.cost_usd,
        "createdAt": iso(item.created_at),
    }


def _status(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def item_draft(body: Any, existing: DatasetItem | None = None) -> ItemDraft:
    """An item from a request body; with ``existing``, the fields the body leaves out are
    that item's (a PATCH). A 400 saying what is wrong otherwise."""
    if not isinstance(body, dict):
        raise ApiError(400, "an item is a JSON object")
    expected_key = "expectedOutput" if "expectedOutput" in body else "expected_output"
    try:
        if existing is not None:
            changes: dict[str, Any] = {}
            if "input" in body:
                changes["input"] = check_json(body["input"], "input")
            if expected_key in body:
                changes["expected_output"] = check_json(body[expected_key], "expectedOutput")
            if "metadata" in body:
                changes["metadata"] = check_metadata(body["metadata"])
            if "status" in body:
                changes["status"] = check_status(_status(body["status"]))
            if changes.get("input", existing.input) is None:
                raise DatasetError("an item needs an 'input'")
            return existing.draft(**changes)
        if body.get("input") is None:
            raise DatasetError("an item needs an 'input'")
        trace = body.get("sourceTraceId", body.get("source_trace_id"))
        span = body.get("sourceObservationId", body.get("source_observation_id"))
        for value in (trace, span):
            if value is not None and (not isinstance(value, str) or len(value) > 200):
                raise DatasetError("source ids are text of at most 200 characters")
        return ItemDraft(
            input=check_json(body["input"], "input"),
            expected_output=check_json(body.get(expected_key), "expectedOutput"),
            metadata=check_metadata(body.get("metadata")),
            id=check_item_id(body.get("id")),
            source_trace_id=trace,
            source_observation_id=span,
            status=check_status(_status(body.get("status"))),
        )
    except DatasetError as exc:
        raise ApiError(400, str(exc)) from None


def _cell_json(cell: Cell | None) -> dict[str, Any] | None:
    if cell is None:
        return None
    return {
        "traceId": cell.trace_id,
        "output": cell.output,
        "error": cell.error,
        "latencySeconds": cell.latency_s,
        "costUsd": cell.cost_usd,
        "scores": cell.scores,
        "digested": cell.digested,
    }


def _figures_json(figures: RunFigures, dataset: Dataset) -> dict[str, Any]:
    return {
        **run_json(figures.run, dataset),
        "aggregate": {
            "items": figures.items,
            "errors": figures.errors,
            "costUsd": figures.cost_usd,
            "p50LatencySeconds": figures.p50_latency_s,
            "meanScores": figures.mean_scores,
            "scoreCounts": figures.score_counts,
        },
    }


def comparison_json(comparison: Comparison) -> dict[str, Any]:
    dataset = comparison.dataset
    return {
        "dataset": dataset_json(dataset),
        "runs": [_figures_json(figures, dataset) for figures in comparison.runs],
        "scoreNames": list(comparison.score_names),
        "truncated": comparison.truncated,
        "items": [
            {
                "id": item.item_id,
                "input": item.input,
                "expectedOutput": item.expected_output,
                "removed": item.removed,
                "runs": [_cell_json(cell) for cell in item.cells],
            }
            for item in comparison.items
        ],
    }
