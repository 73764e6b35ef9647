"""What every API handler does first: who is asking, which project, may they.

The order never changes: authenticate (401), find the project or issue and
the caller's role in it (404 when it is missing *or* invisible to them, so
ids reveal nothing), then check the role and the token's scope for the
action (403): ``read`` for every GET, ``write`` for changing issues,
``admin`` for settings and keys. A cookie session's writes also need its
CSRF token in ``X-CSRF-Token``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson
from starlette.requests import Request

from heliograph.api.errors import ApiError
from heliograph.auth import Principal, authenticate, can_admin, can_read, can_write, project_role
from heliograph.bounds import parse_row_id
from heliograph.runtime import Runtime
from heliograph.store.base import Issue, Project

READ_METHODS = frozenset({"GET", "HEAD"})
# What a URL keeps as is when percent-encoded for a header (its delimiters, and "%").
_URL_SAFE = ":/?#[]@!$&'()*+,;=%"
DEFAULT_LIMIT = 25
MAX_LIMIT = 100


def runtime(request: Request) -> Runtime:
    found: Runtime = request.app.state.runtime
    return found


def principal(request: Request) -> Principal:
    """The caller; GETs also need the ``read`` scope."""
    found = authenticate(request, runtime(request).store)
    if found is None:
        raise ApiError(401, "authentication required: send 'Authorization: Bearer <token>'")
    if request.method in READ_METHODS and not can_read(found):
        raise ApiError(403, "this token lacks the read scope")
    return found


def _check_csrf(request: Request, caller: Principal) -> None:
    # A cookie session: a cross-site form could ride on it, so demand the token.
    if caller.csrf_token is not None and request.headers.get("x-csrf-token") != caller.csrf_token:
        raise ApiError(403, "missing or wrong X-CSRF-Token header")


def check_write(request: Request, caller: Principal, role: str | None) -> None:
    if not can_write(caller, role):
        if "write" not in caller.scopes:
            raise ApiError(403, "this token lacks the write scope")
        raise ApiError(403, "you have read-only access to this project")
    _check_csrf(request, caller)


def check_admin(request: Request, caller: Principal, role: str | None) -> None:
    if not can_admin(caller, role):
        if "admin" not in caller.scopes:
            raise ApiError(403, "this token lacks the admin scope")
        raise ApiError(403, "only the organization's owners and admins can do this")
    _check_csrf(request, caller)


def find_project(request: Request, caller: Principal) -> tuple[Project, str | None]:
    store = runtime(request).store
    project = store.get_project(
        request.path_params["organization_slug"], request.path_params["project_slug"]
    )
    role = project_role(caller, project, store) if project else None
    if project is None or role is None:
        raise ApiError(404, "project not found")
    return project, role


def find_issue(request: Request, caller: Principal) -> tuple[Issue, Project, str | None]:
    store = runtime(request).store
    issue_id = parse_row_id(request.path_params["issue_id"])
    issue = store.get_issue(issue_id) if issue_id is not None else None
    project = store.get_project_by_id(issue.project_id) if issue else None
    role = project_role(caller, project, store) if project else None
    org_slug = request.path_params.get("organization_slug")
    if org_slug is not None and project is not None and project.organization_slug != org_slug:
        project = None  # the organization alias must name the issue's own organization
    if issue is None or project is None or role is None:
        raise ApiError(404, "issue not found")
    return issue, project, role


async def json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ApiError(400, "the request body must be JSON") from None


def page_limit(request: Request) -> int:
    """How many rows a list answers (``?limit=`` or Sentry's ``?per_page=``), 1 to 100."""
    raw = request.query_params.get("limit") or request.query_params.get("per_page")
    if raw is None:
        return DEFAULT_LIMIT
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"limit must be an integer, got {raw[:50]!r}") from None
    if not 1 <= value <= MAX_LIMIT:
        raise ApiError(400, f"limit must be between 1 and {MAX_LIMIT}")
    return value


def link_header(request: Request, next_cursor: str | None) -> str:
    """Sentry's ``Link`` header: the previous and next pages, and whether there are
    results there (clients such as sentry-cli follow ``next`` while it has some)."""

    def url(cursor: str) -> str:
        # Percent-encoded: a path may name a release in any script, a header is Latin-1.
        return quote(str(request.url.include_query_params(cursor=cursor)), safe=_URL_SAFE)

    current = request.query_params.get("cursor", "")
    previous = f'<{url("")}>; rel="previous"; results="{"true" if current else "false"}"; cursor=""'
    if next_cursor:
        following = f'<{url(next_cursor)}>; rel="next"; results="true"; cursor="{next_cursor}"'
    else:
        echoed = quote(current, safe=":")  # as sent: any digits float() reads, any script
        following = f'<{url(current)}>; rel="next"; results="false"; cursor="{echoed}"'
    return f"{previous}, {following}"
