"""PostHog's capture and flag endpoints, as the official SDKs call them.

``/batch/``, ``/capture/``, ``/e/``, ``/i/v0/e/``, ``/track/``, ``/engage/`` and
``/i/v0/ai/batch/`` accept events (every body shape and compression is
decoded by :mod:`heliograph.protocols.posthog_capture`); ``/flags`` and ``/decide``
answer each flag's value for the person asking, and ``/flags/definitions``
serves the definitions SDKs evaluate locally (``docs/flags.md``);
``/array/{token}/config`` is the minimal remote config posthog-js loads first.
Events are authenticated by the project key they carry and queued decoded, as
one JSON array. Each event
of a batch counts against the rate limits; over them, capture answers 429
with ``Retry-After`` and ``{"detail": ...}``, which posthog clients read and
back off on. Bodies are charged to the process-wide memory budget
(:mod:`heliograph.budget`): past it, 503 with ``Retry-After``. With a GeoIP
database configured, events (not recordings) get the client's country
(:mod:`heliograph.ingest.geoip`); the address itself is never queued.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from heliograph.auth import authenticate, can_read, project_role
from heliograph.flags.definition import FeatureFlag
from heliograph.ingest import counting, memory
from heliograph.ingest.gate import IngestGate, gate_of
from heliograph.ingest.geoip import add_country, client_address
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
from heliograph.replay.client_config import session_recording

ALLOW_HEADERS = "content-type, content-encoding, authorization, x-requested-with"
# A /flags request is who asks and their person properties: small.
FLAGS_MAX_BYTES = 256 * 1024
CAPTURE_PATHS = (
    "/batch",
    "/capture",
    "/e",
    "/i/v0/e",
    "/track",
    "/engage",
    "/i/v0/ai/batch",
    "/s",  # session recordings ($snapshot events), where remote config sends them
)


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
            category = "replay" if path == "/s" else "analytics"
            admit(gate, batch.api_key, project_id, category=category, cost=len(batch.events))
            if path != "/s":
                _add_countries(request, gate, batch.events)
            await gate.queue.append(project_id, "posthog", now, orjson.dumps(batch.events))
            counting.accepted("posthog")
    except IngestError as exc:
        counting.refused("posthog", exc)
        return error_response(exc, cors, sentry=False)
    if request.query_params.get("beacon") == "1":
        return Response(status_code=204, headers=cors)
    return JSONResponse({"status": "Ok"}, headers=cors)


def _add_countries(request: Request, gate: IngestGate, events: list[dict[str, Any]]) -> None:
    """Each event's country, from the client's address (which is not kept), if configured.

    On the event loop: one cached, memory-mapped lookup per request
    (:mod:`heliograph.ingest.geoip` says why that cannot block).
    """
    if gate.geoip is None:
        return
    peer = request.client.host if request.client else None
    address = client_address(peer, request.headers.getlist("x-forwarded-for"), gate.trusted_proxies)
    country = gate.geoip.country(address) if address else None
    if country is not None:
        add_country(events, country)


async def _project_flags(gate: IngestGate, project_id: int) -> list[FeatureFlag]:
    """The project's flags: from memory, else read (off the event loop) and kept."""
    found = gate.flags.cached(project_id)
    if found is None:
        found = await run_in_threadpool(gate.flags.load, project_id)
    return found


@memory.budgeted
async def flags(request: Request) -> Response:
    """Every flag's value for the person asking, in the dialect of the endpoint asked."""
    cors = _cors(request)
    if request.method == "OPTIONS":
        return Response(status_code=200, headers=cors)
    gate = gate_of(request)
    legacy = request.url.path.rstrip("/").endswith("/decide")
    try:
        body = await read_raw_body(request, FLAGS_MAX_BYTES)
        data = posthog.decode_json(
            body=body,
            query=request.query_params,
            content_type=request.headers.get("content-type"),
            content_encoding=request.headers.get("content-encoding"),
            max_bytes=FLAGS_MAX_BYTES,
        )
        query = posthog_flags.parse_flags_query(data, request.query_params)
        project_id = gate.keys.project_for(query.token)
        if project_id is None:
            raise AuthError("unknown or revoked project API key")
    except IngestError as exc:
        return error_response(exc, cors, sentry=False)
    results = posthog_flags.evaluate_flags(await _project_flags(gate, project_id), query)
    recording = await _recording(gate, project_id) if legacy else False
    answer = posthog_flags.flags_response(
        results,
        legacy=legacy,
        request_id=str(uuid.uuid4()),
        environment=query.environment,
        recording=recording,
    )
    return JSONResponse(answer, headers=cors)


def _may_read_project(request: Request, gate: IngestGate, project_id: int | None) -> bool | None:
    """Whether the request's API token may read the project; None: no usable token."""
    store = gate.flags.store
    caller = authenticate(request, store)
    if caller is None or not can_read(caller):
        return None
    project = store.get_project_by_id(project_id) if project_id is not None else None
    return project is not None and project_role(caller, project, store) is not None


async def flag_definitions(request: Request) -> Response:
    """Definitions for local evaluation, for a personal API key (a Heliograph API token).

    ``?token=`` names the project by its API key; the API token must be
    allowed to read that project. The answer carries an ETag: an SDK that
    sends it back (``If-None-Match``) gets 304 while nothing changed.
    """
    gate = gate_of(request)
    token = request.query_params.get("token", "")
    project_id = gate.keys.project_for(token) if token else None
    # Every store read of the check in one trip off the event loop.
    allowed = await run_in_threadpool(_may_read_project, request, gate, project_id)
    if allowed is None:
        return JSONResponse(
            {"detail": "send a Heliograph API token as 'Authorization: Bearer <token>'"},
            status_code=401,
        )
    if project_id is None or not allowed:
        return JSONResponse(
            {"detail": "no project with this API key that the token may read"}, status_code=404
        )
    answer = orjson.dumps(
        posthog_flags.flag_definitions_response(await _project_flags(gate, project_id))
    )
    etag = '"' + hashlib.sha1(answer).hexdigest() + '"'
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers={"ETag": etag})
    return Response(answer, media_type="application/json", headers={"ETag": etag})


async def _recording(gate: IngestGate, project_id: int | None) -> dict[str, Any] | bool:
    """The project's session-recording config for browser clients (False: none)."""
    if project_id is None:
        return False
    project = await run_in_threadpool(gate.projects.get_project_by_id, project_id)
    return session_recording(project)


async def remote_config(request: Request) -> Response:
    token = request.path_params["token"]
    cors = _cors(request)
    gate = gate_of(request)
    project_id = gate.keys.project_for(token)
    has_flags = project_id is not None and bool(await _project_flags(gate, project_id))
    recording = await _recording(gate, project_id)
    if request.url.path.endswith(".js"):
        return Response(
            posthog_flags.remote_config_js(token, has_flags=has_flags, recording=recording),
            media_type="application/javascript",
            headers=cors,
        )
    return JSONResponse(
        posthog_flags.remote_config(token, has_flags=has_flags, recording=recording),
        headers=cors,
    )


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
