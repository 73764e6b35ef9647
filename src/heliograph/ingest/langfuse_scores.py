"""``POST /api/public/scores``: Langfuse's score endpoint, for its SDKs and scripts.

Authenticated as Langfuse's SDKs do, with ``Basic base64(<public key>:<secret
key>)``, the public key being the project key (or ``Bearer <project key>``;
see :func:`heliograph.protocols.otlp.project_key`). The score is checked at
once (a 400 says what is wrong), then queued as an ``$ai_score`` event, like
the SDK's: digest stores it, durable through restarts and rate limited like
any event, and answers Langfuse's ``{"id": ...}``. A project key only writes,
so there is no ``GET`` here: read scores with an API token at
``/api/0/projects/{org}/{project}/llm/scores/``.
"""

from __future__ import annotations

import time

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from heliograph.ingest import memory
from heliograph.ingest.gate import gate_of
from heliograph.ingest.http import admit, check_backlog, error_response, read_raw_body
from heliograph.protocols import otlp
from heliograph.protocols.errors import BadRequest, ForbiddenError, IngestError
from heliograph.protocols.langfuse_scores import parse_score, score_event
from heliograph.protocols.posthog_capture import normalize_event

__all__ = ["routes"]

MAX_BYTES = 64 * 1024


@memory.budgeted
async def create_score(request: Request) -> Response:
    gate = gate_of(request)
    try:
        check_backlog(gate)
        public_key = otlp.project_key(request.headers)
        project_id = gate.keys.project_for(public_key)
        if project_id is None:
            raise ForbiddenError("unknown or revoked project key")
        raw = await read_raw_body(request, MAX_BYTES)
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise BadRequest("the body must be JSON") from None
        now = time.time()
        score = parse_score(body, project_id, now)
        admit(gate, public_key, project_id, category="analytics")
        event = normalize_event(score_event(score), now=now)
        await gate.queue.append(project_id, "posthog", now, orjson.dumps([event]))
    except IngestError as exc:
        return error_response(exc, {}, sentry=False)
    return JSONResponse({"id": score.id})


def routes() -> list[BaseRoute]:
    return [Route("/api/public/scores", create_score, methods=["POST"])]
