"""Evaluators over the API: ``/api/0/projects/{org}/{project}/llm/evaluators/``.

* ``GET evaluators/``: the project's evaluators by name, each with today's
  usage (UTC day: scored, passed, failed, skipped, errors, spend);
* ``POST evaluators/``: create one (:func:`~heliograph.evals.definition.make_evaluator`
  checks it); its background run starts with the generations from now on;
* ``GET`` / ``PUT`` / ``DELETE evaluators/{id}/``: one; ``PUT`` takes the
  fields to change (the rest stay), ``enabled: false`` pauses it;
* ``GET`` / ``POST evaluators/{id}/runs/``: on-demand runs, newest first; queue
  one over a filter (``since`` and ``until`` as ISO dates or Unix seconds,
  or ``range`` such as ``24h``; ``model``, ``prompt_name``) and ``limit``
  generations at most (1 to 1000, default 100), executed by the evaluation
  job within the daily budget.

Reading needs the ``read`` scope and a role in the project. Creating,
changing and deleting evaluators needs an admin (they spend the server's AI
provider budget); queuing a run, a member (bounded by that budget).
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from heliograph.api import common
from heliograph.api.errors import ApiError
from heliograph.api.llm_params import time_bounds
from heliograph.evals.definition import Evaluator, EvaluatorError, make_evaluator
from heliograph.evals.records import MAX_RUN_LIMIT, day_of
from heliograph.store.base import Project
from heliograph.store.contract import Store

__all__ = ["evaluator_json", "routes", "run_filters"]

DEFAULT_RUN_LIMIT = 100


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status, media_type="application/json")


def evaluator_json(store: Store, evaluator: Evaluator) -> dict[str, Any]:
    """The definition, and what it did today (UTC)."""
    today = store.evaluator_usage(evaluator.id, day_of(time.time()))
    return {**evaluator.to_json(), "today": today.to_json()}


def _find(request: Request, project: Project) -> Evaluator:
    raw = request.path_params["evaluator_id"]
    store = common.runtime(request).store
    found = store.get_evaluator(project.id, raw) if 0 < raw < 2**62 else None
    if found is None:
        raise ApiError(404, "evaluator not found")
    return found


def _checked(project: Project, data: Any, *, id: int = 0) -> Evaluator:
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object")
    try:
        return make_evaluator(project.id, data, id=id)
    except EvaluatorError as exc:
        raise ApiError(400, str(exc)) from None


def _saved(store: Store, write: Any) -> Evaluator:
    try:
        saved: Evaluator = write()
    except EvaluatorError as exc:
        raise ApiError(409, str(exc)) from None
    return saved


async def evaluators(request: Request) -> Response:
    caller = common.principal(request)
    project, role = common.find_project(request, caller)
    store = common.runtime(request).store
    if request.method == "GET":
        return _json([evaluator_json(store, e) for e in store.list_evaluators(project.id)])
    common.check_admin(request, caller, role)
    checked = _checked(project, await common.json_body(request))
    created = _saved(store, lambda: store.create_evaluator(checked))
    return _json(evaluator_json(store, created), 201)


async def evaluator(request: Request) -> Response:
    caller = common.principal(request)
    project, role = common.find_project(request, caller)
    store = common.runtime(request).store
    found = _find(request, project)
    if request.method == "GET":
        return _json(evaluator_json(store, found))
    common.check_admin(request, caller, role)
    if request.method == "DELETE":
        store.delete_evaluator(project.id, found.id)
        return Response(status_code=204)
    changes = await common.json_body(request)
    if not isinstance(changes, dict):
        raise ApiError(400, "the body must be a JSON object")
    current = found.to_json()
    checked = _checked(project, {**current, **changes}, id=found.id)
    updated = _saved(store, lambda: store.update_evaluator(checked))
    if updated is None:
        raise ApiError(404, "evaluator not found")
    return _json(evaluator_json(store, updated))


def _text(value: Any, name: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 200:
        raise ApiError(400, f"{name} must be a string of at most 200 characters")
    return value


def run_filters(body: Any) -> tuple[dict[str, Any], int]:
    """The filter and limit of a run request (API body or form fields), checked."""
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    moments = {k: str(body[k]) for k in ("since", "until", "range") if body.get(k)}
    bounds = time_bounds(moments, time.time())
    filters = {
        "since": bounds.since,
        "until": bounds.until,
        "model": _text(body.get("model"), "model"),
        "prompt_name": _text(body.get("prompt_name"), "prompt_name"),
    }
    raw = body.get("limit", DEFAULT_RUN_LIMIT)
    try:
        limit = int(raw if raw not in (None, "") else DEFAULT_RUN_LIMIT)
    except (TypeError, ValueError):
        raise ApiError(400, "limit must be an integer") from None
    if isinstance(raw, bool) or not 1 <= limit <= MAX_RUN_LIMIT:
        raise ApiError(400, f"limit must be between 1 and {MAX_RUN_LIMIT}")
    return {k: v for k, v in filters.items() if v is not None}, limit


async def runs(request: Request) -> Response:
    caller = common.principal(request)
    project, role = common.find_project(request, caller)
    store = common.runtime(request).store
    found = _find(request, project)
    if request.method == "GET":
        return _json([r.to_json() for r in store.evaluator_runs(project.id, found.id)])
    common.check_write(request, caller, role)
    filters, limit = run_filters(await common.json_body(request))
    queued = store.queue_evaluator_run(project.id, found.id, filters, limit, user_id=caller.user.id)
    return _json(queued.to_json(), 202)


_BASE = "/api/0/projects/{organization_slug}/{project_slug}/llm/evaluators"

routes = [
    Route(f"{_BASE}/", evaluators, methods=["GET", "POST"]),
    Route(f"{_BASE}/{{evaluator_id:int}}/", evaluator, methods=["GET", "PUT", "DELETE"]),
    Route(f"{_BASE}/{{evaluator_id:int}}/runs/", runs, methods=["GET", "POST"]),
]
