"""Datasets and experiments over the API, under ``/api/0/projects/{org}/{project}/llm/datasets/``.

Authorised like every API call (``Authorization: Bearer <API token>``):
reading needs the ``read`` scope and any role in the project; changing a
dataset (items, imports, runs), like changing an issue, the ``write`` scope
and a member role or above. Shapes are :mod:`heliograph.api.dataset_json`'s.

* ``datasets/``: list; POST ``{name, description, metadata}`` creates (or
  updates) one.
* ``datasets/{name}/``: one, with its runs; DELETE removes it.
* ``datasets/{name}/items/``: a page of items; POST ``{"items": [...]}`` adds
  (or replaces, same ``id``) items, or ``{"generations": [event ids],
  "traces": [trace ids]}`` makes items of recorded calls.
* ``datasets/{name}/import/``: POST a JSONL or CSV file (``?format=``, else
  the Content-Type); a bad line is a 400 naming it.
* ``datasets/{name}/items/{item_id}/``: GET, PATCH, DELETE.
* ``datasets/{name}/runs/``: list; POST starts a prompt version's run on the
  server (``datasets/runs.py``): 202, the run queued.
* ``datasets/{name}/runs/{run}/``: a run with its items; DELETE.
* ``datasets/{name}/compare/?runs=a&runs=b``: runs side by side, item by item.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from heliograph.api import common
from heliograph.api.dataset_json import (
    comparison_json,
    dataset_json,
    item_draft,
    item_json,
    run_item_json,
    run_json,
)
from heliograph.api.errors import ApiError
from heliograph.datasets.comparison import compare_runs
from heliograph.datasets.definition import (
    ITEM_STATUSES,
    Dataset,
    DatasetConflict,
    DatasetError,
    ItemDraft,
    check_metadata,
    check_name,
    check_text,
)
from heliograph.datasets.from_calls import items_from_calls
from heliograph.datasets.importer import MAX_BYTES, FileFormat, parse_items
from heliograph.datasets.runs import RunRefused, start_prompt_run
from heliograph.runtime import Runtime
from heliograph.store.base import Project

__all__ = ["MAX_DATASET_ITEMS", "MAX_RUNS_COMPARED", "checked", "routes", "save_items"]

T = TypeVar("T")
MAX_DATASET_ITEMS = 10_000
MAX_RUNS_COMPARED = 5
MAX_ITEMS_PER_POST = 1_000


def checked(action: Callable[[], T]) -> T:
    """``action()``, its dataset errors answered: 409 for a taken name, a refusal's own
    status, 400 for the rest."""
    try:
        return action()
    except DatasetConflict as exc:
        raise ApiError(409, str(exc)) from None
    except RunRefused as exc:
        raise ApiError(exc.status, str(exc)) from None
    except DatasetError as exc:
        raise ApiError(400, str(exc)) from None


def save_items(runtime: Runtime, dataset: Dataset, drafts: list[ItemDraft]) -> int:
    """Save drafts within the dataset's bound; how many were new."""
    if dataset.items + len(drafts) > MAX_DATASET_ITEMS:
        raise ApiError(400, f"a dataset holds at most {MAX_DATASET_ITEMS} items")
    return runtime.store.save_dataset_items(dataset.id, drafts)


def _find(request: Request, *, write: bool = False) -> tuple[Project, Dataset, Any]:
    caller = common.principal(request)
    project, role = common.find_project(request, caller)
    if write:
        common.check_write(request, caller, role)
    name = request.path_params["dataset_name"]
    dataset = common.runtime(request).store.get_dataset(project.id, name)
    if dataset is None:
        raise ApiError(404, f"no dataset named {name[:100]!r}")
    return project, dataset, caller


async def datasets(request: Request) -> Response:
    caller = common.principal(request)
    project, role = common.find_project(request, caller)
    store = common.runtime(request).store
    if request.method == "POST":
        common.check_write(request, caller, role)
        body = await common.json_body(request)
        if not isinstance(body, dict):
            raise ApiError(400, "expected a JSON object")
        name = checked(lambda: check_name(body.get("name"), "the dataset's name"))
        description = checked(lambda: check_text(body.get("description"), "description"))
        metadata = checked(lambda: check_metadata(body.get("metadata")))
        saved = store.save_dataset(project.id, name, description=description, metadata=metadata)
        return JSONResponse(dataset_json(saved), status_code=201)
    return JSONResponse({"results": [dataset_json(d) for d in store.list_datasets(project.id)]})


def dataset(request: Request) -> Response:
    project, found, _ = _find(request, write=request.method == "DELETE")
    store = common.runtime(request).store
    if request.method == "DELETE":
        store.delete_dataset(project.id, found.name)
        return Response(status_code=204)
    runs = [run_json(run, found) for run in store.list_dataset_runs(found.id)]
    return JSONResponse({**dataset_json(found), "datasetRuns": runs})


async def items(request: Request) -> Response:
    project, found, _ = _find(request, write=request.method == "POST")
    runtime = common.runtime(request)
    if request.method == "POST":
        body = await common.json_body(request)
        if not isinstance(body, dict):
            raise ApiError(400, "expected a JSON object")
        missing: list[str] = []
        if "items" in body:
            given = body["items"]
            if not isinstance(given, list) or not 0 < len(given) <= MAX_ITEMS_PER_POST:
                raise ApiError(400, f"items must be a list of 1 to {MAX_ITEMS_PER_POST} items")
            drafts = [item_draft(each) for each in given]
        else:
            generations, traces = body.get("generations") or [], body.get("traces") or []
            if not isinstance(generations, list) or not isinstance(traces, list):
                raise ApiError(400, "generations and traces are lists of ids")
            if not generations and not traces:
                raise ApiError(400, "send {'items': [...]}, or {'generations': [...]}")
            made = checked(
                lambda: items_from_calls(
                    runtime.store, project.id, generations=generations, traces=traces
                )
            )
            drafts, missing = made.items, made.missing
        added = save_items(runtime, found, drafts) if drafts else 0
        return JSONResponse(
            {"added": added, "updated": len(drafts) - added, "missing": missing,
             "ids": [d.id for d in drafts]},
            status_code=201 if drafts else 200,
        )  # fmt: skip
    status = request.query_params.get("status") or None
    if status is not None and status.lower() not in ITEM_STATUSES:
        raise ApiError(400, f"status must be one of {', '.join(ITEM_STATUSES)}")
    try:
        page, cursor = runtime.store.dataset_items(
            found.id,
            limit=common.page_limit(request),
            cursor=request.query_params.get("cursor"),
            status=status.lower() if status else None,
        )
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    return JSONResponse(
        {"results": [item_json(item, found) for item in page]},
        headers={"Link": common.link_header(request, cursor)},
    )


async def _bounded_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BYTES:
        raise ApiError(413, f"the file is larger than {MAX_BYTES // (1024 * 1024)} MiB")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_BYTES:
            raise ApiError(413, f"the file is larger than {MAX_BYTES // (1024 * 1024)} MiB")
    return bytes(data)


def _file_format(request: Request) -> FileFormat:
    wanted = request.query_params.get("format", "").lower()
    if not wanted:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        wanted = "csv" if kind in ("text/csv", "application/csv") else "jsonl"
    if wanted not in ("jsonl", "csv"):
        raise ApiError(400, "format must be jsonl or csv")
    return "csv" if wanted == "csv" else "jsonl"


async def import_items(request: Request) -> Response:
    _, found, _ = _find(request, write=True)
    file_format = _file_format(request)
    data = await _bounded_body(request)
    drafts = checked(lambda: parse_items(data, file_format))
    added = save_items(common.runtime(request), found, drafts)
    return JSONResponse({"added": added, "updated": len(drafts) - added}, status_code=201)


async def item(request: Request) -> Response:
    _, found, _ = _find(request, write=request.method in ("PATCH", "DELETE"))
    store = common.runtime(request).store
    item_id = request.path_params["item_id"]
    existing = store.get_dataset_item(found.id, item_id)
    if existing is None:
        raise ApiError(404, "no such item in this dataset")
    if request.method == "DELETE":
        store.delete_dataset_item(found.id, item_id)
        return Response(status_code=204)
    if request.method == "PATCH":
        draft = item_draft(await common.json_body(request), existing)
        store.save_dataset_items(found.id, [draft])
        existing = store.get_dataset_item(found.id, item_id) or existing
    return JSONResponse(item_json(existing, found))


async def runs(request: Request) -> Response:
    project, found, caller = _find(request, write=request.method == "POST")
    runtime = common.runtime(request)
    if request.method == "POST":
        body = await common.json_body(request)
        settings = runtime.settings
        run = checked(
            lambda: start_prompt_run(
                runtime.store,
                project,
                found,
                body,
                ai_configured=runtime.fixes.settings.configured,
                max_items=settings.experiment_max_items,
                cost_cap_usd=settings.experiment_cost_cap_usd,
                user_id=caller.user.id,
            )
        )
        return JSONResponse(run_json(run, found), status_code=202)
    found_runs = runtime.store.list_dataset_runs(found.id)
    return JSONResponse({"results": [run_json(run, found) for run in found_runs]})


def run(request: Request) -> Response:
    _, found, _ = _find(request, write=request.method == "DELETE")
    store = common.runtime(request).store
    name = request.path_params["run_name"]
    got = store.get_dataset_run(found.id, name)
    if got is None:
        raise ApiError(404, f"no run named {name[:100]!r} in this dataset")
    if request.method == "DELETE":
        store.delete_dataset_run(found.id, name)
        return Response(status_code=204)
    results = [run_item_json(each, got) for each in store.run_items(got.id)]
    return JSONResponse({**run_json(got, found), "datasetRunItems": results})


def comparison(request: Request) -> Response:
    _, found, _ = _find(request)
    store = common.runtime(request).store
    names = [
        name
        for value in request.query_params.getlist("runs")
        for name in value.split(",")
        if name.strip()
    ]
    if not names:
        names = [r.name for r in reversed(store.list_dataset_runs(found.id)[:2])]
    if len(names) > MAX_RUNS_COMPARED:
        raise ApiError(400, f"compare at most {MAX_RUNS_COMPARED} runs")
    chosen = []
    for name in names:
        got = store.get_dataset_run(found.id, name.strip())
        if got is None:
            raise ApiError(404, f"no run named {name[:100]!r} in this dataset")
        chosen.append(got)
    return JSONResponse(comparison_json(compare_runs(store, found, chosen)))


DATASETS = "/api/0/projects/{organization_slug}/{project_slug}/llm/datasets"
ONE = f"{DATASETS}/{{dataset_name}}"

routes = [
    Route(f"{DATASETS}/", datasets, methods=["GET", "POST"]),
    Route(f"{ONE}/", dataset, methods=["GET", "DELETE"]),
    Route(f"{ONE}/items/", items, methods=["GET", "POST"]),
    Route(f"{ONE}/import/", import_items, methods=["POST"]),
    Route(f"{ONE}/items/{{item_id}}/", item, methods=["GET", "PATCH", "DELETE"]),
    Route(f"{ONE}/runs/", runs, methods=["GET", "POST"]),
    Route(f"{ONE}/runs/{{run_name}}/", run, methods=["GET", "DELETE"]),
    Route(f"{ONE}/compare/", comparison, methods=["GET"]),
]
