"""Session replays over the API, in the shape of Sentry's replay endpoints.

* ``GET /api/0/organizations/{org}/replays/``: the replays of every project of
  the organization the caller may see (``?project=<id or slug>`` narrows it;
  ``?per_page=``, ``?cursor=``; ``?query=user.id:<id>`` or ``?user=`` for one
  person; ``?errors=1`` for replays with errors), newest first, as
  ``{"data": [...]}`` with a ``Link`` header for the next page;
* ``GET|DELETE /api/0/projects/{org}/{project}/replays/{replay_id}/``;
* ``GET .../replays/{replay_id}/recording-segments/``: the segments' metadata,
  or with ``?download`` every segment's rrweb events (an array per segment,
  as Sentry answers);
* ``GET .../recording-segments/{segment}/?download``: one segment's events.

Reading needs the ``read`` scope and any role in the project; deleting, the
``write`` scope and a role that may change the project's issues.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from heliograph.api import common
from heliograph.api.errors import ApiError
from heliograph.auth import project_role
from heliograph.query.replays import replay_json
from heliograph.query.serialize import iso
from heliograph.replay.recording import valid_id
from heliograph.store.base import Project
from heliograph.store.replay_records import ReplayFilter, ReplayRecord

__all__ = ["routes"]

MAX_PER_PAGE = 100


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status, headers, media_type="application/json")


def _per_page(request: Request) -> int:
    raw = request.query_params.get("per_page", "50")
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_PER_PAGE:
        raise ApiError(400, f"per_page must be a whole number from 1 to {MAX_PER_PAGE}")
    return int(raw)


def _person(request: Request) -> str | None:
    """``?user=<id>``, or Sentry's ``?query=user.id:<id>``."""
    user = request.query_params.get("user")
    query = request.query_params.get("query", "").strip()
    if not user and query:
        key, _, value = query.partition(":")
        if key not in ("user.id", "user") or not value:
            raise ApiError(400, "query supports user.id:<id> only")
        user = value.strip().strip('"')
    return user or None


def _visible_projects(request: Request) -> list[Project]:
    caller = common.principal(request)
    store = common.runtime(request).store
    organization = store.get_organization(request.path_params["organization_slug"])
    # One answer for "no such organization" and "none of its projects is yours".
    if organization is None:
        raise ApiError(404, "project not found")
    projects = [
        p
        for p in store.organization_projects(organization.id)
        if project_role(caller, p, store) is not None
    ]
    if not projects:
        raise ApiError(404, "project not found")
    wanted = request.query_params.getlist("project")
    if wanted and wanted != ["-1"]:
        projects = [p for p in projects if str(p.id) in wanted or p.slug in wanted]
    return projects


def organization_replays(request: Request) -> Response:
    projects = _visible_projects(request)
    store = common.runtime(request).store
    limit = _per_page(request)
    cursor = request.query_params.get("cursor") or None
    person = _person(request)
    with_errors = request.query_params.get("errors") in ("1", "true")
    found: list[ReplayRecord] = []
    try:
        for project in projects:
            page, _ = store.list_replays(
                ReplayFilter(project.id, distinct_id=person, with_errors=with_errors),
                limit=limit,
                cursor=cursor,
            )
            found += page
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    # The cursor is an order over every project: merging their pages keeps it.
    found.sort(key=lambda r: (r.started_at, r.replay_id), reverse=True)
    more = len(found) > limit
    found = found[:limit]
    headers = {}
    if more:
        last = found[-1]
        following = f"{last.started_at!r}:{last.replay_id}"
        url = request.url.include_query_params(cursor=following)
        headers["Link"] = f'<{url}>; rel="next"; results="true"; cursor="{following}"'
    return _json({"data": [replay_json(r) for r in found]}, headers=headers)


def _replay(request: Request) -> tuple[Project, str | None, ReplayRecord]:
    caller = common.principal(request)
    project, role = common.find_project(request, caller)
    raw = request.path_params["replay_id"]
    store = common.runtime(request).store
    replay_id = valid_id(raw)
    replay = store.get_replay(project.id, replay_id) if replay_id else None
    if replay is None and len(raw) == 36:  # a Sentry replay id written with dashes
        compact = valid_id(raw.replace("-", "").lower())
        replay = store.get_replay(project.id, compact) if compact else None
    if replay is None:
        raise ApiError(404, "replay not found")
    if request.method == "DELETE":
        common.check_write(request, caller, role)
    return project, role, replay


def replay_detail(request: Request) -> Response:
    project, _role, replay = _replay(request)
    store = common.runtime(request).store
    if request.method == "DELETE":
        store.delete_replay(project.id, replay.replay_id)
        return Response(status_code=204)
    error_ids = store.replay_error_ids(project.id, replay.replay_id)
    return _json({"data": replay_json(replay, error_ids=error_ids)})


def recording_segments(request: Request) -> Response:
    project, _role, replay = _replay(request)
    store = common.runtime(request).store
    segments = store.replay_segments(project.id, replay.replay_id)
    if "download" in request.query_params:
        return _json([store.replay_segment_events(segment) for segment in segments])
    return _json(
        {
            "data": [
                {
                    "replayId": replay.replay_id,
                    "segmentId": index,
                    "projectId": str(project.id),
                    "dateAdded": iso(segment.started_at),
                    "events": segment.events,
                    "bytes": segment.bytes,
                }
                for index, segment in enumerate(segments)
            ]
        }
    )


def recording_segment(request: Request) -> Response:
    project, _role, replay = _replay(request)
    store = common.runtime(request).store
    raw = request.path_params["segment_id"]
    segments = store.replay_segments(project.id, replay.replay_id)
    if not (raw.isascii() and raw.isdigit()) or int(raw) >= len(segments):
        raise ApiError(404, "segment not found")
    segment = segments[int(raw)]
    if "download" in request.query_params:
        return _json(store.replay_segment_events(segment))
    return _json(
        {
            "data": {
                "replayId": replay.replay_id,
                "segmentId": int(raw),
                "projectId": str(project.id),
                "dateAdded": iso(segment.started_at),
            }
        }
    )


_REPLAY = "/api/0/projects/{organization_slug}/{project_slug}/replays/{replay_id}"

routes = [
    Route("/api/0/organizations/{organization_slug}/replays/", organization_replays),
    Route(f"{_REPLAY}/", replay_detail, methods=["GET", "DELETE"]),
    Route(f"{_REPLAY}/recording-segments/", recording_segments),
    Route(f"{_REPLAY}/recording-segments/{{segment_id}}/", recording_segment),
]
