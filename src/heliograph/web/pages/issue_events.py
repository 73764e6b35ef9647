"""``/issues/{id}/events/``: the issue's events in a table, with the issue search applied.

Each row links to the issue page showing that event (``?event=<id>``).
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.responses import Response

from heliograph.query.issue_events import build_issue_events
from heliograph.query.search_context import search_context
from heliograph.web.common import PageRequest, page
from heliograph.web.pages.issue import find_issue
from heliograph.web.pages.issues import issues_url


def events_url(issue_id: int, query: str = "", cursor: str | None = None) -> str:
    """This page's URL with the search ``query`` and from ``cursor`` (both optional)."""
    params = {k: v for k, v in (("query", query), ("cursor", cursor)) if v}
    return f"/issues/{issue_id}/events/" + ("?" + urlencode(params) if params else "")


@page
def issue_events(ctx: PageRequest) -> Response:
    issue, project, _role = find_issue(ctx)
    searching = search_context(ctx.store, ctx.store, project, ctx.principal.user.id)
    view = build_issue_events(ctx.store, issue, project, ctx.params, searching)
    context = {
        "view": view,
        "issues_url": issues_url(project),
        "newest_url": events_url(issue.id, view.query),
        "older_url": events_url(issue.id, view.query, view.next_cursor),
        "page_title": f"Events · {issue.title} · {project.name}",
    }
    status = 400 if view.error else 200
    return ctx.render("issue_events.html", context, project=project, status_code=status)
