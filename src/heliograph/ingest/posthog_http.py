"""PostHog's capture and flag endpoints, as the official SDKs call them.

``/batch/``, ``/capture/``, ``/e/``, ``/i/v0/e/``, ``/track/``, ``/engage/`` and
``/i/v0/ai/batch/`` accept events (every body shape and compression is
decoded by :mod:`heliograph.protocols.posthog_capture`); ``/flags`` and ``/decide``
answer "no flags" so clients never error; ``/array/{token}/config`` is the
minimal remote config posthog-js loads first. Events are authenticated by
the project key they carry and queued decoded, as one JSON array. Each event
of a batch counts against the rate limits; over them, capture answers 429
with ``Retry-After`` and ``{"detail": ...}``, which posthog clients read and
back off on. Bodies are charged to the process-wide memory budget
(:mod:`heliograph.budget`): past it, 503 with ``Retry-After``.
"""

from __future__ import annotations

import time
import uuid

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from heliograph.ingest import memory
from heliograph.ingest.gate import gate_of
from heliograph.ingest.http import (
    admit,
    check_backlog,
    cors_headers,
    error_response,
    read_raw_body,
)
from heliograph.protocols import posthog_capture as posthog
from heliograph.protocols import posthog_flags
from heliograph.protocols.errors import AuthError, IngestError

ALLOW_HEADERS = "content-type, content-encoding, authorization, x-requested-with"
CAPTURE_PATHS = ("/batch", "/capture", "/e", "/i/v0/e", "/track", "/engage", "/i/v0/ai/batch")


def _cors(request: Request) -> dict[str, str]:
    headers = cors_headers(request, ALLOW_HEADERS)
    if headers:
        headers["Access-Control-Allow-Credentials"] = "true"
    return headers


@memory.budgeted
async def capture(request: Request) -> Response:
    cors = _cors(request)
    if request.method == "OPTIONS":
        return Response(status_code=200, headers=cors)
    gate = gate_of(request)
    path = request.url.path.rstrip("/") or "/"
    try:
        check_backlog(gate)
        max_bytes = posthog.max_bytes_for_path(path)
        body = b"" if request.method == "GET" else await read_raw_body(request, max_bytes)
        now = time.time()
        batch = posthog.decode_capture(
            body=body,
            query=request.query_params,
            content_type=request.headers.get("content-type"),
            content_encoding=request.headers.get("content-encoding"),
            max_bytes=max_bytes,
            received_at=now,
        )
        project_id = gate.keys.project_for(batch.api_key)
        if project_id is None:
            raise AuthError("unknown or revoked project API key")
        if batch.events:
            admit(gate, batch.api_key, project_id, category="analytics", cost=len(batch.events))
            await gate.queue.append(project_id, "posthog", now, orjson.dumps(batch.events))
    except IngestError as exc:
        return error_response(exc, cors, sentry=False)
    if request.query_params.get("beacon") == "1":
        return Response(status_code=204, headers=cors)
    return JSONResponse({"status": "Ok"}, headers=cors)


async def flags(request: Request) -> Response:
    """No feature flags exist here; answer so that every client carries on."""
    cors = _cors(request)
    if request.method == "OPTIONS":
        return Response(status_code=200, headers=cors)
    legacy = request.url.path.rstrip("/").endswith("/decide")
    return JSONResponse(
        posthog_flags.flags_response(legacy=legacy, request_id=str(uuid.uuid4())), headers=cors
    )


async def flag_definitions(request: Request) -> Response:
    return JSONResponse(posthog_flags.flag_definitions_response())


async def remote_config(request: Request) -> Response:
    token = request.path_params["token"]
    cors = _cors(request)
    if request.url.path.endswith(".js"):
        return Response(
            posthog_flags.remote_config_js(token), media_type="application/javascript", headers=cors
        )
    return JSONResponse(posthog_flags.remote_config(token), headers=cors)


def _both(path: str) -> list[str]:
    return [path, path + "/"]


def routes() -> list[BaseRoute]:
    methods = ["GET", "POST", "OPTIONS"]
    found: list[BaseRoute] = []
    for path in CAPTURE_PATHS:
        found += [Route(p, capture, methods=methods) for p in _both(path)]
    for path in ("/flags", "/decide"):
        found += [Route(p, flags, methods=methods) for p in _both(path)]
    for path in ("/flags/definitions", "/api/feature_flag/local_evaluation"):
        found += [Route(p, flag_definitions) for p in _both(path)]
    found += [
        Route("/array/{token}/config", remote_config),
        Route("/array/{token}/config.js", remote_config),
    ]
    return found
