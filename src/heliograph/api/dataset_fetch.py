"""Datasets for SDKs, at Langfuse's paths: ``run_experiment`` reads items and links results.

* ``GET /api/public/v2/datasets/{name}`` (and ``/api/public/datasets/{name}``):
  the dataset;
* ``GET /api/public/dataset-items?datasetName=&page=&limit=`` (or ``cursor=``):
  its active items, a page at a time (``meta.nextCursor`` continues);
* ``POST /api/public/datasets`` and ``POST /api/public/dataset-items``: create
  a dataset or upsert an item, as Langfuse's ``create_dataset`` and
  ``create_dataset_item`` do;
* ``POST /api/public/dataset-run-items``: link a dataset item to the trace that
  ran it in the run ``runName`` (created on its first item). Heliograph also
  reads ``datasetName`` (Langfuse finds the dataset by the item id, unique in
  its projects; ours are unique in a dataset), ``output``, ``error`` and
  ``latencySeconds``.

Authentication is the prompt fetch's (:func:`heliograph.api.prompt_fetch.sdk_caller`):
``Basic base64(<project key>:<API token>)``. The project key alone is not
enough: it is public, and datasets hold a team's test inputs.
"""

from __future__ import annotations

import math
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from heliograph.api import common
from heliograph.api.dataset_json import dataset_json, item_draft, item_json, run_item_json
from heliograph.api.datasets import checked, save_items
from heliograph.api.errors import ApiError
from heliograph.api.prompt_fetch import sdk_caller
from heliograph.datasets.definition import (
    MAX_ERROR,
    Dataset,
    DatasetError,
    DatasetItem,
    RunItem,
    check_json,
    check_metadata,
    check_name,
    check_text,
)
from heliograph.store.base import Project

__all__ = ["routes"]

_MAX_PAGE = 100
_MAX_PAGES_WALKED = 200


def _dataset(request: Request, project: Project, name: Any) -> Dataset:
    if not isinstance(name, str) or not name:
        raise ApiError(400, "name the dataset (datasetName)")
    found = common.runtime(request).store.get_dataset(project.id, name)
    if found is None:
        raise ApiError(404, f"no dataset named {name[:100]!r}")
    return found


def get_dataset(request: Request) -> Response:
    project, _ = sdk_caller(request)
    found = _dataset(request, project, request.path_params["dataset_name"])
    return JSONResponse(dataset_json(found), headers={"Cache-Control": "no-store"})


async def create_dataset(request: Request) -> Response:
    project, _ = sdk_caller(request, write=True)
    body = await common.json_body(request)
    if not isinstance(body, dict):
        raise ApiError(400, "expected a JSON object")
    name = checked(lambda: check_name(body.get("name"), "the dataset's name"))
    description = checked(lambda: check_text(body.get("description"), "description"))
    metadata = checked(lambda: check_metadata(body.get("metadata")))
    saved = common.runtime(request).store.save_dataset(
        project.id, name, description=description, metadata=metadata
    )
    return JSONResponse(dataset_json(saved))


def _int(request: Request, name: str, default: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= high:
        raise ApiError(400, f"{name} must be between 1 and {high}")
    return int(raw)


def dataset_items(request: Request) -> Response:
    """Active items, by ``cursor`` (Heliograph's SDK) or ``page`` (Langfuse's, 1-based)."""
    project, _ = sdk_caller(request)
    found = _dataset(request, project, request.query_params.get("datasetName"))
    store = common.runtime(request).store
    limit = _int(request, "limit", 50, _MAX_PAGE)
    page = _int(request, "page", 1, _MAX_PAGES_WALKED)
    cursor = request.query_params.get("cursor") or None
    pages = 1 if cursor else page  # Langfuse's pages: walk to the one asked
    items: list[DatasetItem] = []
    next_cursor = cursor
    try:
        for index in range(pages):
            items, next_cursor = store.dataset_items(
                found.id, limit=limit, cursor=next_cursor, status="active"
            )
            if next_cursor is None:
                items = items if index == pages - 1 else []  # past the end: nothing
                break
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    meta = {
        "page": page,
        "limit": limit,
        "totalItems": found.items,
        "totalPages": max(1, math.ceil(found.items / limit)),
        "nextCursor": next_cursor,
    }
    return JSONResponse({"data": [item_json(i, found) for i in items], "meta": meta})


async def create_item(request: Request) -> Response:
    project, _ = sdk_caller(request, write=True)
    body = await common.json_body(request)
    if not isinstance(body, dict):
        raise ApiError(400, "expected a JSON object")
    found = _dataset(request, project, body.get("datasetName"))
    draft = item_draft(body)
    save_items(common.runtime(request), found, [draft])
    saved = common.runtime(request).store.get_dataset_item(found.id, draft.id)
    if saved is None:  # deleted at that very moment
        raise ApiError(404, "no such item")
    return JSONResponse(item_json(saved, found))


def _item_dataset(request: Request, project: Project, body: dict[str, Any]) -> Dataset:
    """The dataset the run item's ``datasetName`` names, else the one holding its item."""
    item_id = body.get("datasetItemId")
    if not isinstance(item_id, str) or not item_id or len(item_id) > 200:
        raise ApiError(400, "datasetItemId is required")
    store = common.runtime(request).store
    if body.get("datasetName") is not None:
        candidates = [_dataset(request, project, body["datasetName"])]
    else:
        candidates = store.list_datasets(project.id)
    for dataset in candidates:
        if store.get_dataset_item(dataset.id, item_id) is not None:
            return dataset
    raise ApiError(404, f"no dataset item {item_id[:100]!r}")


def _number(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ApiError(400, f"{name} must be a number")
    if value < 0:
        raise ApiError(400, f"{name} must be 0 or more")
    return float(value)


async def create_run_item(request: Request) -> Response:
    project, caller = sdk_caller(request, write=True)
    body = await common.json_body(request)
    if not isinstance(body, dict):
        raise ApiError(400, "expected a JSON object")
    found = _item_dataset(request, project, body)
    trace_id, span_id, error = body.get("traceId"), body.get("observationId"), body.get("error")
    if not isinstance(trace_id, str) or not trace_id or len(trace_id) > 200:
        raise ApiError(400, "traceId is required: the trace that ran the item")
    if span_id is not None and (not isinstance(span_id, str) or len(span_id) > 200):
        raise ApiError(400, "observationId must be text")
    if error is not None and not isinstance(error, str):
        raise ApiError(400, "error must be text")
    output = checked(lambda: check_json(body.get("output"), "output"))
    latency = _number(body.get("latencySeconds"), "latencySeconds")
    store = common.runtime(request).store

    def make_run() -> Any:
        return store.create_dataset_run(
            found.id,
            check_name(body.get("runName"), "runName"),
            kind="sdk",
            status="done",
            description=check_text(body.get("runDescription"), "runDescription"),
            metadata=check_metadata(body.get("metadata")),
            user_id=caller.user.id,
            exist_ok=True,
        )

    try:
        run = make_run()
    except DatasetError as exc:  # a prompt run of that name: not this program's to add to
        raise ApiError(409 if "already" in str(exc) else 400, str(exc)) from None
    item = RunItem(
        run.id,
        str(body["datasetItemId"]),
        trace_id,
        span_id,
        output,
        error[:MAX_ERROR] if error else None,
        latency,
    )
    store.save_run_items([item])
    saved = next((i for i in store.run_items(run.id) if i.item_id == item.item_id), item)
    return JSONResponse({**run_item_json(saved, run), "datasetRunId": str(run.id)})


routes = [
    Route("/api/public/datasets", create_dataset, methods=["POST"]),
    Route("/api/public/v2/datasets", create_dataset, methods=["POST"]),
    Route("/api/public/datasets/{dataset_name}", get_dataset, methods=["GET"]),
    Route("/api/public/v2/datasets/{dataset_name}", get_dataset, methods=["GET"]),
    Route("/api/public/dataset-items", dataset_items, methods=["GET"]),
    Route("/api/public/dataset-items", create_item, methods=["POST"]),
    Route("/api/public/dataset-run-items", create_run_item, methods=["POST"]),
]
