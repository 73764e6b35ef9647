"""``GET /api/0/projects/{org}/{project}/events/{event_id}/ai-fix/``: a suggested fix.

``?stream=1`` answers Server-Sent Events: ``delta`` events (``{"text"}``) as
the model writes, then one ``done`` event (model, token counts, cached flag,
elapsed seconds), or an ``error`` event if the model fails mid-answer.
Without it, one JSON object ``{"suggestion", "model", "cached", ...}``.
``consent=yes`` / ``pii_certified=yes`` satisfy the project's policy;
``refresh=1`` bypasses the cache; ``cached=1`` answers only from the cache
(204 No Content when nothing is cached) and never calls the provider, which
the issue page uses on load. Refusals are 403 ``{"restriction": state}``;
no configured provider is 404.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from heliograph.ai.errors import AIError, NotCached
from heliograph.ai.fix import Delta, Done, FixPart
from heliograph.ai.policy import effective_state
from heliograph.api.errors import ApiError
from heliograph.query.trace_summary import summarize_trace
from heliograph.runtime import Runtime
from heliograph.store.base import Project, StoredEvent

YES = frozenset({"1", "yes", "true", "on"})


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").lower() in YES


def policy_state(runtime: Runtime, project: Project) -> str:
    org = runtime.store.get_organization_by_id(project.organization_id)
    return effective_state(org.ai_policy if org else "allowed", project.ai_policy)


def trace_summary(runtime: Runtime, stored: StoredEvent) -> dict[str, Any] | None:
    trace_id = stored.event.trace_id
    if not trace_id:
        return None
    return summarize_trace(trace_id, runtime.store.events_by_trace(stored.project_id, trace_id))


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def _done_json(done: Done) -> dict[str, Any]:
    return asdict(done)


async def _stream(parts: AsyncIterator[FixPart]) -> AsyncIterator[bytes]:
    try:
        async for part in parts:
            if isinstance(part, Delta):
                yield _sse("delta", {"text": part.text})
            else:
                yield _sse("done", _done_json(part))
    except AIError as exc:
        yield _sse("error", {"status": exc.status, **exc.body()})


async def ai_fix(request: Request, runtime: Runtime, project: Project) -> Response:
    stored = runtime.store.get_event(project.id, request.path_params["event_id"])
    if stored is None:
        raise ApiError(404, "event not found")
    if stored.event.kind != "error":
        raise ApiError(400, "suggested fixes are for error events")
    fixes = runtime.fixes
    issue_key = str(stored.issue_id) if stored.issue_id is not None else stored.event_id
    try:
        parts = await fixes.open(
            stored.event,
            issue_key=f"{project.id}:{issue_key}",
            policy_state=policy_state(runtime, project),
            consent=_flag(request, "consent"),
            pii_certified=_flag(request, "pii_certified"),
            refresh=_flag(request, "refresh"),
            trace_summary=trace_summary(runtime, stored),
            cached_only=_flag(request, "cached"),
        )
    except NotCached:
        return Response(status_code=204)
    except AIError as exc:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers())
    if _flag(request, "stream"):
        return StreamingResponse(
            _stream(parts),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"},
        )
    texts: list[str] = []
    done: Done | None = None
    try:
        async for part in parts:
            if isinstance(part, Delta):
                texts.append(part.text)
            else:
                done = part
    except AIError as exc:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers())
    assert done is not None
    return JSONResponse({"suggestion": "".join(texts), **_done_json(done)})
