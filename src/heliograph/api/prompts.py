"""Prompt management over the API: list, read, create versions, move labels, compare.

Under ``/api/0/projects/{org}/{project}/prompts/``, authorised like every
API call (``Authorization: Bearer <Heliograph API token>``): reading needs
the ``read`` scope and any role in the project; creating a version or moving
a label, like changing an issue, the ``write`` scope and a member role or
above (prompts are the team's working material, not project settings).
Shapes are :mod:`heliograph.api.prompt_json`'s. SDKs fetch prompts through
``api/prompt_fetch.py`` instead.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from heliograph.api import common
from heliograph.api.errors import ApiError
from heliograph.api.prompt_json import new_version_fields, prompt_json, summary_json
from heliograph.llm_vocabulary import AI_PROMPT_NAME, AI_PROMPT_VERSION
from heliograph.prompts.comparison import compare_versions
from heliograph.prompts.definition import LATEST, PromptError, PromptVersion, check_label
from heliograph.store.base import Project
from heliograph.store.contract import Store

__all__ = ["find_version", "routes"]

MAX_DAYS = 90


def _version_param(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or not 0 < int(raw) < 2**31:
        raise ApiError(400, "version must be a positive integer")
    return int(raw)


def find_version(
    store: Store, project: Project, name: str, params: Any, default_label: str
) -> PromptVersion:
    """The version ``?version=`` or ``?label=`` asks for (else ``default_label``); 404 if none."""
    version = _version_param(params.get("version"))
    label = params.get("label") or None
    if version is not None and label is not None:
        raise ApiError(400, "ask for a version or a label, not both")
    if version is None and label is None:
        label = default_label
    if label is not None and label != LATEST:
        try:
            check_label(label)
        except PromptError as exc:
            raise ApiError(400, str(exc)) from None
    found = store.get_prompt_version(project.id, name, version=version, label=label)
    if found is None:
        what = f"version {version}" if version is not None else f"label {label!r}"
        raise ApiError(404, f"prompt {name!r} has no {what}")
    return found


async def prompts(request: Request) -> Response:
    caller = common.principal(request)
    project, role = common.find_project(request, caller)
    store = common.runtime(request).store
    if request.method == "POST":
        common.check_write(request, caller, role)
        fields = new_version_fields(await common.json_body(request))
        created = store.create_prompt_version(project.id, **fields, user_id=caller.user.id)
        return JSONResponse(prompt_json(created), status_code=201)
    found = [summary_json(summary) for summary in store.list_prompts(project.id)]
    return JSONResponse({"results": found})


def prompt(request: Request) -> Response:
    caller = common.principal(request)
    project, _role = common.find_project(request, caller)
    store = common.runtime(request).store
    name = request.path_params["name"]
    found = find_version(store, project, name, request.query_params, LATEST)
    return JSONResponse(prompt_json(found))


async def prompt_versions(request: Request) -> Response:
    caller = common.principal(request)
    project, role = common.find_project(request, caller)
    store = common.runtime(request).store
    name = request.path_params["name"]
    if request.method == "POST":
        common.check_write(request, caller, role)
        fields = new_version_fields(await common.json_body(request), name)
        created = store.create_prompt_version(project.id, **fields, user_id=caller.user.id)
        return JSONResponse(prompt_json(created), status_code=201)
    versions = store.prompt_versions(project.id, name)
    if not versions:
        raise ApiError(404, f"no prompt named {name!r}")
    return JSONResponse({"results": [prompt_json(version) for version in versions]})


def _labels(body: Any) -> list[str]:
    labels = body.get("newLabels", body.get("labels")) if isinstance(body, dict) else None
    if not isinstance(labels, list) or not labels:
        raise ApiError(400, "send the labels to point at this version: {'newLabels': [...]}")
    try:
        return [check_label(label) for label in labels]
    except PromptError as exc:
        raise ApiError(400, str(exc)) from None


async def prompt_version(request: Request) -> Response:
    """GET one version; PATCH ``{"newLabels": [...]}`` points those labels at it."""
    caller = common.principal(request)
    project, role = common.find_project(request, caller)
    store = common.runtime(request).store
    name = request.path_params["name"]
    if request.method == "PATCH":
        common.check_write(request, caller, role)  # before any check of the request
    version = _version_param(str(request.path_params["version"]))
    if request.method == "PATCH":
        for label in _labels(await common.json_body(request)):
            if not store.set_prompt_label(project.id, name, label, version, user_id=caller.user.id):
                raise ApiError(404, f"prompt {name!r} has no version {version}")
    found = store.get_prompt_version(project.id, name, version=version)
    if found is None:
        raise ApiError(404, f"prompt {name!r} has no version {version}")
    return JSONResponse(prompt_json(found))


def prompt_label(request: Request) -> Response:
    """DELETE a label: the prompt has it on no version any more."""
    caller = common.principal(request)
    project, role = common.find_project(request, caller)
    common.check_write(request, caller, role)
    store = common.runtime(request).store
    name, label = request.path_params["name"], request.path_params["label"]
    try:
        removed = store.set_prompt_label(project.id, name, label, None, user_id=caller.user.id)
    except PromptError as exc:
        raise ApiError(400, str(exc)) from None
    if not removed:
        raise ApiError(404, f"no prompt named {name!r}")
    return Response(status_code=204)


def prompt_comparison(request: Request) -> Response:
    """Per-version calls, cost, latency and error rate of the last ``?days=`` (7) days."""
    caller = common.principal(request)
    project, _role = common.find_project(request, caller)
    raw = request.query_params.get("days", "7")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_DAYS:
        raise ApiError(400, f"days must be between 1 and {MAX_DAYS}")
    until = time.time()
    name = request.path_params["name"]
    found = compare_versions(
        common.runtime(request).store, project.id, name, until - int(raw) * 86400, until
    )
    rows = [
        {
            "version": each.version,
            "calls": each.figures.calls,
            "errors": each.figures.errors,
            "errorRate": each.figures.error_rate,
            "costUsd": each.figures.cost_usd,
            "unpricedCalls": each.figures.unpriced,
            "inputTokens": each.figures.input_tokens,
            "outputTokens": each.figures.output_tokens,
            "meanLatency": each.figures.mean_latency,
            "scores": each.scores,
        }
        for each in found.versions
    ]
    return JSONResponse(
        {
            "name": name,
            "linkedBy": [AI_PROMPT_NAME, AI_PROMPT_VERSION],
            "complete": found.complete,
            "results": rows,
        }
    )


PROMPTS = "/api/0/projects/{organization_slug}/{project_slug}/prompts"

routes = [
    Route(f"{PROMPTS}/", prompts, methods=["GET", "POST"]),
    Route(f"{PROMPTS}/{{name}}/", prompt, methods=["GET"]),
    Route(f"{PROMPTS}/{{name}}/versions/", prompt_versions, methods=["GET", "POST"]),
    Route(f"{PROMPTS}/{{name}}/versions/{{version}}/", prompt_version, methods=["GET", "PATCH"]),
    Route(f"{PROMPTS}/{{name}}/labels/{{label}}/", prompt_label, methods=["DELETE"]),
    Route(f"{PROMPTS}/{{name}}/comparison/", prompt_comparison, methods=["GET"]),
]
