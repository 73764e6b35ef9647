"""Resolve, ignore and reopen: one issue from its page, or many from the list.

Both forms carry the session's CSRF token (checked in
:func:`heliograph.web.common.page` before any handler runs), need a role that
may write, and send the browser back where it came from (a same-site ``next``).
"""

from __future__ import annotations

from starlette.responses import RedirectResponse, Response

from heliograph.auth import can_write
from heliograph.bounds import parse_row_id
from heliograph.query.issue_work import change_status
from heliograph.web.common import BadRequest, Forbidden, PageRequest, page, safe_next
from heliograph.web.pages.issue import find_issue
from heliograph.web.pages.issues import issues_url

MAX_BULK = 100
# Form action -> (status, in_next_release).
ACTIONS = {
    "resolve": ("resolved", False),
    "resolve_in_next_release": ("resolved", True),
    "ignore": ("ignored", False),
    "reopen": ("unresolved", False),
}


def _action(ctx: PageRequest, role: str) -> tuple[str, bool]:
    if not can_write(ctx.principal, role):
        raise Forbidden("You have read-only access to this project.")
    action = ACTIONS.get(ctx.form.get("action", ""))
    if action is None:
        raise BadRequest(f"Unknown action; use one of: {', '.join(ACTIONS)}.")
    return action


@page
def issue_status(ctx: PageRequest) -> Response:
    """``POST /issues/{id}/status`` with ``action``: change one issue."""
    issue, _project, role = find_issue(ctx)
    status, in_next_release = _action(ctx, role)
    actor = ctx.principal.user.id
    change_status(
        ctx.store, ctx.store, issue, status, in_next_release=in_next_release, actor_id=actor
    )
    back = safe_next(ctx.form.get("next"), f"/issues/{issue.id}/")
    return RedirectResponse(back, status_code=303)


@page
def bulk_status(ctx: PageRequest) -> Response:
    """``POST /{org}/{project}/issues/status`` with ``action`` and ``issue`` ids.

    Ids of other projects' issues are skipped, never changed: the form names
    the project, and the user's role was checked for that project only.
    """
    org, slug = ctx.request.path_params["org"], ctx.request.path_params["project"]
    project, role = ctx.visible_project(ctx.store.get_project(org, slug))
    status, in_next_release = _action(ctx, role)
    parsed = (parse_row_id(raw) for raw in ctx.form.getlist("issue")[:MAX_BULK])
    ids = {issue_id for issue_id in parsed if issue_id is not None}
    for issue_id in sorted(ids):
        issue = ctx.store.get_issue(issue_id)
        if issue is not None and issue.project_id == project.id:
            change_status(
                ctx.store,
                ctx.store,
                issue,
                status,
                in_next_release=in_next_release,
                actor_id=ctx.principal.user.id,
            )
    return RedirectResponse(safe_next(ctx.form.get("next"), issues_url(project)), status_code=303)
