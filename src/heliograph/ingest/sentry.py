"""Sentry's ingest endpoints: ``/api/<project_id>/envelope/`` and ``/store/``.

The hot path, in order: authenticate from headers or query string, refuse
early when digest is behind or the key or project is over its rate limit
(429 with ``Retry-After`` and ``X-Sentry-Rate-Limits``, whose scope says
``key`` or ``project``), read the body through byte-limited decompression,
check the framing and that event items are JSON, append the payload to the
durable queue, answer with the event id. Everything slower (normalising,
scrubbing, grouping) happens in digest. An envelope that authenticates only
through its ``dsn`` header is checked once its body is read.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from heliograph.ingest import bodies, envelope, sentry_auth
from heliograph.ingest.errors import (
    AuthError,
    BadRequest,
    ForbiddenError,
    IngestError,
    NotFoundError,
)
from heliograph.ingest.http import admit, check_backlog, cors_headers, error_response, runtime_of

ALLOW_HEADERS = (
    "x-sentry-auth, x-requested-with, origin, accept, content-type, content-encoding, "
    "authentication, authorization, sentry-trace, baggage"
)


def _project_id(request: Request) -> int:
    raw = request.path_params["project_id"]
    try:
        return int(raw)
    except ValueError:
        raise NotFoundError(f"unknown project {raw!r}: project ids are numbers") from None


def _authenticate(request: Request, project_id: int, envelope_dsn: str | None) -> None:
    """Check the key, then let the request through the backlog bound and rate limits."""
    header = request.headers.get("x-sentry-auth") or request.headers.get("authorization")
    public_key = sentry_auth.parse_auth(header, request.query_params, envelope_dsn)
    runtime = runtime_of(request)
    key_project = runtime.keys.project_for(public_key)
    if key_project is None:
        raise ForbiddenError("unknown or revoked public key")
    if key_project != project_id:
        if runtime.store.get_project_by_id(project_id) is None:
            raise NotFoundError(f"unknown project {project_id}")
        raise ForbiddenError(f"this key does not belong to project {project_id}")
    # One request counts as one event: the body is not read yet, and an
    # envelope carries one event (plus its attachments, sessions...).
    admit(runtime, public_key, project_id, category="error")


async def _read(request: Request, max_decompressed: int) -> tuple[bytes, bytes]:
    """The body as it arrived and decoded; both, since the queue keeps the former."""
    received: list[bytes] = []

    async def tee() -> AsyncIterator[bytes]:
        async for chunk in request.stream():
            received.append(chunk)
            yield chunk

    decoded = await bodies.read_body(
        tee(),
        content_encoding=request.headers.get("content-encoding"),
        max_compressed=bodies.MAX_COMPRESSED_REQUEST,
        max_decompressed=max_decompressed,
    )
    return b"".join(received), decoded


def _has_header_auth(request: Request) -> bool:
    return bool(
        request.headers.get("x-sentry-auth")
        or request.headers.get("authorization")
        or request.query_params.get("sentry_key")
    )


async def envelope_endpoint(request: Request) -> Response:
    cors = cors_headers(request, ALLOW_HEADERS)
    if request.method == "OPTIONS":
        return Response(status_code=200, headers=cors)
    runtime = runtime_of(request)
    try:
        project_id = _project_id(request)
        header_auth = _has_header_auth(request)
        if header_auth:
            # Authenticate (and apply limits) before reading a byte of the body.
            _authenticate(request, project_id, None)
        else:
            check_backlog(runtime)
        raw, body = await _read(request, bodies.MAX_ENVELOPE)
        parsed = envelope.parse_envelope(body)
        envelope.validate_items(parsed)
        if not header_auth:
            dsn = parsed.headers.get("dsn")
            _authenticate(request, project_id, dsn if isinstance(dsn, str) else None)
        event_id, rewritten = _ensure_event_id(parsed)
        if rewritten is None:
            await runtime.queue.append(
                project_id, "sentry_envelope", time.time(), raw, _encoding(request)
            )
        else:
            await runtime.queue.append(project_id, "sentry_envelope", time.time(), rewritten)
    except IngestError as exc:
        return error_response(exc, cors, sentry=True)
    return JSONResponse({"id": event_id} if event_id else {}, headers=cors)


def _encoding(request: Request) -> str | None:
    encoding = request.headers.get("content-encoding", "").strip().lower()
    return None if encoding in ("", "identity") else encoding


def _ensure_event_id(parsed: envelope.Envelope) -> tuple[str | None, bytes | None]:
    """Fix the event id at ingest, so that a replayed payload digests to the same event.

    Returns the event id and, when the envelope had to be given one, its new
    serialisation (None when the body can be queued as it arrived).
    """
    header_id = parsed.headers.get("event_id")
    if isinstance(header_id, str) and header_id:
        return header_id.replace("-", "").lower(), None
    for item in parsed.items:
        if item.type in ("event", "transaction"):
            payload = orjson.loads(item.payload)
            payload_id = payload.get("event_id") if isinstance(payload, dict) else None
            event_id = (
                payload_id.replace("-", "").lower()
                if isinstance(payload_id, str) and payload_id
                else uuid.uuid4().hex
            )
            parsed.headers["event_id"] = event_id
            return event_id, envelope.serialize_envelope(parsed)
    return None, None


async def store_endpoint(request: Request) -> Response:
    """The legacy endpoint: one event JSON body (still used by older SDKs and tools)."""
    cors = cors_headers(request, ALLOW_HEADERS)
    if request.method == "OPTIONS":
        return Response(status_code=200, headers=cors)
    runtime = runtime_of(request)
    try:
        project_id = _project_id(request)
        if not _has_header_auth(request):
            raise AuthError("missing authentication: send X-Sentry-Auth or ?sentry_key=")
        _authenticate(request, project_id, None)
        raw, body = await _read(request, bodies.MAX_EVENT_ITEM)
        encoding = _encoding(request)
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"invalid JSON: {exc}") from None
        if not isinstance(payload, dict):
            raise BadRequest("the event must be a JSON object")
        raw_id = payload.get("event_id")
        if isinstance(raw_id, str) and raw_id:
            event_id = raw_id.replace("-", "").lower()
        else:
            event_id = uuid.uuid4().hex
            payload["event_id"] = event_id
            raw, encoding = orjson.dumps(payload), None
        await runtime.queue.append(project_id, "sentry_store", time.time(), raw, encoding)
    except IngestError as exc:
        return error_response(exc, cors, sentry=True)
    return JSONResponse({"id": event_id}, headers=cors)
