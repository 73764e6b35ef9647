"""The JSON API, shaped like Sentry's public web API (``/api/0/...``).

Handlers are thin: authenticate, find the project the caller may see, call
the store and the serializers in ``query/``. Every error is JSON
``{"detail": reason}`` with the right status; pagination is by opaque cursor
in a Sentry-style ``Link`` header.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from heliograph import __version__
from heliograph.api import common
from heliograph.api.ai_fix import ai_fix
from heliograph.api.alerts import routes as alert_routes
from heliograph.api.dataset_fetch import routes as dataset_fetch_routes
from heliograph.api.datasets import routes as dataset_routes
from heliograph.api.errors import ApiError
from heliograph.api.evaluators import routes as evaluator_routes
from heliograph.api.flags import routes as flag_routes
from heliograph.api.llm import routes as llm_routes
from heliograph.api.llm_scores import routes as score_routes
from heliograph.api.openapi import openapi_schema
from heliograph.api.organizations import routes as organization_routes
from heliograph.api.project_admin import routes as admin_routes
from heliograph.api.prompt_fetch import routes as prompt_fetch_routes
from heliograph.api.prompts import routes as prompt_routes
from heliograph.api.release_files import routes as release_file_routes
from heliograph.api.replays import routes as replay_routes
from heliograph.api.sourcemaps import routes as sourcemap_routes
from heliograph.auth import authenticate
from heliograph.query.event_scan import find_issue_events
from heliograph.query.event_search import parse_event_search
from heliograph.query.issue_list import short_id_number
from heliograph.query.issue_work import (
    WorkError,
    activity_json,
    add_comment,
    assignee_json,
    change_status,
    people,
    resolve_assignee,
)
from heliograph.query.jump import find_jump
from heliograph.query.search import SearchError, parse_issue_search
from heliograph.query.search_context import search_context
from heliograph.query.serialize import event_json, issue_json, project_json, tags_json
from heliograph.query.time_range import parse_time_range, within
from heliograph.store.base import ISSUE_STATUSES, Issue, Project
from heliograph.store.contract import Store

# Issues a list counts at most (its X-Hits header); counting all could cost a scan.
MAX_HITS = 1000
TREND_HOURS = 24


def _json(data: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(data, status_code=status_code, headers=headers)


# -- endpoints ---------------------------------------------------------------


def api_root(request: Request) -> Response:
    """``GET /api/0/``: who is asking, as Sentry's API root says it, and which Heliograph this is.

    ``sentry-cli info`` (and ``sentry-cli login``, checking a token) reads
    ``auth.scopes`` and ``user``; both are null without a valid token, as on
    Sentry. ``heliograph.version`` is ours.
    """
    caller = authenticate(request, common.runtime(request).store)
    return _json(
        {
            "version": "0",
            "auth": None if caller is None else {"scopes": sorted(caller.scopes)},
            "user": None
            if caller is None
            else {
                "id": str(caller.user.id),
                "email": caller.user.email,
                "username": caller.user.email,
                "name": caller.user.email,
            },
            "heliograph": {"version": __version__},
        }
    )


def list_projects(request: Request) -> Response:
    principal = common.principal(request)
    projects = common.runtime(request).store.list_projects(principal.user.id)
    return _json([project_json(p) for p in projects])


def _issues_json(request: Request, issues: list[Issue], project: Project) -> list[dict[str, Any]]:
    runtime = common.runtime(request)
    ids = [i.id for i in issues]
    trends = runtime.store.issue_trend(ids, hours=TREND_HOURS)
    assignees = runtime.store.issue_assignees(ids)
    comments = runtime.store.count_activity(ids, "note")
    names = people(runtime.store, project) if assignees else None
    end_hour = int(time.time() // 3600)
    found = []
    for issue in issues:
        data = issue_json(
            issue,
            project,
            base_url=runtime.settings.base_url,
            trend=trends.get(issue.id),
            trend_end_hour=end_hour,
        )
        if names is not None:
            data["assignedTo"] = assignee_json(assignees.get(issue.id), names)
        data["numComments"] = comments.get(issue.id, 0)
        found.append(data)
    return found


def project_issues(request: Request) -> Response:
    principal = common.principal(request)
    project, _role = common.find_project(request, principal)
    store = common.runtime(request).store
    number = short_id_number(project, request.query_params.get("query", ""))
    if number is not None:  # ?query=PROJ-12: that issue, as the issue list finds it
        found = store.issue_by_number(project.id, number)
        return _json(_issues_json(request, [found] if found else [], project))
    jump = find_jump(store, project, request.query_params.get("query", ""))
    if jump is not None:  # an event id (or short id) pasted as the query: that issue
        found_json = _issues_json(request, [jump.issue], project)
        return _json(found_json, headers={"X-Sentry-Direct-Hit": "1"})
    try:
        searching = search_context(store, store, project, principal.user.id)
        filters = within(
            parse_issue_search(project.id, request.query_params, searching),
            parse_time_range(request.query_params, time.time()),
        )
        issues, next_cursor = store.list_issues(
            filters, limit=common.page_limit(request), cursor=request.query_params.get("cursor")
        )
        hits = store.count_issues(filters, cap=MAX_HITS)
    except SearchError as exc:
        raise ApiError(400, str(exc)) from None
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    return _json(
        _issues_json(request, issues, project),
        headers={
            "Link": common.link_header(request, next_cursor),
            # Sentry's total: X-Hits counts up to X-Max-Hits, past which there are more.
            "X-Hits": str(min(hits, MAX_HITS)),
            "X-Max-Hits": str(MAX_HITS),
        },
    )


def _status_change(body: Any) -> tuple[str, bool]:
    if not isinstance(body, dict):
        raise ApiError(400, 'expected a JSON object such as {"status": "resolved"}')
    status = body.get("status")
    details = body.get("statusDetails") or {}
    if status == "resolvedInNextRelease":
        return "resolved", True
    if status not in ISSUE_STATUSES:
        raise ApiError(400, f"status must be one of {', '.join(ISSUE_STATUSES)}")
    in_next = isinstance(details, dict) and bool(details.get("inNextRelease"))
    return str(status), in_next and status == "resolved"


def _apply_changes(store: Store, issue: Issue, project: Project, body: Any, actor: int) -> Issue:
    """A PUT's ``status`` and ``assignedTo`` (Sentry's), both checked before either is made."""
    if not isinstance(body, dict) or not ({"status", "assignedTo"} & body.keys()):
        raise ApiError(400, 'expected a JSON object such as {"status": "resolved"}')
    assignee = None
    if "assignedTo" in body:
        try:
            assignee = resolve_assignee(store, project, body["assignedTo"])
        except WorkError as exc:
            raise ApiError(400, str(exc)) from None
    if "status" in body:
        status, in_next_release = _status_change(body)
        issue = change_status(
            store, store, issue, status, in_next_release=in_next_release, actor_id=actor
        )
    if assignee is not None:
        store.assign_issue(issue.id, user_id=assignee[0], team_id=assignee[1], actor_id=actor)
    return issue


async def issue_detail(request: Request) -> Response:
    principal = common.principal(request)
    issue, project, role = common.find_issue(request, principal)
    runtime = common.runtime(request)
    if request.method == "PUT":
        common.check_write(request, principal, role)
        body = await common.json_body(request)
        issue = _apply_changes(runtime.store, issue, project, body, principal.user.id)
    data = _issues_json(request, [issue], project)[0]
    data["tags"] = tags_json(runtime.store.issue_tags(issue.id))
    return _json(data)


async def issue_comments(request: Request) -> Response:
    """``GET``: the issue's comments, newest first; ``POST {"text": ...}``: add one."""
    principal = common.principal(request)
    issue, project, role = common.find_issue(request, principal)
    store = common.runtime(request).store
    names = people(store, project)
    if request.method == "POST":
        common.check_write(request, principal, role)
        body = await common.json_body(request)
        text = body.get("text") if isinstance(body, dict) else None
        try:
            entry = add_comment(store, issue, text, actor_id=principal.user.id)
        except WorkError as exc:
            raise ApiError(400, str(exc)) from None
        return _json(activity_json(entry, names), status_code=201)
    entries = store.issue_activity(issue.id, kinds=("note",), limit=100)
    return _json([activity_json(entry, names) for entry in entries])


def issue_activities(request: Request) -> Response:
    """The issue's activity log, newest first, as Sentry answers it (``{"activity": [...]}``)."""
    principal = common.principal(request)
    issue, project, _role = common.find_issue(request, principal)
    store = common.runtime(request).store
    names = people(store, project)
    entries = store.issue_activity(issue.id, limit=100)
    return _json({"activity": [activity_json(entry, names) for entry in entries]})


def issue_events(request: Request) -> Response:
    """The issue's events, newest first; ``query=`` searches them as the issue page's
    events tab does (a page may come back short, even empty, with a next cursor: the
    search looks at a bounded number of events per request)."""
    principal = common.principal(request)
    issue, project, _role = common.find_issue(request, principal)
    store = common.runtime(request).store
    limit = common.page_limit(request)
    try:
        searching = search_context(store, store, project, principal.user.id)
        search = parse_event_search(project.id, request.query_params.get("query", ""), searching)
        page = find_issue_events(
            store, issue.id, search, limit=limit, cursor=request.query_params.get("cursor")
        )
    except ValueError as exc:  # a SearchError, or a malformed cursor
        raise ApiError(400, str(exc)) from None
    full = request.query_params.get("full", "").lower() in ("1", "true", "yes")
    payload = [event_json(e, title=issue.title) for e in page.events]
    if not full:
        for item in payload:
            item.pop("entries", None)
    return _json(payload, headers={"Link": common.link_header(request, page.next_cursor)})


def latest_event(request: Request) -> Response:
    principal = common.principal(request)
    issue, *_ = common.find_issue(request, principal)
    runtime = common.runtime(request)
    stored = runtime.store.latest_event(issue.id)
    if stored is None:
        raise ApiError(404, "this issue has no stored events")
    runtime.sourcemaps.resolve(stored.event)  # maps uploaded after the event came
    return _json(event_json(stored, title=issue.title))


def project_event(request: Request) -> Response:
    principal = common.principal(request)
    project, _role = common.find_project(request, principal)
    runtime = common.runtime(request)
    stored = runtime.store.get_event(project.id, request.path_params["event_id"])
    if stored is None:
        raise ApiError(404, "event not found")
    runtime.sourcemaps.resolve(stored.event)  # maps uploaded after the event came
    return _json(event_json(stored))


async def project_event_ai_fix(request: Request) -> Response:
    principal = common.principal(request)
    project, _role = common.find_project(request, principal)
    return await ai_fix(request, common.runtime(request), project)


def openapi(request: Request) -> Response:
    return _json(openapi_schema(common.runtime(request).settings.base_url))


PROJECT = "/api/0/projects/{organization_slug}/{project_slug}"

routes = [
    Route("/api/openapi.json", openapi),
    Route("/api/0/", api_root),
    Route("/api/0/projects/", list_projects),
    Route(f"{PROJECT}/issues/", project_issues, methods=["GET"]),
    Route(f"{PROJECT}/events/{{event_id}}/", project_event),
    Route(f"{PROJECT}/events/{{event_id}}/ai-fix/", project_event_ai_fix),
    Route("/api/0/issues/{issue_id}/", issue_detail, methods=["GET", "PUT"]),
    Route(
        "/api/0/organizations/{organization_slug}/issues/{issue_id}/",
        issue_detail,
        methods=["GET", "PUT"],
    ),
    Route("/api/0/issues/{issue_id}/events/", issue_events),
    Route("/api/0/issues/{issue_id}/events/latest/", latest_event),
    Route("/api/0/issues/{issue_id}/comments/", issue_comments, methods=["GET", "POST"]),
    Route("/api/0/issues/{issue_id}/activities/", issue_activities),
    *admin_routes,
    *organization_routes,
    *flag_routes,
    *prompt_routes,
    *prompt_fetch_routes,
    *replay_routes,
    *llm_routes,
    *score_routes,
    *dataset_routes,
    *dataset_fetch_routes,
    *evaluator_routes,
    *alert_routes,
    *sourcemap_routes,
    *release_file_routes,
]
