"""Sentry's ingest endpoints: ``/api/<project_id>/envelope/`` and ``/store/``.

The hot path, in order: authenticate from headers or query string, refuse
early when digest is behind or the key or project is over its rate limit
(429 with ``Retry-After`` and ``X-Sentry-Rate-Limits``, whose scope says
``key`` or ``project``), read the body through byte-limited decompression,
check the framing and that event items are JSON, append the payload to the
durable queue, answer with the event id. Everything slower (normalising,
scrubbing, grouping) happens in digest. An envelope that authenticates only
through its ``dsn`` header is decoded as far as that header line (at most
:data:`MAX_UNAUTHENTICATED_HEADER` bytes), authenticated, then decoded on.

Memory: envelopes are checked as they are decoded, piece by piece; only the
JSON items (events, sessions, ...) are kept whole, since the queue keeps the
body as it arrived. What a request holds is charged to the process-wide
budget (:mod:`heliograph.budget`): 503 with ``Retry-After`` past it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from heliograph import budget
from heliograph.bounds import parse_row_id
from heliograph.ingest import counting, memory
from heliograph.ingest.gate import gate_of
from heliograph.ingest.geoip import client_address, parse_address
from heliograph.ingest.http import admit, check_backlog, cors_headers, error_response
from heliograph.protocols import bodies, sentry_auth
from heliograph.protocols import sentry_envelope as envelope
from heliograph.protocols.errors import (
    AuthError,
    BadRequest,
    ForbiddenError,
    IngestError,
    NotFoundError,
)
from heliograph.protocols.json_depth import MAX_JSON_DEPTH, depth_exceeds
from heliograph.protocols.sentry_event import choose_event_id, derive_event_id, normalize_event_id

ALLOW_HEADERS = (
    "x-sentry-auth, x-requested-with, origin, accept, content-type, content-encoding, "
    "authentication, authorization, sentry-trace, baggage"
)
# Decoded bytes read of an envelope before it is authenticated by its ``dsn``
# header: that header line must end within them (SDKs send a few hundred bytes).
MAX_UNAUTHENTICATED_HEADER = 16 * 1024


def _project_id(request: Request) -> int:
    raw = request.path_params["project_id"]
    project_id = parse_row_id(raw)
    if project_id is None:
        raise NotFoundError(f"unknown project {raw[:40]!r}: project ids are numbers")
    return project_id


def _authenticate(request: Request, project_id: int, envelope_dsn: str | None) -> None:
    """Check the key, then let the request through the backlog bound and rate limits."""
    header = request.headers.get("x-sentry-auth") or request.headers.get("authorization")
    public_key = sentry_auth.parse_auth(header, request.query_params, envelope_dsn)
    gate = gate_of(request)
    key_project = gate.keys.project_for(public_key)
    if key_project is None:
        raise ForbiddenError("unknown or revoked public key")
    if key_project != project_id:
        if gate.projects.get_project_by_id(project_id) is None:
            raise NotFoundError(f"unknown project {project_id}")
        raise ForbiddenError(f"this key does not belong to project {project_id}")
    # One request counts as one event: the body is not read yet, and an
    # envelope carries one event (plus its attachments, sessions...).
    admit(gate, public_key, project_id, category="error")


async def _read(request: Request, max_decompressed: int) -> tuple[bytes, bytes]:
    """The body as it arrived and decoded; both, since the queue keeps the former.

    Both are charged to the request's memory reservation.
    """
    pieces: list[bytes] = []

    def keep(piece: bytes) -> None:
        budget.charge(len(piece))
        pieces.append(piece)

    raw = await bodies.stream_body(
        request.stream(),
        keep,
        content_encoding=request.headers.get("content-encoding"),
        max_compressed=bodies.MAX_COMPRESSED_REQUEST,
        max_decompressed=max_decompressed,
    )
    return raw, budget.joined(pieces, sum(map(len, pieces)), budget.current())


def _keep_payload(item_type: str) -> bool:
    # Ingest parses only the JSON items; the rest is checked for size and framing.
    return item_type in envelope.JSON_ITEM_TYPES


async def _read_envelope(
    request: Request, on_header: Callable[[dict[str, Any]], None], *, authenticated: bool
) -> tuple[bytes, envelope.EnvelopeReader]:
    """Decode and check an envelope as it streams in; the body as it arrived, and the reader.

    ``on_header`` runs once the envelope header is decoded, before any item:
    when the request is not ``authenticated`` yet, it authenticates by the
    ``dsn`` there, and that header must end within
    :data:`MAX_UNAUTHENTICATED_HEADER` decoded bytes, so that a bad key costs
    little decoding. Item payloads other than JSON are checked and dropped
    (``reader.complete`` says whether any was).
    """
    reader = envelope.EnvelopeReader(
        keep=_keep_payload,
        validate=True,
        on_header=on_header,
        header_limit=None if authenticated else MAX_UNAUTHENTICATED_HEADER,
    )
    raw = await bodies.stream_body(
        request.stream(),
        reader.feed,
        content_encoding=request.headers.get("content-encoding"),
        max_compressed=bodies.MAX_COMPRESSED_REQUEST,
        max_decompressed=bodies.MAX_ENVELOPE,
    )
    reader.finish()
    return raw, reader


def _whole_envelope(raw: bytes, encoding: str | None, payload_bytes: int) -> envelope.Envelope:
    """The envelope with every payload, decoded again from the body as it arrived.

    Only for an envelope that must be rewritten and had payloads dropped on
    the first pass (no ``event_id`` header, attachments). Its payloads and
    the serialisation made of them are charged before decoding starts.
    """
    budget.charge(2 * payload_bytes)
    reader = envelope.EnvelopeReader()
    decoder = bodies.BodyDecoder(encoding, bodies.MAX_ENVELOPE)
    for piece in decoder.decode(raw):
        reader.feed(piece)
    decoder.end()
    return reader.finish()


def _check_dsn(request: Request, dsn: Any) -> None:
    """An envelope ``dsn`` next to header or query auth must name the same key.

    Sentry: "If multiple forms of authentication are given, the endpoint
    validates that the information matches and otherwise rejects the request."
    """
    if not isinstance(dsn, str):
        raise BadRequest("the envelope header's dsn must be a string")
    header = request.headers.get("x-sentry-auth") or request.headers.get("authorization")
    sentry_auth.parse_auth(header, request.query_params, dsn)


def _has_header_auth(request: Request) -> bool:
    return bool(
        request.headers.get("x-sentry-auth")
        or request.headers.get("authorization")
        or request.query_params.get("sentry_key")
    )


@memory.budgeted
async def envelope_endpoint(request: Request) -> Response:
    cors = cors_headers(request, ALLOW_HEADERS)
    if request.method == "OPTIONS":
        return Response(status_code=200, headers=cors)
    gate = gate_of(request)
    try:
        project_id = _project_id(request)
        header_auth = _has_header_auth(request)
        if header_auth:
            # Authenticate (and apply limits) before reading a byte of the body.
            _authenticate(request, project_id, None)
        else:
            check_backlog(gate)

        def check_header(headers: dict[str, Any]) -> None:
            # The envelope header is decoded; no item is yet.
            dsn = headers.get("dsn")
            if not header_auth:
                _authenticate(request, project_id, dsn if isinstance(dsn, str) else None)
            elif dsn is not None:
                _check_dsn(request, dsn)

        raw, reader = await _read_envelope(request, check_header, authenticated=header_auth)
        event_id, rewritten = _ensure_event_id(reader.envelope)
        if rewritten is not None and not reader.complete:
            whole = _whole_envelope(raw, _encoding(request), reader.payload_bytes)
            event_id, rewritten = _ensure_event_id(whole)
        address = _client_address(request)
        if rewritten is None:
            await gate.queue.append(
                project_id, "sentry_envelope", time.time(), raw, _encoding(request), address
            )
        else:
            await gate.queue.append(
                project_id, "sentry_envelope", time.time(), rewritten, None, address
            )
    except IngestError as exc:
        counting.refused("sentry", exc)
        return error_response(exc, cors, sentry=True)
    counting.accepted("sentry")
    return JSONResponse({"id": event_id} if event_id else {}, headers=cors)


def _client_address(request: Request) -> str | None:
    """The sender's address, queued for events that ask for it (``{{auto}}``).

    Behind a proxy listed in ``HELIOGRAPH_TRUSTED_PROXIES``, the address it
    forwarded; never a client's own ``X-Forwarded-For`` claim.
    """
    peer = request.client.host if request.client else None
    forwarded = request.headers.getlist("x-forwarded-for")
    address = parse_address(client_address(peer, forwarded, gate_of(request).trusted_proxies))
    return str(address) if address is not None else None


def _encoding(request: Request) -> str | None:
    encoding = request.headers.get("content-encoding", "").strip().lower()
    return None if encoding in ("", "identity") else encoding


def _ensure_event_id(parsed: envelope.Envelope) -> tuple[str | None, bytes | None]:
    """Fix the event id at ingest, so that a replayed payload digests to the same event.

    Returns the event id and, when the envelope had to be given one, its new
    serialisation (None when the body can be queued as it arrived).
    """
    header_id = parsed.headers.get("event_id")
    normalized = normalize_event_id(header_id)
    if normalized is not None:
        return normalized, None
    for item in parsed.items:
        if item.type in ("event", "transaction"):
            payload = orjson.loads(item.payload)
            payload_id = payload.get("event_id") if isinstance(payload, dict) else None
            # Digest chooses the same from the same two ids ("hello" included).
            event_id = choose_event_id(header_id, payload_id)
            if event_id is not None:
                return event_id, None
            event_id = uuid.uuid4().hex
            parsed.headers["event_id"] = event_id
            return event_id, envelope.serialize_envelope(parsed)
    return derive_event_id(header_id), None


@memory.budgeted
async def store_endpoint(request: Request) -> Response:
    """The legacy endpoint: one event JSON body (still used by older SDKs and tools)."""
    cors = cors_headers(request, ALLOW_HEADERS)
    if request.method == "OPTIONS":
        return Response(status_code=200, headers=cors)
    gate = gate_of(request)
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
        if depth_exceeds(payload):
            raise BadRequest(f"the event is nested deeper than {MAX_JSON_DEPTH} levels")
        chosen = choose_event_id(None, payload.get("event_id"))
        if chosen is not None:
            event_id = chosen  # digest chooses the same from the same payload
        else:
            event_id = uuid.uuid4().hex
            payload["event_id"] = event_id
            raw, encoding = orjson.dumps(payload), None
        await gate.queue.append(
            project_id, "sentry_store", time.time(), raw, encoding, _client_address(request)
        )
    except IngestError as exc:
        counting.refused("sentry", exc)
        return error_response(exc, cors, sentry=True)
    counting.accepted("sentry")
    return JSONResponse({"id": event_id}, headers=cors)
