"""Organizations and project creation and deletion over the API, in Sentry's shapes.

``GET/POST /api/0/organizations/`` (creating one needs a superuser and the
``admin`` scope), ``GET/PUT /api/0/organizations/{org}/`` (name and AI
policy: owners and admins), ``GET/POST /api/0/organizations/{org}/projects/``
(a project in no team, shared with the organization) and Sentry's
``POST /api/0/teams/{org}/{team}/projects/`` (a project in that team).
Deleting a project is ``DELETE /api/0/projects/{org}/{project}/``
(:mod:`heliograph.api.project_admin`). An organization the caller is not a
member of answers 404, like one that does not exist.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from heliograph.api import common
from heliograph.api.errors import ApiError
from heliograph.api.project_admin import key_json, project_detail_json
from heliograph.auth import Principal, can_create_organization
from heliograph.onboarding import (
    OnboardingError,
    check_ai_policy,
    create_organization,
    create_project,
)
from heliograph.query.serialize import project_json
from heliograph.store.base import Organization


def organization_json(org: Organization, role: str | None = None) -> dict[str, Any]:
    return {
        "id": str(org.id),
        "slug": org.slug,
        "name": org.name,
        "aiPolicy": org.ai_policy,
        "role": role,
    }


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, "expected a JSON object")
    return body


def _text(body: dict[str, Any], field: str) -> str | None:
    value = body.get(field)
    if value is not None and not isinstance(value, str):
        raise ApiError(400, f"{field} must be a string")
    return value


def _find_org(request: Request, caller: Principal) -> tuple[Organization, str]:
    store = common.runtime(request).store
    org = store.get_organization(request.path_params["organization_slug"])
    role = store.role_in(caller.user, org.id) if org else None
    if org is None or role is None:
        raise ApiError(404, "organization not found")
    return org, role


async def organizations(request: Request) -> Response:
    caller = common.principal(request)
    store = common.runtime(request).store
    if request.method == "POST":
        # The rule the UI's New organization page applies too.
        if not can_create_organization(caller):
            if not caller.user.is_superuser:
                raise ApiError(403, "only superusers can create organizations")
            raise ApiError(403, "this token lacks the admin scope")
        common.check_admin(request, caller, "owner")  # a cookie session's CSRF token
        body = _object(await common.json_body(request))
        try:
            org = create_organization(
                store, _text(body, "slug"), _text(body, "name"), owner=caller.user
            )
        except OnboardingError as exc:
            raise ApiError(400, str(exc)) from None
        return JSONResponse(organization_json(org, "owner"), status_code=201)
    found = store.organizations(caller.user.id)
    return JSONResponse([organization_json(o, store.role_in(caller.user, o.id)) for o in found])


async def organization_detail(request: Request) -> Response:
    caller = common.principal(request)
    org, role = _find_org(request, caller)
    store = common.runtime(request).store
    if request.method == "PUT":
        common.check_admin(request, caller, role)
        body = _object(await common.json_body(request))
        changes: dict[str, object] = {}
        try:
            if "name" in body:
                name = (_text(body, "name") or "").strip()
                if not 1 <= len(name) <= 100:
                    raise OnboardingError("the name must have 1 to 100 characters")
                changes["name"] = name
            if "aiPolicy" in body:
                changes["ai_policy"] = check_ai_policy(body["aiPolicy"])
        except OnboardingError as exc:
            raise ApiError(400, str(exc)) from None
        store.update_organization(org.id, **changes)
        org = store.get_organization_by_id(org.id) or org
    return JSONResponse(organization_json(org, role))


async def _create_project(request: Request, org: Organization, team_slug: str | None) -> Response:
    runtime = common.runtime(request)
    team = None
    if team_slug is not None:
        team = next((t for t in runtime.store.teams(org.id) if t.slug == team_slug), None)
        if team is None:
            raise ApiError(404, "team not found")
    body = _object(await common.json_body(request))
    try:
        created = create_project(
            runtime.store,
            org,
            _text(body, "slug"),
            _text(body, "name"),
            _text(body, "platform"),
            team=team,
        )
    except OnboardingError as exc:
        raise ApiError(400, str(exc)) from None
    runtime.keys.changed()
    detail = project_detail_json(created.project, runtime.settings.project_rate_limit)
    detail["keys"] = [key_json(created.key, runtime.settings.base_url)]
    return JSONResponse(detail, status_code=201)


async def organization_projects(request: Request) -> Response:
    caller = common.principal(request)
    org, role = _find_org(request, caller)
    if request.method == "POST":
        common.check_admin(request, caller, role)
        return await _create_project(request, org, None)
    store = common.runtime(request).store
    visible = store.visible_project_ids(caller.user.id)
    projects = [p for p in store.organization_projects(org.id) if p.id in visible]
    return JSONResponse([project_json(p) for p in projects])


async def team_projects(request: Request) -> Response:
    caller = common.principal(request)
    org, role = _find_org(request, caller)
    common.check_admin(request, caller, role)
    return await _create_project(request, org, request.path_params["team_slug"])


ORG = "/api/0/organizations/{organization_slug}"

routes = [
    Route("/api/0/organizations/", organizations, methods=["GET", "POST"]),
    Route(f"{ORG}/", organization_detail, methods=["GET", "PUT"]),
    Route(f"{ORG}/projects/", organization_projects, methods=["GET", "POST"]),
    Route(
        "/api/0/teams/{organization_slug}/{team_slug}/projects/", team_projects, methods=["POST"]
    ),
]
