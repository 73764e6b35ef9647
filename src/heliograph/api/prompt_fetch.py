"""Prompts for SDKs, at Langfuse's paths: heliograph-sdk and Langfuse's SDKs fetch here.

``GET /api/public/v2/prompts/{name}?label=&version=`` answers one version
(``production`` when neither is asked, as Langfuse does; ``latest`` is the
newest); ``POST /api/public/v2/prompts`` creates a version and ``PATCH
/api/public/v2/prompts/{name}/versions/{version}`` (``{"newLabels": [...]}``)
moves labels, so that Langfuse's ``create_prompt``/``update_prompt`` work.

Authentication is Langfuse's: ``Authorization: Basic base64(<public key>:<secret
key>)``, where the public key is the project key (which names the project)
and the secret key is a Heliograph API token allowed to read that project
(to write: the ``write`` scope and a member role). A project key alone is not
enough: it is published in every page a browser SDK runs on, and prompts are
often what a team would rather keep to itself. This is the rule the flag
definitions endpoint keeps too (``docs/flags.md``).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from heliograph.api import common
from heliograph.api.errors import ApiError
from heliograph.api.prompt_json import new_version_fields, prompt_json
from heliograph.api.prompts import find_version
from heliograph.auth import Principal, can_read, can_write, project_role
from heliograph.prompts.definition import PRODUCTION, PromptError, check_label
from heliograph.store.base import Project

__all__ = ["routes", "sdk_caller"]

_CREDENTIALS = (
    "send 'Authorization: Basic base64(<project key>:<Heliograph API token>)' "
    "(Langfuse's public and secret key)"
)


def _credentials(request: Request) -> tuple[str, str]:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise ApiError(401, _CREDENTIALS)
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError(401, _CREDENTIALS) from None
    public, _, secret = decoded.partition(":")
    if not public.strip() or not secret.strip():
        raise ApiError(401, _CREDENTIALS)
    return public.strip(), secret.strip()


def sdk_caller(request: Request, *, write: bool = False) -> tuple[Project, Principal]:
    """The project the key names and the token's principal, allowed to read (or write) it.

    Every SDK endpoint authenticates so: the prompt fetches, and the datasets'
    (``api/dataset_fetch.py``)."""
    public, secret = _credentials(request)
    runtime = common.runtime(request)
    found = runtime.store.user_for_api_token(secret)
    if found is None:
        raise ApiError(401, "unknown or revoked API token (the secret key): " + _CREDENTIALS)
    caller = Principal(found[0], found[1], None)
    project_id = runtime.keys.project_for(public)
    project = runtime.store.get_project_by_id(project_id) if project_id is not None else None
    role = project_role(caller, project, runtime.store) if project is not None else None
    if project is None or role is None:
        raise ApiError(404, "no project with this project key that the API token may read")
    if not can_read(caller):
        raise ApiError(403, "this token lacks the read scope")
    if write and not can_write(caller, role):
        raise ApiError(403, "writing needs the write scope and a member role")
    return project, caller


def get_prompt(request: Request) -> Response:
    project, _ = sdk_caller(request)
    store = common.runtime(request).store
    name = request.path_params["name"]
    found = find_version(store, project, name, request.query_params, PRODUCTION)
    return JSONResponse(prompt_json(found), headers={"Cache-Control": "no-store"})


async def create_prompt(request: Request) -> Response:
    project, caller = sdk_caller(request, write=True)
    fields = new_version_fields(await common.json_body(request))
    store = common.runtime(request).store
    created = store.create_prompt_version(project.id, **fields, user_id=caller.user.id)
    return JSONResponse(prompt_json(created), status_code=201)


def _new_labels(body: Any) -> list[str]:
    labels = body.get("newLabels") if isinstance(body, dict) else None
    if not isinstance(labels, list):
        raise ApiError(400, "send {'newLabels': [...]}")
    try:
        return [check_label(label) for label in labels]
    except PromptError as exc:
        raise ApiError(400, str(exc)) from None


async def update_version(request: Request) -> Response:
    project, caller = sdk_caller(request, write=True)
    store = common.runtime(request).store
    name = request.path_params["name"]
    raw = str(request.path_params["version"])
    version = int(raw) if raw.isdigit() and 0 < int(raw) < 2**31 else None
    if version is None:
        raise ApiError(404, f"prompt {name!r} has no version {raw[:20]!r}")
    for label in _new_labels(await common.json_body(request)):
        if not store.set_prompt_label(project.id, name, label, version, user_id=caller.user.id):
            raise ApiError(404, f"prompt {name!r} has no version {version}")
    found = store.get_prompt_version(project.id, name, version=version)
    if found is None:
        raise ApiError(404, f"prompt {name!r} has no version {version}")
    return JSONResponse(prompt_json(found))


PUBLIC = "/api/public/v2/prompts"

routes = [
    Route(PUBLIC, create_prompt, methods=["POST"]),
    Route(f"{PUBLIC}/{{name}}", get_prompt, methods=["GET"]),
    Route(f"{PUBLIC}/{{name}}/versions/{{version}}", update_version, methods=["PATCH"]),
]
