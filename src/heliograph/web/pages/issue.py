"""``/issues/{id}/``: one issue and one of its events.

Which event: the latest, or ``?event=<id>`` (one of this issue's, else 404).
Frame order: ``?order=newest|oldest``, remembered in a cookie. The status
buttons post to :mod:`heliograph.web.pages.status`.
"""

from __future__ import annotations

from starlette.responses import Response

from heliograph.api.ai_fix import policy_state
from heliograph.auth import can_write
from heliograph.bounds import parse_row_id
from heliograph.query.event_view import FRAME_ORDERS, FrameOrder
from heliograph.query.issue_page import TREND_DAYS, EventNotFound, build_issue_page
from heliograph.query.issue_work import describe, people
from heliograph.query.replays import replays_url
from heliograph.replay.recording import replay_id_of
from heliograph.runtime import Runtime
from heliograph.store.base import Issue, Project, StoredEvent
from heliograph.web.charts import bar_chart, day_labels, hour_labels
from heliograph.web.common import NotFound, PageRequest, current_path, page
from heliograph.web.pages.issues import issues_url

ORDER_COOKIE = "heliograph_frame_order"


def find_issue(ctx: PageRequest) -> tuple[Issue, Project, str]:
    """The issue in the URL, its project and the user's role; NotFound if not theirs."""
    issue_id = parse_row_id(ctx.request.path_params["issue_id"])
    issue = ctx.store.get_issue(issue_id) if issue_id is not None else None
    project = ctx.store.get_project_by_id(issue.project_id) if issue else None
    project, role = ctx.visible_project(project)
    assert issue is not None
    return issue, project, role


def _order(ctx: PageRequest) -> tuple[FrameOrder, bool]:
    """The frame order asked for in the URL (then remembered), else the remembered one."""
    asked = ctx.params.get("order")
    for order in FRAME_ORDERS:
        if asked == order:
            return order, True
    remembered = ctx.request.cookies.get(ORDER_COOKIE)
    return ("oldest" if remembered == "oldest" else "newest"), False


def ai_panel(ctx: PageRequest, project: Project, stored: StoredEvent | None) -> dict[str, object]:
    """What the "Suggest a fix" panel needs: is a model there, may it be used, is it worth it."""
    runtime: Runtime = ctx.request.app.state.runtime
    settings = runtime.fixes.settings
    event_id = stored.event_id if stored else None
    return {
        "configured": runtime.fixes.configured,
        # A message with no exception and no stack gives the model no code to
        # fix: the panel says so instead of offering a guess that costs a call.
        "useful": bool(stored and (stored.event.exceptions or stored.event.crash_frames)),
        "policy": policy_state(runtime, project),
        "provider": settings.provider or "",
        "model": settings.effective_model,
        "url": (
            f"/api/0/projects/{project.organization_slug}/{project.slug}/events/{event_id}/ai-fix/"
        ),
    }


@page
def issue_detail(ctx: PageRequest) -> Response:
    issue, project, role = find_issue(ctx)
    order, asked = _order(ctx)
    try:
        view = build_issue_page(
            ctx.store,
            issue,
            project,
            event_id=ctx.params.get("event"),
            order=order,
            sourcemaps=ctx.request.app.state.runtime.sourcemaps,
        )
    except EventNotFound:
        raise NotFound() from None
    event = view.stored.event if view.stored else None
    replay_id = replay_id_of(event.tags, event.contexts, event.session_id) if event else None
    hourly = bar_chart(view.hourly, hour_labels(view.end_hour, 24), width=240, height=40)
    daily = bar_chart(view.daily, day_labels(view.end_hour, TREND_DAYS), width=240, height=40)
    context = {
        "page": view,
        "hourly": hourly,
        "daily": daily,
        "can_write": can_write(ctx.principal, role),
        "issues_url": issues_url(project),
        "here": current_path(ctx.request),
        "page_title": f"{issue.title} · {project.name}",
        "ai": ai_panel(ctx, project, view.stored),
        # Replays this issue's errors happened in, and the shown event's own.
        "replays": ctx.store.issue_replays(issue.id, limit=5),
        "event_replay": ctx.store.get_replay(project.id, replay_id) if replay_id else None,
        "replays_base": replays_url(project),
        # Whether alerts about this issue are muted now, and until when (None: for good).
        "alerts_muted": ctx.store.issue_alerts_muted(issue.id),
    }
    names = people(ctx.store, project)
    assignee = ctx.store.issue_assignees([issue.id]).get(issue.id)
    context["assignee"] = assignee
    context["assignee_label"] = names.assignee_label(assignee)
    context["names"] = names
    context["activity"] = [
        (entry, names.user_label(entry.user_id), describe(entry, names))
        for entry in ctx.store.issue_activity(issue.id, limit=100)
    ]
    context["releases"] = ctx.store.issue_releases(issue.id, limit=20)
    response = ctx.render("issue.html", context, project=project)
    if asked:
        response.set_cookie(ORDER_COOKIE, order, max_age=365 * 86400, samesite="lax")
    return response
