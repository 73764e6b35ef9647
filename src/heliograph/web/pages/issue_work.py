"""``POST /issues/{id}/assign`` and ``/issues/{id}/comments``: the issue page's work forms.

Like the status buttons: the session's CSRF token (checked by
:func:`heliograph.web.common.page`), a role that may write, and back to the
page. A refused value (someone outside the organization, an empty comment)
is a 400 that says why.
"""

from __future__ import annotations

from starlette.responses import RedirectResponse, Response

from heliograph.auth import can_write
from heliograph.query.issue_work import WorkError, add_comment, resolve_assignee
from heliograph.web.common import BadRequest, Forbidden, PageRequest, page, safe_next
from heliograph.web.pages.issue import find_issue


@page
def issue_assign(ctx: PageRequest) -> Response:
    """``assignee``: ``user:<id>``, ``team:<id>`` or empty (unassign)."""
    issue, project, role = find_issue(ctx)
    if not can_write(ctx.principal, role):
        raise Forbidden("You have read-only access to this project.")
    try:
        user_id, team_id = resolve_assignee(ctx.store, project, ctx.form.get("assignee", ""))
    except WorkError as exc:
        raise BadRequest(str(exc)) from None
    ctx.store.assign_issue(
        issue.id, user_id=user_id, team_id=team_id, actor_id=ctx.principal.user.id
    )
    back = safe_next(ctx.form.get("next"), f"/issues/{issue.id}/")
    return RedirectResponse(back, status_code=303)


@page
def issue_comment(ctx: PageRequest) -> Response:
    """``text``: a plain-text comment."""
    issue, _project, role = find_issue(ctx)
    if not can_write(ctx.principal, role):
        raise Forbidden("You have read-only access to this project.")
    try:
        add_comment(ctx.store, issue, ctx.form.get("text", ""), actor_id=ctx.principal.user.id)
    except WorkError as exc:
        raise BadRequest(str(exc)) from None
    back = safe_next(ctx.form.get("next"), f"/issues/{issue.id}/")
    return RedirectResponse(back + "#activity", status_code=303)
