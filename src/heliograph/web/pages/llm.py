"""The LLM analytics pages: ``/{org}/{project}/llm/...``.

Dashboard, generations (list and one), traces (list and tree), sessions.
Handlers stay thin: find the project (404 if it is not the user's), build
the read model from :mod:`heliograph.query.llm` /
:mod:`heliograph.query.llm_detail`, add chart geometry, render.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from starlette.responses import Response
from starlette.routing import Route

from heliograph.auth import can_write
from heliograph.query.llm import (
    LIST_RANGES,
    RANGES,
    UNITS,
    LlmDashboard,
    build_dashboard,
    build_generation_list,
    build_session_list,
    build_trace_list,
    time_window,
)
from heliograph.query.llm_detail import build_generation_page, build_trace_page
from heliograph.query.llm_filtered import DashboardFilters, build_filtered_dashboard
from heliograph.query.llm_people import (
    BREAKDOWN_CHOICES,
    USERS_SHOWN,
    build_breakdown,
    build_user_list,
)
from heliograph.query.llm_scores import GROUP_CHOICES, ScoresView, build_scores_view
from heliograph.store.base import Project
from heliograph.web.common import NotFound, PageRequest, current_path, page
from heliograph.web.llm_charts import (
    LineChart,
    StackedBars,
    line_chart,
    stacked_bars,
    timeline_ticks,
)
from heliograph.web.llm_format import install, percent, seconds, usd
from heliograph.web.llm_links import llm_url, trace_url
from heliograph.web.templating import compact, templates

__all__ = ["routes"]

install(templates.env)


@dataclass(frozen=True, slots=True)
class LlmUrls:
    """Links between the LLM pages of one project, for the templates.

    ``scope``: what the tabs carry from page to page (the time range), so that
    moving between the dashboard, lists and users keeps the range chosen.
    """

    project: Project
    scope: Mapping[str, str] = field(default_factory=dict)

    def page(self, path: str = "", query: Mapping[str, str] | None = None, **more: str) -> str:
        return llm_url(self.project, path, {**(query or {}), **more})

    def generation(self, event_id: str) -> str:
        return llm_url(self.project, f"generations/{event_id}/")

    def trace(self, trace_id: str) -> str:
        return trace_url(self.project, trace_id)

    def issue(self, issue_id: int) -> str:
        return f"/issues/{issue_id}/"


def _project(ctx: PageRequest) -> Project:
    return ctx.path_project()[0]


def _render(
    ctx: PageRequest, template: str, project: Project, tab: str, title: str, **context: object
) -> Response:
    chosen = ctx.params.get("range")
    scope = {"range": chosen} if chosen in LIST_RANGES else {}
    full = {
        "project": project,
        "urls": LlmUrls(project, scope),
        "llm_tab": tab,
        "nav_active": "llm",
        "page_title": f"{title} · {project.name}",
        **context,
    }
    return ctx.render(template, full, project=project)


def dashboard_charts(view: LlmDashboard) -> dict[str, StackedBars | LineChart]:
    """The five dashboard charts, one value per time slot."""
    labels = [p.label for p in view.series]
    stats = [p.stats for p in view.series]
    return {
        "cost": stacked_bars(
            labels,
            [("bar-cost", "Cost", [s.cost_usd or 0.0 for s in stats])],
            usd,
            extra=[f"{s.unpriced:,} unpriced (cost unknown)" if s.unpriced else "" for s in stats],
        ),
        "tokens": stacked_bars(
            labels,
            [
                ("bar-input", "Input", [float(s.input_tokens) for s in stats]),
                ("bar-output", "Output", [float(s.output_tokens) for s in stats]),
            ],
            lambda v: compact(round(v)),
        ),
        "requests": stacked_bars(
            labels,
            [
                ("bar-ok", "Succeeded", [float(s.requests - s.errors) for s in stats]),
                ("bar-error", "Errors", [float(s.errors) for s in stats]),
            ],
            lambda v: compact(round(v)),
        ),
        "latency": line_chart(
            labels,
            [
                ("line-p50", "p50", [s.p50 for s in stats]),
                ("line-p95", "p95", [s.p95 for s in stats]),
            ],
            seconds,
        ),
        "error_rate": line_chart(
            labels, [("line-error", "Error rate", [s.error_rate for s in stats])], percent
        ),
    }


def score_chart(view: LlmDashboard, scores: ScoresView) -> LineChart:
    """The most frequent score names' means per slot, one line each."""
    return line_chart(
        [p.label for p in view.series],
        [(f"line-score-{n}", s.name, s.means) for n, s in enumerate(scores.series)],
        lambda v: f"{v:.3g}",
    )


@page
def llm_dashboard(ctx: PageRequest) -> Response:
    """Cost, tokens, requests, latency and errors over time, by model, top traces."""
    project = _project(ctx)
    filters = DashboardFilters.from_params(ctx.params)
    filtered = None
    if filters:
        window = time_window(ctx.params.get("range"), ctx.params.get("bucket"), time.time())
        filtered = build_filtered_dashboard(ctx.store, project, window, filters)
        view = filtered.view
    else:
        view = build_dashboard(ctx.store, project, ctx.params)
    pairs = ctx.store.llm_models(project.id, view.window.first_hour)
    window = view.window
    scores = build_scores_view(
        ctx.store,
        project,
        window.since,
        window.until,
        unit=window.unit,
        slots=window.slots,
        params=ctx.params,
    )
    return _render(
        ctx,
        "llm_dashboard.html",
        project,
        "dashboard",
        "LLM analytics",
        view=view,
        charts=dashboard_charts(view),
        ranges=list(RANGES),
        units=UNITS[view.window.range_key],
        breakdown=build_breakdown(ctx.store, project, view.window, ctx.params),
        breakdown_choices=BREAKDOWN_CHOICES,
        scores=scores,
        score_groups=GROUP_CHOICES,
        score_chart=score_chart(view, scores),
        filters=filters,
        filtered=filtered,
        filter_models=sorted({m for m, _ in pairs if m}),
    )


@page
def llm_users(ctx: PageRequest) -> Response:
    """Spend per user (distinct id) over the range, the costliest first."""
    project = _project(ctx)
    listing = build_user_list(ctx.store, project, ctx.params)
    urls = LlmUrls(project)
    return _render(
        ctx,
        "llm_users.html",
        project,
        "users",
        "Users",
        listing=listing,
        ranges=list(RANGES),
        limit=USERS_SHOWN,
        user_link=lambda user: urls.page("traces/", user=user, range=listing.window.range_key),
    )


@page
def llm_generations(ctx: PageRequest) -> Response:
    project = _project(ctx)
    listing = build_generation_list(ctx.store, project, ctx.params)
    return _render(
        ctx,
        "llm_generations.html",
        project,
        "generations",
        "Generations",
        listing=listing,
        ranges=LIST_RANGES,
    )


def _annotate(
    ctx: PageRequest, project: Project, trace_id: str | None, observation_id: str | None
) -> dict[str, object] | None:
    """The annotation form's fields for members and up (None for read-only access), and
    the organization's members by id, to name the authors of annotations."""
    _, role = ctx.visible_project(project)
    if not can_write(ctx.principal, role):
        return None
    members = ctx.store.organization_members(project.organization_id)
    return {
        "action": llm_url(project, "scores/"),
        "delete_action": llm_url(project, "scores/delete"),
        "csrf_token": ctx.principal.csrf_token or "",
        "next": current_path(ctx.request),
        "trace_id": trace_id,
        "observation_id": observation_id,
        "user_id": ctx.principal.user.id,
        "authors": {m.user.id: m.user.email for m in members},
    }


@page
def llm_generation(ctx: PageRequest) -> Response:
    project = _project(ctx)
    view = build_generation_page(ctx.store, project, ctx.request.path_params["event_id"])
    if view is None:
        raise NotFound()
    title = view.record.model or view.record.span_name or view.record.name
    annotate = (
        _annotate(ctx, project, view.record.trace_id, view.record.span_id)
        if view.record.span_id
        else None
    )
    return _render(
        ctx, "llm_generation.html", project, "generations", title, view=view, annotate=annotate
    )


@page
def llm_traces(ctx: PageRequest) -> Response:
    project = _project(ctx)
    listing = build_trace_list(ctx.store, project, ctx.params)
    return _render(
        ctx, "llm_traces.html", project, "traces", "Traces", listing=listing, ranges=LIST_RANGES
    )


@page
def llm_trace(ctx: PageRequest) -> Response:
    project = _project(ctx)
    trace_id = ctx.request.path_params["trace_id"].removesuffix("/")
    selected = ctx.params.get("span") or None
    view = build_trace_page(ctx.store, project, trace_id, selected) if trace_id else None
    if view is None:
        raise NotFound()
    return _render(
        ctx,
        "llm_trace.html",
        project,
        "traces",
        f"Trace {view.tree.root.label}",
        view=view,
        ticks=timeline_ticks(view.tree.duration),
        annotate=_annotate(ctx, project, view.trace.trace_id, None),
    )


@page
def llm_sessions(ctx: PageRequest) -> Response:
    project = _project(ctx)
    listing = build_session_list(ctx.store, project, ctx.params)
    return _render(
        ctx, "llm_sessions.html", project, "sessions", "Sessions", listing=listing, ranges=RANGES
    )


routes = [
    Route("/{org}/{project}/llm/", llm_dashboard),
    Route("/{org}/{project}/llm/generations/", llm_generations),
    Route("/{org}/{project}/llm/generations/{event_id}/", llm_generation),
    Route("/{org}/{project}/llm/traces/", llm_traces),
    Route("/{org}/{project}/llm/traces/{trace_id:path}", llm_trace),
    Route("/{org}/{project}/llm/sessions/", llm_sessions),
    Route("/{org}/{project}/llm/users/", llm_users),
]
