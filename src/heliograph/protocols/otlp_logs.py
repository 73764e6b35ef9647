"""OTLP/HTTP logs on the wire: export requests in, log records and export responses out.

:func:`decode_logs` reads an ``ExportLogsServiceRequest`` in either OTLP
encoding, as :mod:`heliograph.protocols.otlp` reads traces: protobuf or OTLP
JSON (hex ids, camelCase or snake_case keys). Each record becomes a
:class:`LogRecord` in plain Python values, its body decoded like an
attribute value (a GenAI event's body is a map: ``{content: ...}``).

A record's event name is the ``event_name`` field (OTLP 1.5+, what the
Python SDK's Events API fills) or, from older SDKs, its ``event.name``
attribute. Which records matter, and what they mean, is
:mod:`heliograph.protocols.genai_logs`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsPartialSuccess,
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)

from heliograph.protocols import bodies
from heliograph.protocols.errors import BadRequest
from heliograph.protocols.otlp import (
    JSON,
    OTLP_MAX_BYTES,
    PROTOBUF,
    _get,
    _json_attributes,
    _json_id,
    _json_int,
    _json_value,
    _list,
    _proto_attributes,
    _proto_value,
    _valid_id,
    json_request,
    response_content_type,
)

__all__ = ["LogRecord", "decode_logs", "export_logs_response"]


@dataclass(slots=True)
class LogRecord:
    """One log record; ids are lower-case hex, or None when absent or invalid."""

    trace_id: str | None
    span_id: str | None
    event_name: str = ""
    time_unix_nano: int = 0
    attributes: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    scope_name: str = ""


def decode_logs(body: bytes, content_type: str) -> list[LogRecord]:
    """Decode an ``ExportLogsServiceRequest`` (a gzip body is decompressed here).

    Raises :class:`BadRequest` when the body is not one. Records are never
    rejected here: one without ids is returned with ``None`` ids.
    """
    if body.startswith(b"\x1f\x8b"):
        body = bodies.decompress(body, "gzip", OTLP_MAX_BYTES)
    media = content_type.split(";", 1)[0].strip().lower()
    if media in (PROTOBUF, "application/protobuf", "application/octet-stream"):
        return _decode_protobuf(body)
    if media == JSON or media.endswith("+json"):
        return _decode_json(body)
    raise BadRequest(f"unsupported content type {content_type!r}: send {PROTOBUF} or {JSON}")


def _decode_protobuf(body: bytes) -> list[LogRecord]:
    request = ExportLogsServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError:
        raise BadRequest("body is not a valid ExportLogsServiceRequest") from None
    records: list[LogRecord] = []
    for resource_logs in request.resource_logs:
        for scope_logs in resource_logs.scope_logs:
            for pb in scope_logs.log_records:
                attributes = _proto_attributes(pb.attributes)
                records.append(
                    LogRecord(
                        trace_id=_hex_id(pb.trace_id.hex(), 32),
                        span_id=_hex_id(pb.span_id.hex(), 16),
                        # The field is missing from opentelemetry-proto before 1.27's schema.
                        event_name=_event_name(getattr(pb, "event_name", ""), attributes),
                        time_unix_nano=_nanos(pb.time_unix_nano or pb.observed_time_unix_nano),
                        attributes=attributes,
                        body=_proto_value(pb.body) if pb.HasField("body") else None,
                        scope_name=scope_logs.scope.name,
                    )
                )
    return records


def _decode_json(body: bytes) -> list[LogRecord]:
    data = json_request(body, "ExportLogsServiceRequest")
    records: list[LogRecord] = []
    for resource_logs in _list(_get(data, "resourceLogs", "resource_logs")):
        for scope_logs in _list(_get(resource_logs, "scopeLogs", "scope_logs")):
            scope = _get(scope_logs, "scope")
            scope_name = str(_get(scope, "name") or "") if isinstance(scope, dict) else ""
            for raw in _list(_get(scope_logs, "logRecords", "log_records")):
                if isinstance(raw, dict):
                    records.append(_json_record(raw, scope_name))
    return records


def _json_record(raw: dict[str, Any], scope_name: str) -> LogRecord:
    attributes = _json_attributes(_get(raw, "attributes"))
    body = _get(raw, "body")
    return LogRecord(
        trace_id=_json_id(_get(raw, "traceId", "trace_id"), 32),
        span_id=_json_id(_get(raw, "spanId", "span_id"), 16),
        event_name=_event_name(_get(raw, "eventName", "event_name"), attributes),
        time_unix_nano=_nanos(
            _json_int(_get(raw, "timeUnixNano", "time_unix_nano"))
            or _json_int(_get(raw, "observedTimeUnixNano", "observed_time_unix_nano"))
        ),
        attributes=attributes,
        body=_json_value(body) if body is not None else None,
        scope_name=scope_name,
    )


def _event_name(field_value: Any, attributes: dict[str, Any]) -> str:
    name = field_value if isinstance(field_value, str) and field_value else None
    name = name or attributes.get("event.name")
    return name if isinstance(name, str) else ""


def _nanos(value: int) -> int:
    """A time in ns as a signed 64-bit integer can hold it (what is stored): 0 if out of range."""
    return value if 0 <= value < 2**63 else 0


def _hex_id(text: str, length: int) -> str | None:
    return text if _valid_id(text, length) else None


def export_logs_response(
    rejected: int = 0, message: str = "", content_type: str = PROTOBUF
) -> bytes:
    """An ``ExportLogsServiceResponse`` in the request's encoding (``partial_success``
    set only when something was rejected or there is something to say)."""
    if response_content_type(content_type) == JSON:
        payload: dict[str, Any] = {}
        if rejected or message:
            payload["partialSuccess"] = {
                "rejectedLogRecords": str(rejected),
                "errorMessage": message,
            }
        return orjson.dumps(payload)
    response = ExportLogsServiceResponse()
    if rejected or message:
        response.partial_success.CopyFrom(
            ExportLogsPartialSuccess(rejected_log_records=rejected, error_message=message)
        )
    serialized: bytes = response.SerializeToString()
    return serialized
