"""``/{org}/{project}/llm/datasets/``: datasets, their items and runs, runs compared.

A tab of LLM analytics. The list shows each dataset with its item and run
counts and (for members) a form for a new one. A dataset's page lists its
items and runs; members add an item, paste a JSONL or CSV file, or start a
prompt version's run on the server (:mod:`heliograph.datasets.runs`, queued
for the experiment job). Ticking runs opens the comparison: each item's
input, expected output and every run's output, latency, cost, error and
scores side by side, with aggregate rows.

"Add to dataset" on the generations list, a generation and a trace posts to
``add-to-dataset/`` (the dataset is created when new). Checks and limits are
the API's (:mod:`heliograph.api.datasets`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import orjson
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from heliograph.api.datasets import MAX_DATASET_ITEMS, MAX_RUNS_COMPARED
from heliograph.auth import can_write
from heliograph.datasets.comparison import compare_runs
from heliograph.datasets.definition import (
    Dataset,
    DatasetConflict,
    DatasetError,
    ItemDraft,
    check_json,
    check_name,
    check_text,
)
from heliograph.datasets.experiment import MAX_CONCURRENCY
from heliograph.datasets.from_calls import items_from_calls
from heliograph.datasets.importer import parse_items
from heliograph.datasets.runs import start_prompt_run
from heliograph.store.base import Project
from heliograph.web.common import BadRequest, Forbidden, NotFound, PageRequest, page
from heliograph.web.llm_links import llm_url
from heliograph.web.pages.llm import LlmUrls

__all__ = ["routes"]

ITEMS_SHOWN = 100
_RUN_FIELDS = ("name", "promptName", "promptVersion", "maxConcurrency", "costCapUsd", "maxItems")


def dataset_url(project: Project, name: str = "", path: str = "") -> str:
    return llm_url(project, f"datasets/{quote(name, safe='')}/{path}" if name else "datasets/")


def _context(ctx: PageRequest, project: Project, title: str, **more: Any) -> dict[str, Any]:
    return {
        "project": project,
        "urls": LlmUrls(project),
        "llm_tab": "datasets",
        "nav_active": "llm",
        "page_title": f"{title} · {project.name}",
        **more,
    }


def _value(text: str) -> Any:
    """A form field as an item value: JSON when it parses, else the text itself."""
    text = text.strip()
    if not text:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def _check_room(dataset: Dataset, adding: int) -> None:
    if dataset.items + adding > MAX_DATASET_ITEMS:
        raise DatasetError(f"a dataset holds at most {MAX_DATASET_ITEMS} items")


@page
def dataset_list(ctx: PageRequest) -> Response:
    project, role = ctx.path_project()
    writer = can_write(ctx.principal, role)
    error = None
    if ctx.request.method == "POST":
        if not writer:
            raise Forbidden("Only members can create datasets.")
        try:
            name = check_name(ctx.form.get("name", "").strip(), "the dataset's name")
            description = check_text(ctx.form.get("description", ""), "description")
        except DatasetError as exc:
            error = str(exc)
        else:
            ctx.store.save_dataset(project.id, name, description=description, metadata={})
            return RedirectResponse(dataset_url(project, name) + "?done=created", 303)
    context = _context(
        ctx,
        project,
        "Datasets",
        datasets=ctx.store.list_datasets(project.id),
        can_write=writer,
        form=ctx.form if error else {},
        error=error,
    )
    return ctx.render("datasets.html", context, project=project, status_code=400 if error else 200)


def _act(ctx: PageRequest, project: Project, dataset: Dataset, action: str) -> str:
    """Do one form action on the dataset; the ``done`` word for the redirect."""
    store = ctx.store
    if action == "add_item":
        value = _value(ctx.form.get("input", ""))
        if value is None:
            raise DatasetError("an item needs an input")
        _check_room(dataset, 1)
        draft = ItemDraft(
            input=check_json(value, "input"),
            expected_output=check_json(_value(ctx.form.get("expected_output", "")), "expected"),
        )
        store.save_dataset_items(dataset.id, [draft])
        return "item_added"
    if action == "import":
        data = ctx.form.get("file", "").encode()
        drafts = parse_items(data, "csv" if ctx.form.get("format") == "csv" else "jsonl")
        _check_room(dataset, len(drafts))
        store.save_dataset_items(dataset.id, drafts)
        return "imported"
    if action == "delete_item":
        store.delete_dataset_item(dataset.id, ctx.form.get("item", ""))
        return "item_deleted"
    if action == "start_run":
        runtime = ctx.request.app.state.runtime
        start_prompt_run(
            store,
            project,
            dataset,
            {key: ctx.form.get(key) for key in _RUN_FIELDS},
            ai_configured=runtime.fixes.settings.configured,
            max_items=runtime.settings.experiment_max_items,
            cost_cap_usd=runtime.settings.experiment_cost_cap_usd,
            user_id=ctx.principal.user.id,
        )
        return "run_started"
    raise BadRequest("Unknown action; use add_item, import, delete_item or start_run.")


def _find(ctx: PageRequest) -> tuple[Project, str, Dataset]:
    project, role = ctx.path_project()
    found = ctx.store.get_dataset(project.id, ctx.request.path_params["dataset_name"])
    if found is None:
        raise NotFound()
    return project, role, found


@page
def dataset_detail(ctx: PageRequest) -> Response:
    project, role, dataset = _find(ctx)
    writer = can_write(ctx.principal, role)
    error = None
    if ctx.request.method == "POST":
        if not writer:
            raise Forbidden("Only members can change datasets.")
        try:
            done = _act(ctx, project, dataset, ctx.form.get("action", ""))
        except DatasetConflict as exc:
            error = str(exc)
        except DatasetError as exc:
            error = str(exc)
        else:
            return RedirectResponse(dataset_url(project, dataset.name) + f"?done={done}", 303)
    items, more = ctx.store.dataset_items(dataset.id, limit=ITEMS_SHOWN)
    context = _context(
        ctx,
        project,
        f"{dataset.name} · Datasets",
        dataset=dataset,
        items=items,
        more_items=more is not None,
        runs=ctx.store.list_dataset_runs(dataset.id),
        prompts=ctx.store.list_prompts(project.id),
        max_concurrency=MAX_CONCURRENCY,
        max_runs=MAX_RUNS_COMPARED,
        compare_url=dataset_url(project, dataset.name, "compare/"),
        can_write=writer,
        done=ctx.params.get("done", ""),
        form=ctx.form if error else {},
        error=error,
    )
    return ctx.render("dataset.html", context, project=project, status_code=400 if error else 200)


@page
def dataset_compare(ctx: PageRequest) -> Response:
    project, _, dataset = _find(ctx)
    runs = ctx.store.list_dataset_runs(dataset.id)
    wanted = [n for n in ctx.request.query_params.getlist("runs") if n][:MAX_RUNS_COMPARED]
    by_name = {run.name: run for run in runs}
    chosen = [by_name[n] for n in dict.fromkeys(wanted) if n in by_name] or list(reversed(runs[:2]))
    comparison = compare_runs(ctx.store, dataset, chosen)
    context = _context(
        ctx,
        project,
        f"Compare · {dataset.name}",
        dataset=dataset,
        comparison=comparison,
        dataset_url=dataset_url(project, dataset.name),
    )
    return ctx.render("dataset_compare.html", context, project=project)


@page
def add_calls(ctx: PageRequest) -> Response:
    """ "Add to dataset": the ticked generations (or a trace) become items of a dataset."""
    project, role = ctx.path_project()
    if not can_write(ctx.principal, role):
        raise Forbidden("Only members can change datasets.")
    try:
        name = check_name(ctx.form.get("dataset", "").strip(), "the dataset's name")
        made = items_from_calls(
            ctx.store,
            project.id,
            generations=ctx.form.getlist("generations"),
            traces=ctx.form.getlist("traces"),
        )
        if not made.items:
            raise DatasetError(
                "none of these calls has its input stored (the project keeps no LLM payloads, "
                "or none was ticked)"
            )
        dataset = ctx.store.get_dataset(project.id, name) or ctx.store.save_dataset(
            project.id, name, description="", metadata={}
        )
        _check_room(dataset, len(made.items))
    except DatasetError as exc:
        raise BadRequest(str(exc)) from None
    ctx.store.save_dataset_items(dataset.id, made.items)
    query = urlencode({"done": "calls_added", "missing": str(len(made.missing))})
    return RedirectResponse(dataset_url(project, dataset.name) + "?" + query, 303)


routes = [
    Route("/{org}/{project}/llm/datasets/", dataset_list, methods=["GET", "POST"]),
    Route("/{org}/{project}/llm/add-to-dataset/", add_calls, methods=["POST"]),
    Route("/{org}/{project}/llm/datasets/{dataset_name}/", dataset_detail, methods=["GET", "POST"]),
    Route("/{org}/{project}/llm/datasets/{dataset_name}/compare/", dataset_compare),
]
