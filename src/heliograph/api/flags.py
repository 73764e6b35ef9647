"""Feature flags over the API, in PostHog's shapes, so its tools and scripts work.

``/api/projects/{project_id}/feature_flags/`` lists (a PostHog page:
``count``, ``next``, ``previous``, ``results``) and creates;
``/api/projects/{project_id}/feature_flags/{flag_id}/`` reads, changes
(``PATCH``; ``{"deleted": true}`` deletes, as PostHog's UI does) and deletes;
``.../activity/`` is the flag's audit log. Authorised like every API call
(``Authorization: Bearer <Heliograph API token>``): reading needs the
``read`` scope and any role in the project; changing, as for the project's
other settings, the ``admin`` scope and an owner or admin role. Checks are
:mod:`heliograph.flags.definition`'s; fields PostHog has and Heliograph does
not (tags, rollout by group types...) are ignored.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from heliograph.api import common
from heliograph.api.errors import ApiError
from heliograph.auth import project_role
from heliograph.bounds import parse_row_id
from heliograph.flags.definition import (
    FeatureFlag,
    FlagChange,
    FlagError,
    check_environments,
    check_filters,
    check_key,
)
from heliograph.query.serialize import iso
from heliograph.store.base import Project

__all__ = ["flag_json", "routes"]


def flag_json(flag: FeatureFlag) -> dict[str, Any]:
    groups = flag.filters.get("groups") or []
    simple = len(groups) == 1 and not groups[0].get("properties")
    return {
        "id": flag.id,
        "team_id": flag.project_id,
        "key": flag.key,
        "name": flag.name,
        "filters": flag.filters,
        "active": flag.active,
        "environments": flag.environments,
        "deleted": False,
        "version": flag.version,
        # PostHog's shortcut: one condition without properties is a plain rollout.
        "rollout_percentage": groups[0].get("rollout_percentage") if simple else None,
        "ensure_experience_continuity": False,
        "created_at": iso(flag.created_at),
        "updated_at": iso(flag.updated_at),
        "created_by": {"id": flag.created_by} if flag.created_by is not None else None,
    }


def _change_json(change: FlagChange) -> dict[str, Any]:
    return {
        "activity": change.action,
        "user": {"id": change.user_id} if change.user_id is not None else None,
        "created_at": iso(change.at),
        "before": change.before,
        "after": change.after,
    }


def _project(request: Request) -> tuple[Project, str | None, Any]:
    caller = common.principal(request)
    store = common.runtime(request).store
    project_id = parse_row_id(str(request.path_params["project_id"]))
    project = store.get_project_by_id(project_id) if project_id is not None else None
    role = project_role(caller, project, store) if project is not None else None
    if project is None or role is None:
        raise ApiError(404, "project not found")
    return project, role, caller


def _flag(request: Request, project: Project) -> FeatureFlag:
    flag_id = parse_row_id(str(request.path_params["flag_id"]))
    flag = common.runtime(request).store.get_flag(flag_id) if flag_id is not None else None
    if flag is None or flag.project_id != project.id:
        raise ApiError(404, "feature flag not found")
    return flag


def _fields(body: Any, *, creating: bool) -> dict[str, Any]:
    """The flag fields a request body sets, checked (a 400 saying what is wrong)."""
    if not isinstance(body, dict):
        raise ApiError(400, "expected a JSON object")
    fields: dict[str, Any] = {}
    try:
        if creating or "key" in body:
            fields["key"] = check_key(body.get("key"))
        if "name" in body or creating:
            name = body.get("name") or ""
            if not isinstance(name, str) or len(name) > 400:
                raise FlagError("name must be text of at most 400 characters")
            fields["name"] = name
        if "active" in body or creating:
            active = body.get("active", True)
            if not isinstance(active, bool):
                raise FlagError("active must be true or false")
            fields["active"] = active
        if "filters" in body or creating:
            fields["filters"] = check_filters(body.get("filters"))
        if "environments" in body or creating:
            fields["environments"] = check_environments(body.get("environments"))
    except FlagError as exc:
        raise ApiError(400, str(exc)) from None
    return fields


async def feature_flags(request: Request) -> Response:
    project, role, caller = _project(request)
    runtime = common.runtime(request)
    if request.method == "POST":
        common.check_admin(request, caller, role)
        fields = _fields(await common.json_body(request), creating=True)
        try:
            flag = runtime.store.create_flag(project.id, **fields, user_id=caller.user.id)
        except FlagError as exc:
            raise ApiError(400, str(exc)) from None
        runtime.flags.changed()
        return JSONResponse(flag_json(flag), status_code=201)
    flags = [flag_json(flag) for flag in runtime.store.list_flags(project.id)]
    return JSONResponse({"count": len(flags), "next": None, "previous": None, "results": flags})


async def feature_flag(request: Request) -> Response:
    project, role, caller = _project(request)
    runtime = common.runtime(request)
    flag = _flag(request, project)
    if request.method == "GET":
        return JSONResponse(flag_json(flag))
    common.check_admin(request, caller, role)
    body = None if request.method == "DELETE" else await common.json_body(request)
    if request.method == "DELETE" or (isinstance(body, dict) and body.get("deleted") is True):
        runtime.store.delete_flag(flag.id, user_id=caller.user.id)
        runtime.flags.changed()
        return Response(status_code=204)
    try:
        updated = runtime.store.update_flag(
            flag.id, _fields(body, creating=False), user_id=caller.user.id
        )
    except FlagError as exc:
        raise ApiError(400, str(exc)) from None
    if updated is None:
        raise ApiError(404, "feature flag not found")
    runtime.flags.changed()
    return JSONResponse(flag_json(updated))


async def feature_flag_activity(request: Request) -> Response:
    project, _role, _caller = _project(request)
    flag = _flag(request, project)
    changes = common.runtime(request).store.flag_changes(flag.id)
    return JSONResponse({"results": [_change_json(change) for change in changes]})


FLAGS = "/api/projects/{project_id}/feature_flags"

routes = [
    Route(f"{FLAGS}/", feature_flags, methods=["GET", "POST"]),
    Route(f"{FLAGS}/{{flag_id}}/", feature_flag, methods=["GET", "PATCH", "DELETE"]),
    Route(f"{FLAGS}/{{flag_id}}/activity/", feature_flag_activity, methods=["GET"]),
]
