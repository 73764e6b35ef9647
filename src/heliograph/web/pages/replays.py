"""``/{org}/{project}/replays/``: session replays, and one replay with its player.

The list shows the newest replays first (``?person=<distinct id>`` for one
person's, ``?errors=1`` for those with errors); a replay's page plays it
(``static/replay_player.js`` fetches ``events.json``), lists its timeline
(clicking a moment seeks the player there) and links its errors' issues, the
LLM traces of the same session and the person. Any role in the project may
look; replays are masked as stored (``docs/replay.md``).
"""

from __future__ import annotations

import orjson
from starlette.responses import Response
from starlette.routing import Route

from heliograph.query.replays import build_replay_page, replays_url
from heliograph.replay.recording import valid_id
from heliograph.store.base import Project
from heliograph.store.replay_records import ReplayFilter, ReplayRecord
from heliograph.web.common import BadRequest, NotFound, PageRequest, page
from heliograph.web.llm_format import install
from heliograph.web.security import replay_policy
from heliograph.web.templating import templates

install(templates.env)

PAGE_SIZE = 50


def _project(ctx: PageRequest) -> Project:
    return ctx.path_project()[0]


@page
def replay_list(ctx: PageRequest) -> Response:
    project = _project(ctx)
    person = ctx.params.get("person") or None
    errors = ctx.params.get("errors") == "1"
    try:
        rows, next_cursor = ctx.store.list_replays(
            ReplayFilter(
                project.id,
                distinct_id=person,
                min_seconds=project.replay_min_seconds,
                with_errors=errors,
            ),
            limit=PAGE_SIZE,
            cursor=ctx.params.get("cursor") or None,
        )
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    context = {
        "rows": rows,
        "person": person,
        "errors_only": errors,
        "next_cursor": next_cursor,
        "base_url": replays_url(project),
        "nav_active": "replays",
        "page_title": f"Replays · {project.name}",
    }
    return ctx.render("replays.html", context, project=project)


def _replay(ctx: PageRequest, project: Project) -> ReplayRecord:
    replay_id = valid_id(ctx.request.path_params["replay_id"])
    replay = ctx.store.get_replay(project.id, replay_id) if replay_id else None
    if replay is None:
        raise NotFound()
    return replay


@page
def replay_detail(ctx: PageRequest) -> Response:
    project = _project(ctx)
    view = build_replay_page(ctx.store, project, _replay(ctx, project))
    context = {
        "view": view,
        "base_url": replays_url(project),
        "nav_active": "replays",
        "page_title": f"Replay {view.replay.replay_id[:12]} · {project.name}",
    }
    response = ctx.render("replay.html", context, project=project)
    return replay_policy(response)


@page
def replay_events(ctx: PageRequest) -> Response:
    """The replay's rrweb events, in time order: what the player plays."""
    project = _project(ctx)
    replay = _replay(ctx, project)
    events = ctx.store.replay_events(project.id, replay.replay_id)
    return Response(
        orjson.dumps(events),
        media_type="application/json",
        headers={"Cache-Control": "private, no-store"},
    )


routes = [
    Route("/{org}/{project}/replays/", replay_list),
    Route("/{org}/{project}/replays/{replay_id}/", replay_detail),
    Route("/{org}/{project}/replays/{replay_id}/events.json", replay_events),
]
