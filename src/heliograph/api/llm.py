"""LLM analytics over the API: ``/api/0/projects/{org}/{project}/llm/...``.

* ``generations/`` and ``generations/{event_id}/``: the calls, newest first,
  and one with every property as stored (payloads included);
* ``traces/`` and ``traces/{trace_id}/``: traces by start, and one with its
  tree and the error events recorded in it;
* ``sessions/`` and ``sessions/{session_id}/``: traces grouped by session;
* ``users/``: spend per distinct id over a range, the costliest first, and
  ``users/{distinct_id}/``: one distinct id's usage since a time;
* ``breakdown/``: calls grouped by a column (``by``) or any property (``prop``);
* ``dashboard/``: the dashboard page's figures for a range;
* ``export/`` (:mod:`heliograph.api.llm_export`): JSONL or CSV of a range.

The same read models as the pages, serialized by
:mod:`heliograph.query.llm_json`; lists answer a JSON array with Sentry's
``Link`` header for the next page (keyset cursors, so a deep page costs what
the first does). Reading needs the ``read`` scope and any role in the
project, as every project endpoint does; parameters are read strictly
(:mod:`heliograph.api.llm_params`).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from heliograph.api import common
from heliograph.api.errors import ApiError
from heliograph.api.llm_export import llm_export
from heliograph.api.llm_params import (
    SESSION_FILTERS,
    check_filters,
    generation_filter,
    text,
    time_bounds,
    trace_filter,
    whole_number,
)
from heliograph.query.llm import RANGES, UNITS, build_dashboard
from heliograph.query.llm_detail import build_generation_page, build_trace_page
from heliograph.query.llm_json import (
    dashboard_json,
    generation_detail_json,
    generation_json,
    session_json,
    trace_detail_json,
    trace_json,
    user_usage_json,
)
from heliograph.store.base import Project
from heliograph.store.llm_breakdown import COLUMN_DIMENSIONS, LlmBreakdown, LlmBreakdownQuery
from heliograph.store.llm_records import LlmEventFilter, SessionRecord, TraceFilter, TraceRecord

__all__ = ["routes"]

# A session's detail sums its most recent traces, at most this many (``truncated`` says so).
MAX_SESSION_TRACES = 1000
DEFAULT_SESSION_RANGE = "7d"
DEFAULT_USER_RANGE = "30d"
# Groups a users list or a breakdown answers at most, the costliest first.
MAX_GROUPS = 500
# What narrows the calls grouped.
GROUP_FILTERS = frozenset(
    {"since", "until", "range", "model", "provider", "environment", "release"}
)


def _json(data: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), 200, headers, media_type="application/json")


def _project(request: Request) -> Project:
    """The project named in the path, if the caller may read it (404 otherwise)."""
    project, _role = common.find_project(request, common.principal(request))
    return project


def _cursor(request: Request) -> str | None:
    return request.query_params.get("cursor") or None


def generations(request: Request) -> Response:
    """Generations and embeddings, newest first."""
    project = _project(request)
    store = common.runtime(request).store
    filters = generation_filter(project.id, request.query_params, time.time())
    try:
        rows, next_cursor = store.llm_events(
            filters, limit=common.page_limit(request), cursor=_cursor(request)
        )
    except ValueError as exc:  # a malformed cursor
        raise ApiError(400, str(exc)) from None
    return _json(
        [generation_json(row) for row in rows],
        {"Link": common.link_header(request, next_cursor)},
    )


def _event_id(raw: str) -> str | None:
    """An event id as stored (32 lower-case hex digits), written with or without dashes."""
    compact = raw.replace("-", "").lower()
    if len(compact) != 32 or not all(c in "0123456789abcdef" for c in compact):
        return None
    return compact


def generation(request: Request) -> Response:
    """One LLM event (any ``$ai_*`` kind) with its properties as stored."""
    project = _project(request)
    event_id = _event_id(request.path_params["event_id"])
    page = (
        build_generation_page(common.runtime(request).store, project, event_id)
        if event_id
        else None
    )
    if page is None:
        raise ApiError(404, "generation not found")
    return _json(generation_detail_json(page))


def traces(request: Request) -> Response:
    """Traces, most recently started first."""
    project = _project(request)
    store = common.runtime(request).store
    filters = trace_filter(project.id, request.query_params, time.time())
    try:
        rows, next_cursor = store.llm_traces(
            filters, limit=common.page_limit(request), cursor=_cursor(request)
        )
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    return _json(
        [trace_json(row) for row in rows], {"Link": common.link_header(request, next_cursor)}
    )


def trace(request: Request) -> Response:
    """One trace: its rollup, its tree (nodes with parent and children) and linked errors."""
    project = _project(request)
    trace_id = request.path_params["trace_id"]
    page = build_trace_page(common.runtime(request).store, project, trace_id) if trace_id else None
    if page is None:
        raise ApiError(404, "trace not found")
    return _json(trace_detail_json(page))


def sessions(request: Request) -> Response:
    """Sessions with a trace started in the range (default: 7 days), most recently active
    first."""
    project = _project(request)
    params = request.query_params
    check_filters(params, SESSION_FILTERS, "sessions")
    bounds = time_bounds(params, time.time(), default_range=DEFAULT_SESSION_RANGE)
    store = common.runtime(request).store
    try:
        rows, next_cursor = store.llm_sessions(
            project.id,
            since=bounds.since or 0.0,
            limit=common.page_limit(request),
            cursor=_cursor(request),
        )
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    return _json(
        [session_json(row) for row in rows], {"Link": common.link_header(request, next_cursor)}
    )


def _session_from(session_id: str, found: list[TraceRecord]) -> SessionRecord:
    """A session's sums over its traces, as the session list sums them."""
    return SessionRecord(
        session_id=session_id,
        traces=len(found),
        generations=sum(t.generations for t in found),
        errors=sum(t.errors for t in found),
        input_tokens=sum(t.input_tokens for t in found),
        output_tokens=sum(t.output_tokens for t in found),
        cost_usd=sum(t.cost_usd for t in found),
        unpriced=sum(t.unpriced for t in found),
        started_at=min(t.started_at for t in found),
        ended_at=max(t.ended_at for t in found),
        distinct_id=max((t.distinct_id for t in found if t.distinct_id), default=None),
    )


def session(request: Request) -> Response:
    """One session: its sums and its traces, most recent first.

    Summed over its most recent ``MAX_SESSION_TRACES`` traces (a session is
    a conversation: tens of traces, rarely more); past that ``truncated`` is
    true and ``traces/?session=`` pages through them all.
    """
    project = _project(request)
    session_id = request.path_params["session_id"]
    store = common.runtime(request).store
    found: list[TraceRecord] = []
    more = None
    if session_id:
        found, more = store.llm_traces(
            TraceFilter(project.id, session_id=session_id), limit=MAX_SESSION_TRACES
        )
    if not found:
        raise ApiError(404, "session not found")
    return _json(
        {
            **session_json(_session_from(session_id, found)),
            "truncated": more is not None,
            "traceList": [trace_json(t) for t in found],
        }
    )


def user(request: Request) -> Response:
    """One distinct id's generations and embeddings since a time (default: 30 days)."""
    project = _project(request)
    params = request.query_params
    check_filters(params, SESSION_FILTERS, "a user's usage")
    now = time.time()
    since = time_bounds(params, now, default_range=DEFAULT_USER_RANGE).since or 0.0
    distinct_id = request.path_params["distinct_id"]
    store = common.runtime(request).store
    if not distinct_id:
        raise ApiError(404, "user not found")
    usage = store.person_llm_usage(project.id, [distinct_id], since)
    if not usage.requests:
        # None in the range: zeros for an id that made calls before it, 404 for one
        # the project never saw (one probe of the by-user index).
        seen, _ = store.llm_events(LlmEventFilter(project.id, distinct_id=distinct_id), limit=1)
        if not seen:
            raise ApiError(404, "user not found")
    return _json(user_usage_json(distinct_id, since, usage))


def _breakdown_json(result: LlmBreakdown, key: str) -> list[dict[str, Any]]:
    return [
        {
            key: row.value,
            "calls": row.calls,
            "errors": row.errors,
            "inputTokens": row.input_tokens,
            "outputTokens": row.output_tokens,
            # None, never 0, when no call of the group had a known price.
            "costUsd": row.cost_usd if row.priced else None,
            "unpriced": row.unpriced,
            "meanLatency": row.mean_latency,
        }
        for row in result.rows
    ]


def _grouped(request: Request, project: Project, **grouping: str) -> LlmBreakdown:
    params = request.query_params
    bounds = time_bounds(params, time.time(), default_range=DEFAULT_SESSION_RANGE)
    limit = whole_number(params, "limit", 1, MAX_GROUPS, 50)
    return common.runtime(request).store.llm_breakdown(
        LlmBreakdownQuery(
            project.id,
            bounds.since or 0.0,
            bounds.until if bounds.until is not None else time.time() + 1.0,
            model=text(params, "model"),
            provider=text(params, "provider"),
            environment=text(params, "environment"),
            release=text(params, "release"),
            limit=limit,
            **grouping,  # type: ignore[arg-type]
        )
    )


def users(request: Request) -> Response:
    """Spend per distinct id over a range (default 7 days), the costliest first."""
    project = _project(request)
    check_filters(request.query_params, GROUP_FILTERS, "users")
    result = _grouped(request, project, dimension="user")
    return _json(_breakdown_json(result, "distinctId"), headers={"X-Complete": _complete(result)})


def breakdown(request: Request) -> Response:
    """Calls of a range grouped by ``by`` (a column; the model by default) or ``prop``."""
    project = _project(request)
    params = request.query_params
    check_filters(params, GROUP_FILTERS, "a breakdown")
    by, prop = text(params, "by"), text(params, "prop")
    if by is not None and prop is not None:
        raise ApiError(400, f"give by ({', '.join(COLUMN_DIMENSIONS)}) or prop, not both")
    if by is None and prop is None:
        by = "model"
    if by is not None and by not in COLUMN_DIMENSIONS:
        raise ApiError(400, f"by must be one of {', '.join(COLUMN_DIMENSIONS)}")
    result = _grouped(request, project, **({"dimension": by} if by else {"prop": prop or ""}))
    return _json(_breakdown_json(result, "value"), headers={"X-Complete": _complete(result)})


def _complete(result: LlmBreakdown) -> str:
    """Whether every call of the range was read (a property is read from each, up to a cap)."""
    return "true" if result.complete else "false"


def dashboard(request: Request) -> Response:
    """The dashboard's figures: ``range`` 24h, 7d or 30d, by ``bucket`` hour or day."""
    project = _project(request)
    params = request.query_params
    check_filters(params, {"range"}, "the dashboard")
    range_key = params.get("range") or "24h"
    if range_key not in RANGES:
        raise ApiError(400, f"range must be one of {', '.join(RANGES)}")
    units = UNITS[range_key]
    bucket = params.get("bucket") or units[0]
    if bucket not in units:
        raise ApiError(400, f"bucket must be {' or '.join(units)} for range {range_key}")
    flag = text(params, "flag")
    wanted = {"range": range_key, "bucket": bucket, **({"flag": flag} if flag else {})}
    view = build_dashboard(common.runtime(request).store, project, wanted)
    if flag and view.flag != flag:  # the page shows another flag; a script asked for this one
        view = replace(view, flag=flag, flag_rows=[])
    return _json(dashboard_json(view))


_LLM = "/api/0/projects/{organization_slug}/{project_slug}/llm"

routes = [
    Route(f"{_LLM}/generations/", generations),
    Route(f"{_LLM}/generations/{{event_id}}/", generation),
    Route(f"{_LLM}/traces/", traces),
    # Trace, session and distinct ids are the client's own strings: "/" included.
    Route(f"{_LLM}/traces/{{trace_id:path}}/", trace),
    Route(f"{_LLM}/sessions/", sessions),
    Route(f"{_LLM}/sessions/{{session_id:path}}/", session),
    Route(f"{_LLM}/users/", users),
    Route(f"{_LLM}/breakdown/", breakdown),
    Route(f"{_LLM}/users/{{distinct_id:path}}/", user),
    Route(f"{_LLM}/dashboard/", dashboard),
    Route(f"{_LLM}/export/", llm_export),
]
