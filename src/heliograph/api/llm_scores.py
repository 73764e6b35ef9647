"""Scores over the API: ``/api/0/projects/{org}/{project}/llm/scores/`` and ``score-summary/``.

* ``GET scores/``: a project's scores, newest first, filtered by ``trace``,
  ``observation``, ``session``, ``name``, ``source``, ``dataType`` and a time
  range (``since``/``until`` or ``range``); a Sentry ``Link`` header pages;
* ``POST scores/``: create (or, same ``id``, replace) a score, in Langfuse's
  body shape (:mod:`heliograph.protocols.langfuse_scores`), plus ``source``:
  ``api`` (the default) or ``evaluator``. Stored at once (not queued, unlike
  ``POST /api/public/scores``), so the answer is the score as stored, with
  the context of the generation it names;
* ``GET`` / ``DELETE scores/{id}/``: one score;
* ``GET score-summary/``: per score name over a range, count, mean, range and
  labels, grouped by ``groupBy`` (``model``, ``prompt``, ``flag`` with
  ``flag=<key>``, ``source``), and each name's count and mean per ``bucket``
  (``hour`` or ``day``).

Reading needs the ``read`` scope and a role in the project; writing, the
``write`` scope and a member's role (a cookie session also its CSRF header).
Scores written here carry the caller as their author.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from heliograph.api import common
from heliograph.api.errors import ApiError
from heliograph.api.llm_params import check_filters, text, time_bounds
from heliograph.protocols.errors import BadRequest
from heliograph.protocols.langfuse_scores import parse_score
from heliograph.query.dates import iso
from heliograph.query.llm_json import score_json
from heliograph.store.base import Project, TimeUnit
from heliograph.store.score_records import (
    DATA_TYPES,
    GROUP_BYS,
    SOURCES,
    Score,
    ScoreFilter,
    ScoreGroupBy,
    ScoreQuery,
)

__all__ = ["routes"]

_LIST_FILTERS = frozenset({"since", "until", "range", "trace", "session"})
# The longest range a summary reads (one GROUP BY over the range's scores).
MAX_SUMMARY_DAYS = 400
_API_SOURCES = ("api", "evaluator")


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status, headers, media_type="application/json")


def _choice(value: str | None, choices: tuple[str, ...], name: str) -> str | None:
    if value is None:
        return None
    lowered = value.lower()
    if lowered not in choices:
        raise ApiError(400, f"{name} must be one of {', '.join(choices)}")
    return lowered


def _list(request: Request, project: Project) -> Response:
    params = request.query_params
    check_filters(params, _LIST_FILTERS, "scores")
    bounds = time_bounds(params, time.time())
    filters = ScoreFilter(
        project.id,
        trace_id=text(params, "trace"),
        observation_id=text(params, "observation"),
        session_id=text(params, "session"),
        name=text(params, "name"),
        source=_choice(text(params, "source"), SOURCES, "source"),
        data_type=_choice(text(params, "dataType"), DATA_TYPES, "dataType"),
        since=bounds.since,
        until=bounds.until,
    )
    try:
        found, cursor = common.runtime(request).store.list_scores(
            filters,
            limit=common.page_limit(request),
            cursor=request.query_params.get("cursor") or None,
        )
    except ValueError as exc:  # a malformed cursor
        raise ApiError(400, str(exc)) from None
    return _json(
        [score_json(score) for score in found],
        headers={"Link": common.link_header(request, cursor)},
    )


def _checked(body: Any, project: Project, author: int) -> Score:
    try:
        score = parse_score(body, project.id, time.time())
    except BadRequest as exc:
        raise ApiError(400, exc.detail) from None
    source = body.get("source", "api")
    if source not in _API_SOURCES:
        raise ApiError(400, f"source must be one of {', '.join(_API_SOURCES)}")
    return Score(**{**{k: getattr(score, k) for k in Score.__slots__}, "source": source,
                    "author_id": author})  # fmt: skip


async def scores(request: Request) -> Response:
    caller = common.principal(request)
    project, role = common.find_project(request, caller)
    if request.method == "GET":
        return _list(request, project)
    common.check_write(request, caller, role)
    body = await common.json_body(request)
    [saved] = common.runtime(request).store.save_scores([_checked(body, project, caller.user.id)])
    return _json(score_json(saved), 201)


async def score(request: Request) -> Response:
    caller = common.principal(request)
    project, role = common.find_project(request, caller)
    store = common.runtime(request).store
    score_id = request.path_params["score_id"]
    found = store.get_score(project.id, score_id) if len(score_id) <= 200 else None
    if found is None:
        raise ApiError(404, "score not found")
    if request.method == "GET":
        return _json(score_json(found))
    common.check_write(request, caller, role)
    store.delete_score(project.id, found.id)
    return Response(status_code=204)


def summary(request: Request) -> Response:
    """Per name (and group) over a range, and per name and hour or day."""
    caller = common.principal(request)
    project, _role = common.find_project(request, caller)
    params = request.query_params
    check_filters(params, {"since", "until", "range"}, "a score summary")
    now = time.time()
    bounds = time_bounds(params, now, default_range="7d")
    since = bounds.since if bounds.since is not None else now - 7 * 86400.0
    until = bounds.until if bounds.until is not None else now + 1.0
    if until - since > MAX_SUMMARY_DAYS * 86400.0:
        raise ApiError(400, f"a score summary covers at most {MAX_SUMMARY_DAYS} days")
    group = _choice(text(params, "groupBy"), GROUP_BYS, "groupBy")
    flag = text(params, "flag")
    if group == "flag" and flag is None:
        raise ApiError(400, "groupBy=flag needs flag=<the flag's key>")
    bucket = _choice(text(params, "bucket"), ("hour", "day"), "bucket") or (
        "hour" if until - since <= 2 * 86400.0 else "day"
    )
    unit: TimeUnit = "hour" if bucket == "hour" else "day"
    group_by: ScoreGroupBy | None = next((g for g in GROUP_BYS if g == group), None)
    query = ScoreQuery(project.id, since, until, name=text(params, "name"), group_by=group_by,
                       flag=flag)  # fmt: skip
    store = common.runtime(request).store
    seconds = 3600.0 if unit == "hour" else 86400.0
    return _json(
        {
            "since": iso(since),
            "until": iso(until),
            "groupBy": group,
            "flag": flag if group == "flag" else None,
            "bucket": unit,
            "scores": [
                {
                    "name": s.name,
                    "dataType": s.data_type.upper(),
                    "group": s.group.label if group else None,
                    "count": s.count,
                    "numbers": s.numbers,
                    "mean": s.mean,
                    "min": s.low,
                    "max": s.high,
                    "categories": s.categories,
                }
                for s in store.score_summary(query)
            ],
            "series": [
                {"name": b.name, "start": iso(b.bucket * seconds), "count": b.count, "mean": b.mean}
                for b in store.score_series(
                    ScoreQuery(project.id, since, until, name=query.name), unit
                )
            ],
        }
    )


_LLM = "/api/0/projects/{organization_slug}/{project_slug}/llm"

routes = [
    Route(f"{_LLM}/scores/", scores, methods=["GET", "POST"]),
    # Score ids are the sender's own strings: "/" included.
    Route(f"{_LLM}/scores/{{score_id:path}}/", score, methods=["GET", "DELETE"]),
    Route(f"{_LLM}/score-summary/", summary),
]
