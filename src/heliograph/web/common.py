"""What every page shares: templates, who is asking, CSRF checks, safe redirects.

Pages are plain functions ``(PageRequest) -> Response`` wrapped by
:func:`page`, which does the parts no page may forget: log-in (a redirect to
``/login?next=...``), the CSRF token on every state-changing request, and
turning :class:`NotFound` into the same 404 whether a thing is missing or
merely invisible to this user (no existence leak). Handlers run in the
thread pool because the store's calls block.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from heliograph.auth import (
    Principal,
    authenticate,
    can_create_organization,
    can_read,
    project_role,
)
from heliograph.store.base import Project
from heliograph.web.templating import templates

if TYPE_CHECKING:
    from heliograph.runtime import Runtime
    from heliograph.store.contract import Store

CSRF_FIELD = "csrf_token"


class NotFound(Exception):
    """Nothing to show: missing, or not visible to this user (same answer)."""


class BadRequest(Exception):
    """The request makes no sense (an unknown form action); the message says why."""


class Forbidden(Exception):
    """The user may see this but not do that (e.g. a viewer resolving an issue)."""


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def safe_next(value: str | None, default: str = "/") -> str:
    """``value`` if it is a path on this site, else ``default``.

    Refuses anything a browser could read as another origin: absolute and
    scheme-relative URLs (``//evil``), backslashes (``/\\evil`` is
    ``//evil`` to some browsers) and control characters.
    """
    if not value or not value.startswith("/") or value.startswith("//"):
        return default
    if "\\" in value or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


def current_path(request: Request) -> str:
    """Path and query of this request: where forms send the browser back to."""
    if request.url.query:
        return f"{request.url.path}?{request.url.query}"
    return request.url.path


def login_redirect(request: Request) -> Response:
    target = quote(current_path(request), safe="/")
    return RedirectResponse(f"/login?next={target}", status_code=303)


@dataclass(frozen=True, slots=True)
class PageRequest:
    """One authenticated page request, with the form already read for POSTs."""

    request: Request
    principal: Principal
    store: Store
    form: ImmutableMultiDict[str, str]  # empty for GET; repeated fields via getlist()

    @property
    def params(self) -> Mapping[str, str]:
        return self.request.query_params

    def visible_project(self, project: Project | None) -> tuple[Project, str]:
        """The project and the user's role in it; NotFound when it is not theirs."""
        role = project_role(self.principal, project, self.store) if project else None
        if project is None or role is None:
            raise NotFound()
        return project, role

    def path_project(self) -> tuple[Project, str]:
        """The project named by the URL's ``{org}/{project}``, and the user's role in it."""
        params = self.request.path_params
        return self.visible_project(self.store.get_project(params["org"], params["project"]))

    def render(
        self,
        template: str,
        context: dict[str, Any],
        *,
        project: Project | None = None,
        status_code: int = 200,
    ) -> Response:
        return render(
            self.request,
            template,
            context,
            principal=self.principal,
            store=self.store,
            project=project,
            status_code=status_code,
        )


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    principal: Principal | None = None,
    store: Store | None = None,
    project: Project | None = None,
    status_code: int = 200,
) -> Response:
    """A template with the layout's context: user, CSRF token, project switcher, and the
    organizations of the account menu (one with no project yet is reachable only there)."""
    projects = store.list_projects(principal.user.id) if principal and store else []
    organizations = store.organizations(principal.user.id) if principal and store else []
    full = {
        "user": principal.user if principal else None,
        "csrf_token": principal.csrf_token if principal else None,
        "projects": projects,
        "current_project": project,
        "organizations": organizations,
        "can_create_organization": bool(principal and can_create_organization(principal)),
        **context,
    }
    return templates.TemplateResponse(request, template, full, status_code=status_code)


Handler = Callable[[PageRequest], Response]


def page(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a page handler with log-in, CSRF and not-found handling."""

    async def endpoint(request: Request) -> Response:
        store = runtime_of(request).store
        principal = await run_in_threadpool(authenticate, request, store)
        if principal is None:
            return login_redirect(request)
        if not can_read(principal):
            message = "This API token lacks the read scope."
            return await run_in_threadpool(_error_page, request, principal, store, 403, message)
        form: ImmutableMultiDict[str, str] = ImmutableMultiDict()
        if request.method not in ("GET", "HEAD"):
            data = await request.form()
            form = ImmutableMultiDict([(k, v) for k, v in data.multi_items() if isinstance(v, str)])
            if not _csrf_ok(principal, form.get(CSRF_FIELD)):
                message = "Invalid or missing CSRF token: reload the page and try again."
                return await run_in_threadpool(_error_page, request, principal, store, 403, message)
        context = PageRequest(request, principal, store, form)
        return await run_in_threadpool(_run, handler, context)

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


def _run(handler: Handler, context: PageRequest) -> Response:
    try:
        return handler(context)
    except NotFound:
        status, message = 404, "It does not exist, or you do not have access to it."
    except Forbidden as exc:
        status, message = 403, str(exc) or "Not allowed."
    except BadRequest as exc:
        status, message = 400, str(exc) or "Bad request."
    return _error_page(context.request, context.principal, context.store, status, message)


def _csrf_ok(principal: Principal, sent: str | None) -> bool:
    # Bearer-token callers carry no cookie a cross-site form could ride on.
    if principal.csrf_token is None:
        return True
    return bool(sent) and secrets.compare_digest(str(sent), principal.csrf_token)


def _error_page(
    request: Request, principal: Principal, store: Store, status: int, message: str
) -> Response:
    return render(
        request,
        "error.html",
        {"status": status, "message": message},
        principal=principal,
        store=store,
        status_code=status,
    )
