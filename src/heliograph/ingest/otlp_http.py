"""OTLP/HTTP traces: ``POST /v1/traces`` (also Langfuse's ``/api/public/otel`` path).

The project key travels as ``Authorization: Bearer <key>`` or
``x-heliograph-key``. The body is checked to decode (so a client learns of
a bad export at once, and of rejected spans through ``partial_success``),
then queued as it arrived; digest maps the spans to canonical events.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from heliograph.ingest import bodies, otlp
from heliograph.ingest.errors import ForbiddenError, IngestError
from heliograph.ingest.http import check_backlog, error_response, read_raw_body, runtime_of


async def traces(request: Request) -> Response:
    runtime = runtime_of(request)
    content_type = request.headers.get("content-type", otlp.PROTOBUF)
    try:
        check_backlog(runtime)
        project_id = runtime.keys.project_for(otlp.project_key(request.headers))
        if project_id is None:
            raise ForbiddenError("unknown or revoked project key")
        raw = await read_raw_body(request, otlp.OTLP_MAX_BYTES)
        encoding = request.headers.get("content-encoding", "").strip().lower() or None
        decoded = bodies.decompress(raw, encoding, otlp.OTLP_MAX_BYTES) if encoding else raw
        spans, rejected = otlp.decode_traces_counted(decoded, content_type)
        if spans:
            is_json = otlp.response_content_type(content_type) == otlp.JSON
            await runtime.queue.append(
                project_id, "otlp_json" if is_json else "otlp_proto", time.time(), raw, encoding
            )
    except IngestError as exc:
        return error_response(exc, {}, sentry=False)
    message = f"{rejected} spans could not be decoded" if rejected else ""
    return Response(
        otlp.export_response(rejected, message, content_type),
        media_type=otlp.response_content_type(content_type),
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/v1/traces", traces, methods=["POST"]),
        Route("/api/public/otel/v1/traces", traces, methods=["POST"]),
    ]
