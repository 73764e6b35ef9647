"""``/{org}/{project}/issues/``: the issue list with tabs, filters and search."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from starlette.responses import RedirectResponse, Response

from heliograph.auth import can_write
from heliograph.model import LEVELS
from heliograph.query.issue_list import (
    SORT_CHOICES,
    STATUS_TABS,
    TREND_HOURS,
    IssueList,
    build_issue_list,
    effective_params,
    without_status_tokens,
)
from heliograph.query.jump import find_jump
from heliograph.query.search_context import search_context
from heliograph.query.time_range import RANGES
from heliograph.store.base import Project
from heliograph.web.charts import bar_chart, hour_labels
from heliograph.web.common import PageRequest, current_path, page

SPARK_WIDTH = 96
SPARK_HEIGHT = 24
_KEPT = ("query", "status", "level", "environment", "release", "sort", "range", "start", "end")


def issues_url(project: Project) -> str:
    return f"/{project.organization_slug}/{project.slug}/issues/"


def _linker(listing: IssueList, params: dict[str, str]) -> Callable[..., str]:
    """``link(status="resolved")``: this page's URL with some parameters changed.

    The cursor is dropped unless given: a new filter starts at the first page.
    """
    base = {k: params[k] for k in _KEPT if params.get(k)}
    path = issues_url(listing.project)

    def link(**changes: str | None) -> str:
        merged = {**base, **changes}
        query = {k: v for k, v in merged.items() if v}
        return path + ("?" + urlencode(query) if query else "")

    return link


@page
def issue_list(ctx: PageRequest) -> Response:
    org, slug = ctx.request.path_params["org"], ctx.request.path_params["project"]
    project, role = ctx.visible_project(ctx.store.get_project(org, slug))
    jump = find_jump(ctx.store, project, ctx.params.get("query", ""))
    if jump is not None:  # a pasted short id or event id: open it
        return RedirectResponse(jump.url, status_code=303)
    searching = search_context(ctx.store, ctx.store, project, ctx.principal.user.id)
    listing = build_issue_list(ctx.store, project, ctx.params, searching)
    labels = hour_labels(listing.trend_end_hour, TREND_HOURS)
    charts = {
        row.issue.id: bar_chart(row.trend, labels, width=SPARK_WIDTH, height=SPARK_HEIGHT)
        for row in listing.rows
    }
    params = effective_params(ctx.params)
    params["status"] = listing.status_tab
    context = {
        "listing": listing,
        "charts": charts,
        "link": _linker(listing, params),
        "tab_query": without_status_tokens(listing.query),
        "tabs": STATUS_TABS,
        "levels": LEVELS,
        "sorts": SORT_CHOICES,
        "ranges": RANGES,
        "page_title": f"Issues · {project.name}",
        "can_write": can_write(ctx.principal, role),
        "here": current_path(ctx.request),
    }
    status = 400 if listing.error else 200
    return ctx.render("issues.html", context, project=project, status_code=status)
