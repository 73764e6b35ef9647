"""OTLP/HTTP traces and logs: ``POST /v1/traces`` and ``POST /v1/logs``, also at
Langfuse's ``/api/public/otel/v1/...`` and PostHog's ``/i/v0/ai/otel`` paths.

The project key travels as ``Authorization: Bearer <key>``,
``x-heliograph-key``, Langfuse's Basic credentials or ``?token=``
(:func:`heliograph.protocols.otlp.project_key`). The body is checked to
decode (so a client learns of a bad export at once, and of rejected spans
through ``partial_success``), then queued as it arrived; digest maps the
spans to canonical events.

Errors answer as the OTLP/HTTP spec asks: the status code, and a
``google.rpc.Status`` body in the request's encoding (protobuf or JSON);
429 (backlog, rate limit) and 503 (no room left in the process-wide memory
budget for bodies, :mod:`heliograph.budget`) carry ``Retry-After``,
which exporters honour.
Each span counts as one event against the rate limits.

Logs: only the GenAI conventions' message events that name their span are
kept (the prompts and completions of instrumentations such as
``opentelemetry-instrumentation-openai-v2``, joined to their generation in
digest, :mod:`heliograph.llm_messages`); each counts as one event. An export
with none of them is answered at once and not queued (an SDK pointed at
``OTEL_EXPORTER_OTLP_ENDPOINT`` sends the application's own logs here too);
the records left out are reported in ``partial_success``.
"""

from __future__ import annotations

import time

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from heliograph.ingest import counting, memory
from heliograph.ingest.gate import gate_of
from heliograph.ingest.http import admit, check_backlog, read_raw_body
from heliograph.protocols import bodies, genai_logs, otlp, otlp_logs
from heliograph.protocols.errors import ForbiddenError, IngestError, RateLimited
from heliograph.store.queue import PayloadKind

# google.rpc.Code values for the statuses we answer with.
_RPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 413: 3, 415: 3, 429: 8, 503: 14}


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def status_body(code: int, message: str, content_type: str) -> bytes:
    """A ``google.rpc.Status`` (``code`` = 1, ``message`` = 2) in the given encoding."""
    if content_type == otlp.JSON:
        return orjson.dumps({"code": code, "message": message})
    text = message.encode()
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text


def error_response(exc: IngestError, content_type: str) -> Response:
    media = otlp.response_content_type(content_type)
    headers = {}
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    body = status_body(_RPC_CODES.get(exc.status, 2), exc.detail, media)
    return Response(body, status_code=exc.status, media_type=media, headers=headers)


async def _read_body(request: Request) -> tuple[int, str, bytes, bytes, str | None]:
    """Authenticate an export and read its body: (project id, project key, the body
    as it arrived, the body decompressed, its Content-Encoding)."""
    gate = gate_of(request)
    check_backlog(gate)
    public_key = otlp.project_key(request.headers, request.query_params)
    project_id = gate.keys.project_for(public_key)
    if project_id is None:
        raise ForbiddenError("unknown or revoked project key")
    raw = await read_raw_body(request, otlp.OTLP_MAX_BYTES)
    encoding = request.headers.get("content-encoding", "").strip().lower() or None
    decoded = bodies.decompress(raw, encoding, otlp.OTLP_MAX_BYTES) if encoding else raw
    return project_id, public_key, raw, decoded, encoding


@memory.budgeted
async def traces(request: Request) -> Response:
    gate = gate_of(request)
    content_type = request.headers.get("content-type", otlp.PROTOBUF)
    try:
        project_id, public_key, raw, decoded, encoding = await _read_body(request)
        spans, rejected = otlp.decode_traces_counted(decoded, content_type)
        if spans:
            admit(gate, public_key, project_id, category="analytics", cost=len(spans))
            is_json = otlp.response_content_type(content_type) == otlp.JSON
            await gate.queue.append(
                project_id, "otlp_json" if is_json else "otlp_proto", time.time(), raw, encoding
            )
            counting.accepted("otlp")
    except IngestError as exc:
        counting.refused("otlp", exc)
        return error_response(exc, content_type)
    message = f"{rejected} spans could not be decoded" if rejected else ""
    return Response(
        otlp.export_response(rejected, message, content_type),
        media_type=otlp.response_content_type(content_type),
    )


@memory.budgeted
async def logs(request: Request) -> Response:
    gate = gate_of(request)
    content_type = request.headers.get("content-type", otlp.PROTOBUF)
    try:
        project_id, public_key, raw, decoded, encoding = await _read_body(request)
        records = otlp_logs.decode_logs(decoded, content_type)
        kept = sum(1 for record in records if genai_logs.kept(record))
        if kept:
            admit(gate, public_key, project_id, category="analytics", cost=kept)
            is_json = otlp.response_content_type(content_type) == otlp.JSON
            kind: PayloadKind = "otlp_logs_json" if is_json else "otlp_logs_proto"
            await gate.queue.append(project_id, kind, time.time(), raw, encoding)
            counting.accepted("otlp")
    except IngestError as exc:
        counting.refused("otlp", exc)
        return error_response(exc, content_type)
    rejected = len(records) - kept
    message = (
        f"{rejected} log records are not GenAI message events of a span "
        "(gen_ai.*.message, gen_ai.choice): Heliograph keeps only those"
        if rejected
        else ""
    )
    return Response(
        otlp_logs.export_logs_response(rejected, message, content_type),
        media_type=otlp.response_content_type(content_type),
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/v1/traces", traces, methods=["POST"]),
        # Langfuse's SDKs export here, relative to their host.
        Route("/api/public/otel/v1/traces", traces, methods=["POST"]),
        # PostHog's AI exporters: the path as configured, and with the suffix
        # an exporter given only a base endpoint appends.
        Route("/i/v0/ai/otel", traces, methods=["POST"]),
        Route("/i/v0/ai/otel/v1/traces", traces, methods=["POST"]),
        # GenAI message events, joined to their spans (the same prefixes).
        Route("/v1/logs", logs, methods=["POST"]),
        Route("/api/public/otel/v1/logs", logs, methods=["POST"]),
        Route("/i/v0/ai/otel/v1/logs", logs, methods=["POST"]),
    ]
