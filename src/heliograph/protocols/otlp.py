"""OTLP/HTTP traces on the wire: export requests in, spans and export responses out.

:func:`decode_traces` reads an ``ExportTraceServiceRequest`` in either OTLP
encoding: protobuf (``application/x-protobuf``, via ``opentelemetry-proto``)
or OTLP JSON (``application/json``: hex trace and span ids, camelCase or
snake_case keys, 64-bit integers as strings or numbers). Each span becomes a
:class:`Span` carrying its own attributes and its resource's and scope's
attributes merged (the scope's win).

What the spans mean (GenAI and OpenInference conventions) is
:mod:`heliograph.protocols.genai`'s job.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from heliograph import budget
from heliograph.protocols import bodies
from heliograph.protocols.errors import AuthError, BadRequest
from heliograph.protocols.json_depth import MAX_JSON_DEPTH, depth_exceeds

__all__ = [
    "OTLP_MAX_BYTES",
    "PROTOBUF",
    "Span",
    "SpanEvent",
    "decode_traces",
    "decode_traces_counted",
    "export_response",
    "project_key",
    "response_content_type",
]

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
OTLP_MAX_BYTES = 20 * 1024 * 1024
"""Largest OTLP body, after decompression."""

STATUS_UNSET, STATUS_OK, STATUS_ERROR = 0, 1, 2
SPAN_KINDS = ("unspecified", "internal", "server", "client", "producer", "consumer")


@dataclass(slots=True)
class SpanEvent:
    name: str
    time_unix_nano: int = 0
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Span:
    """One span, in plain Python values (ids as lower-case hex)."""

    trace_id: str
    span_id: str
    name: str = ""
    parent_span_id: str | None = None
    kind: int = 0
    start_time_unix_nano: int = 0
    end_time_unix_nano: int = 0
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[SpanEvent] = field(default_factory=list)
    status_code: int = STATUS_UNSET
    status_message: str = ""
    # Resource attributes with the instrumentation scope's merged over them.
    resource: dict[str, Any] = field(default_factory=dict)
    scope_name: str = ""
    scope_version: str = ""


# --- authentication -------------------------------------------------------------------


def project_key(headers: Mapping[str, str], query: Mapping[str, str] | None = None) -> str:
    """The project key of an OTLP request, however the exporter sends it.

    * ``Authorization: Bearer <key>`` (our docs, PostHog's AI exporter) or
      ``x-heliograph-key: <key>``;
    * ``Authorization: Basic base64(<key>:<secret>)``: the Langfuse SDKs send
      their public and secret key so. The public key is the project key; the
      secret is not checked (a project key only writes, as a DSN does);
    * ``?token=<key>`` in the URL (PostHog's exporters, when headers cannot be set).

    Raises :class:`AuthError` (401) when none is given, when a header is
    malformed, or when two name different keys.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    keys: set[str] = set()
    authorization = lowered.get("authorization", "").strip()
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        credentials = credentials.strip()
        if scheme.lower() == "bearer" and credentials:
            keys.add(credentials)
        elif scheme.lower() == "basic" and credentials:
            keys.add(_basic_user(credentials))
        else:
            raise AuthError(
                "Authorization header must be 'Bearer <project key>' "
                "or 'Basic base64(<project key>:<secret>)'"
            )
    direct = lowered.get("x-heliograph-key", "").strip()
    if direct:
        keys.add(direct)
    token = (query or {}).get("token", "").strip()
    if token:
        keys.add(token)
    if not keys:
        raise AuthError(
            "no project key: send 'Authorization: Bearer <project key>' "
            "or 'x-heliograph-key: <project key>'"
        )
    if len(keys) > 1:
        raise AuthError("the request names more than one project key")
    return keys.pop()


def _basic_user(credentials: str) -> str:
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise AuthError("Basic credentials must be base64 of '<project key>:<secret>'") from None
    user, _, _secret = decoded.partition(":")
    if not user.strip():
        raise AuthError("Basic credentials name no project key")
    return user.strip()


# --- decoding -------------------------------------------------------------------------


def decode_traces(body: bytes, content_type: str) -> list[Span]:
    """Decode an ``ExportTraceServiceRequest``; spans without valid ids are skipped."""
    return decode_traces_counted(body, content_type)[0]


def decode_traces_counted(body: bytes, content_type: str) -> tuple[list[Span], int]:
    """Like :func:`decode_traces`, also returning how many spans were rejected
    (for the response's ``partial_success``). A gzip body (magic bytes) is
    decompressed here, up to :data:`OTLP_MAX_BYTES`."""
    if body.startswith(b"\x1f\x8b"):
        body = bodies.decompress(body, "gzip", OTLP_MAX_BYTES)
    media = content_type.split(";", 1)[0].strip().lower()
    if media in (PROTOBUF, "application/protobuf", "application/octet-stream"):
        return _decode_protobuf(body)
    if media == JSON or media.endswith("+json"):
        return _decode_json(body)
    raise BadRequest(f"unsupported content type {content_type!r}: send {PROTOBUF} or {JSON}")


def _decode_protobuf(body: bytes) -> tuple[list[Span], int]:
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError:
        raise BadRequest("body is not a valid ExportTraceServiceRequest") from None
    spans: list[Span] = []
    rejected = 0
    for resource_spans in request.resource_spans:
        resource = _proto_attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope
            merged = {**resource, **_proto_attributes(scope.attributes)}
            for pb in scope_spans.spans:
                trace_id, span_id = pb.trace_id.hex(), pb.span_id.hex()
                if not _valid_id(trace_id, 32) or not _valid_id(span_id, 16):
                    rejected += 1
                    continue
                spans.append(
                    Span(
                        trace_id=trace_id,
                        span_id=span_id,
                        name=pb.name,
                        parent_span_id=pb.parent_span_id.hex() or None,
                        kind=int(pb.kind),
                        start_time_unix_nano=pb.start_time_unix_nano,
                        end_time_unix_nano=pb.end_time_unix_nano,
                        attributes=_proto_attributes(pb.attributes),
                        events=[
                            SpanEvent(e.name, e.time_unix_nano, _proto_attributes(e.attributes))
                            for e in pb.events
                        ],
                        status_code=int(pb.status.code),
                        status_message=pb.status.message,
                        resource=merged,
                        scope_name=scope.name,
                        scope_version=scope.version,
                    )
                )
    return spans, rejected


def _proto_attributes(items: Iterable[KeyValue]) -> dict[str, Any]:
    return {item.key: _proto_value(item.value) for item in items}


def _proto_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    if kind == "array_value":
        return [_proto_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return _proto_attributes(value.kvlist_value.values)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return None


def json_request(body: bytes, message: str) -> dict[str, Any]:
    """An OTLP JSON request body (``message``: its type, for errors), charged to the budget.

    At ingest the parsed body is held until the request ends, so its size is
    charged to the process-wide memory budget first.
    """
    budget.charge(budget.parsed_cost(body))
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest("body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest(f"body must be a JSON {message} object")
    if depth_exceeds(data):
        # Attribute values nest three JSON levels per level (AnyValue, ArrayValue, values).
        raise BadRequest(f"JSON body nested deeper than {MAX_JSON_DEPTH} levels")
    return data


def _decode_json(body: bytes) -> tuple[list[Span], int]:
    data = json_request(body, "ExportTraceServiceRequest")
    spans: list[Span] = []
    rejected = 0
    for resource_spans in _list(_get(data, "resourceSpans", "resource_spans")):
        resource_value = _get(resource_spans, "resource")
        resource = _json_attributes(
            _get(resource_value, "attributes") if isinstance(resource_value, dict) else None
        )
        scope_list = _get(resource_spans, "scopeSpans", "scope_spans")
        if scope_list is None:
            scope_list = _get(
                resource_spans, "instrumentationLibrarySpans", "instrumentation_library_spans"
            )
        for scope_spans in _list(scope_list):
            scope = _get(scope_spans, "scope")
            if not isinstance(scope, dict):
                scope = _get(scope_spans, "instrumentationLibrary", "instrumentation_library")
            scope = scope if isinstance(scope, dict) else {}
            merged = {**resource, **_json_attributes(_get(scope, "attributes"))}
            for raw in _list(_get(scope_spans, "spans")):
                span = _json_span(raw, merged, scope)
                if span is None:
                    rejected += 1
                else:
                    spans.append(span)
    return spans, rejected


def _json_span(raw: Any, resource: dict[str, Any], scope: Mapping[str, Any]) -> Span | None:
    if not isinstance(raw, dict):
        return None
    trace_id = _json_id(_get(raw, "traceId", "trace_id"), 32)
    span_id = _json_id(_get(raw, "spanId", "span_id"), 16)
    if trace_id is None or span_id is None:
        return None
    status = _get(raw, "status")
    status = status if isinstance(status, dict) else {}
    return Span(
        trace_id=trace_id,
        span_id=span_id,
        name=str(_get(raw, "name") or ""),
        parent_span_id=_json_id(_get(raw, "parentSpanId", "parent_span_id"), 16),
        kind=_enum(_get(raw, "kind"), "SPAN_KIND_", SPAN_KINDS),
        start_time_unix_nano=_json_int(_get(raw, "startTimeUnixNano", "start_time_unix_nano")),
        end_time_unix_nano=_json_int(_get(raw, "endTimeUnixNano", "end_time_unix_nano")),
        attributes=_json_attributes(_get(raw, "attributes")),
        events=[
            SpanEvent(
                name=str(_get(event, "name") or ""),
                time_unix_nano=_json_int(_get(event, "timeUnixNano", "time_unix_nano")),
                attributes=_json_attributes(_get(event, "attributes")),
            )
            for event in _list(_get(raw, "events"))
            if isinstance(event, dict)
        ],
        status_code=_enum(_get(status, "code"), "STATUS_CODE_", ("unset", "ok", "error")),
        status_message=str(_get(status, "message") or ""),
        resource=resource,
        scope_name=str(_get(scope, "name") or ""),
        scope_version=str(_get(scope, "version") or ""),
    )


def _get(data: Any, *keys: str) -> Any:
    if not isinstance(data, dict):
        return None
    for key in keys:
        if key in data:
            return data[key]
    return None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _json_attributes(items: Any) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for item in _list(items):
        if isinstance(item, dict) and isinstance(item.get("key"), str):
            result[item["key"]] = _json_value(item.get("value"))
    return result


def _json_value(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    for key in ("stringValue", "string_value"):
        if key in value:
            return value[key]
    for key in ("boolValue", "bool_value"):
        if key in value:
            return bool(value[key])
    for key in ("intValue", "int_value"):
        if key in value:
            return _json_int(value[key])
    for key in ("doubleValue", "double_value"):
        if key in value:
            try:
                return float(value[key])
            except (TypeError, ValueError):
                return None
    for key in ("arrayValue", "array_value"):
        if key in value:
            return [_json_value(v) for v in _list(_get(value[key], "values"))]
    for key in ("kvlistValue", "kvlist_value"):
        if key in value:
            return _json_attributes(_get(value[key], "values"))
    for key in ("bytesValue", "bytes_value"):
        if key in value:
            return value[key]
    return None


def _json_int(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _json_id(value: Any, length: int) -> str | None:
    """OTLP JSON ids are hex; tolerate the protobuf JSON mapping's base64 too."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().lower()
    if len(text) == length and _valid_id(text, length):
        return text
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    text = raw.hex()
    return text if _valid_id(text, length) else None


def _valid_id(text: str, length: int) -> bool:
    return (
        len(text) == length and text != "0" * length and all(c in "0123456789abcdef" for c in text)
    )


def _enum(value: Any, prefix: str, names: tuple[str, ...]) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        name = value.upper().removeprefix(prefix).lower()
        if name in names:
            return names.index(name)
        if value.isdigit():
            return int(value)
    return 0


# --- the response ---------------------------------------------------------------------


def export_response(rejected: int = 0, message: str = "", content_type: str = PROTOBUF) -> bytes:
    """An ``ExportTraceServiceResponse`` in the request's encoding.

    With nothing rejected and no message, ``partial_success`` is left unset
    (full success). Send it with :func:`response_content_type`.
    """
    response = ExportTraceServiceResponse()
    if rejected or message:
        response.partial_success.CopyFrom(
            ExportTracePartialSuccess(rejected_spans=rejected, error_message=message)
        )
    if response_content_type(content_type) == JSON:
        payload: dict[str, Any] = {}
        if rejected or message:
            payload["partialSuccess"] = {"rejectedSpans": str(rejected), "errorMessage": message}
        return orjson.dumps(payload)
    serialized: bytes = response.SerializeToString()
    return serialized


def response_content_type(request_content_type: str | None) -> str:
    media = (request_content_type or "").split(";", 1)[0].strip().lower()
    return JSON if media == JSON or media.endswith("+json") else PROTOBUF
