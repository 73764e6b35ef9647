"""``POST /issues/{id}/alerts``: mute alerts about one issue (for good, or for 24 hours), unmute.

The issue page's "Alerts" box posts here. As for the issue's status, it
needs the session's CSRF token (checked by :func:`heliograph.web.common.page`)
and a role that may change issues; the browser goes back to a same-site
``next``. A muted issue still collects events; no rule fires about it.
"""

from __future__ import annotations

import time

from starlette.responses import RedirectResponse, Response

from heliograph.auth import can_write
from heliograph.web.common import BadRequest, Forbidden, PageRequest, page, safe_next
from heliograph.web.pages.issue import find_issue

# Form action -> for how long (seconds; None: until unmuted).
MUTES: dict[str, int | None] = {"mute": None, "mute_24h": 86400}


@page
def issue_alerts(ctx: PageRequest) -> Response:
    issue, _project, role = find_issue(ctx)
    if not can_write(ctx.principal, role):
        raise Forbidden("You have read-only access to this project.")
    action = ctx.form.get("action", "")
    if action == "unmute":
        ctx.store.unmute_issue_alerts(issue.id)
    elif action in MUTES:
        seconds = MUTES[action]
        until = None if seconds is None else time.time() + seconds
        ctx.store.mute_issue_alerts(issue.id, until, user_id=ctx.principal.user.id)
    else:
        raise BadRequest(f"Unknown action; use one of: {', '.join([*MUTES, 'unmute'])}.")
    back = safe_next(ctx.form.get("next"), f"/issues/{issue.id}/")
    return RedirectResponse(back, status_code=303)
