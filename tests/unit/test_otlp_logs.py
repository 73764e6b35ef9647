"""OTLP logs: the real openai-v2 instrumentation's message events join their generation.

The real ``opentelemetry-instrumentation-openai-v2`` calls a fake OpenAI server
on loopback; the real OTLP exporters send its spans and log records to a
local collector, and the captured requests are replayed into the app
in-process (:mod:`tests.ingest_app`) in the order a test chooses, with digest
run between them or not: logs first, span first, or both in one batch.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

from heliograph.digest.decoders import decode_payload
from heliograph.llm_messages import span_event_id
from heliograph.protocols import genai_logs, otlp
from heliograph.protocols.errors import BadRequest
from heliograph.protocols.otlp_logs import decode_logs, export_logs_response
from tests.ingest_app import IngestApp, ingest_app
from tests.llm_servers import DEFAULT_TEXT, FakeOpenAIServer

SYSTEM = "Be brief."
QUESTION = "Say hi. My key is Bearer sk-abcdef1234567890, keep it secret."


class _Collector(BaseHTTPRequestHandler):
    requests: list[tuple[str, bytes]]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.requests.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


@dataclass
class Export:
    """What the real instrumentation exported for one chat call."""

    traces: list[bytes]
    logs: list[bytes]


def _capture_content(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ask the instrumentation for message content as log events, in whichever
    conventions the installed ``opentelemetry-util-genai`` speaks."""
    from opentelemetry.util.genai.utils import is_experimental_mode

    if is_experimental_mode():
        monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
        monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "EVENT_ONLY")
    else:
        monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")


@pytest.fixture(scope="module")
def export() -> Iterator[Export]:
    """One instrumented chat call through the real openai client, exported for real."""
    import openai
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    monkeypatch = pytest.MonkeyPatch()
    _capture_content(monkeypatch)
    requests: list[tuple[str, bytes]] = []
    handler = type("Collector", (_Collector,), {"requests": requests})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    resource = Resource.create({"service.name": "support-bot"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces"))
    )
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{endpoint}/v1/logs"))
    )
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, logger_provider=logger_provider)
    try:
        with FakeOpenAIServer() as fake:
            client = openai.OpenAI(base_url=fake.base_url, api_key="sk-test")
            reply = client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[
                    {"role": "system", "content": SYSTEM},
                    {"role": "user", "content": QUESTION},
                ],
            )
            assert reply.choices[0].message.content == DEFAULT_TEXT
        tracer_provider.shutdown()
        logger_provider.shutdown()
    finally:
        instrumentor.uninstrument()
        monkeypatch.undo()
        server.shutdown()
        server.server_close()
    yield Export(
        traces=[body for path, body in requests if path == "/v1/traces"],
        logs=[body for path, body in requests if path == "/v1/logs"],
    )


@pytest.fixture
def app(tmp_path: Path) -> Iterator[IngestApp]:
    with ingest_app(tmp_path) as running:
        yield running


def _post(app: IngestApp, path: str, body: bytes, content_type: str = otlp.PROTOBUF) -> Any:
    return app.client.post(
        path,
        content=body,
        headers={"Authorization": f"Bearer {app.public_key}", "Content-Type": content_type},
    )


def _generation_id(export: Export) -> str:
    [span] = [s for body in export.traces for s in otlp.decode_traces(body, otlp.PROTOBUF)]
    return span_event_id(span.trace_id, span.span_id)


def test_the_real_instrumentation_logs_its_messages_with_the_spans_ids(export: Export) -> None:
    [span] = [s for body in export.traces for s in otlp.decode_traces(body, otlp.PROTOBUF)]
    records = [r for body in export.logs for r in decode_logs(body, otlp.PROTOBUF)]
    assert records, "the instrumentation logged nothing"
    assert {(r.trace_id, r.span_id) for r in records} == {(span.trace_id, span.span_id)}
    assert all(genai_logs.is_genai_message(r) for r in records)
    found = genai_logs.messages_of(records, project_id=1, received_at=0.0)
    [group] = found.groups
    assert group.inputs == [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": QUESTION},
    ]
    assert [m["content"] for m in group.outputs] == [DEFAULT_TEXT]
    assert not found.dropped


@pytest.mark.parametrize("order", ["logs first", "span first", "one batch"])
def test_the_generation_carries_its_logged_messages(
    app: IngestApp, export: Export, order: str
) -> None:
    app.runtime.store.update_project(app.project_id, keep_llm_payloads=True)
    first, second = (
        (export.logs, export.traces) if order != "span first" else (export.traces, export.logs)
    )
    for bodies, path in ((first, _path(first, export)), (second, _path(second, export))):
        for body in bodies:
            response = _post(app, path, body)
            assert response.status_code == 200, response.text
        if order != "one batch":
            app.digest()
    app.digest()
    stored = app.stored(_generation_id(export))
    assert stored is not None
    properties = stored.event.properties
    assert properties["$ai_model"] == "gpt-4o-mini"
    assert properties["$ai_input"][0] == {"role": "system", "content": SYSTEM}
    user = properties["$ai_input"][1]
    assert user["role"] == "user"
    assert "sk-abcdef1234567890" not in user["content"]  # scrubbed like any payload
    assert "Bearer [Filtered]" in user["content"]
    assert properties["$ai_output_choices"][0]["content"] == DEFAULT_TEXT
    assert properties["$ai_output_choices"][0]["role"] == "assistant"


def _path(bodies: list[bytes], export: Export) -> str:
    return "/v1/logs" if bodies is export.logs else "/v1/traces"


@pytest.mark.parametrize("order", ["logs first", "span first"])
def test_a_project_that_keeps_no_payloads_gets_no_messages(
    app: IngestApp, export: Export, order: str
) -> None:
    sent = [("/v1/logs", export.logs), ("/v1/traces", export.traces)]
    for path, bodies in sent if order == "logs first" else reversed(sent):
        for body in bodies:
            assert _post(app, path, body).status_code == 200
        app.digest()
    stored = app.stored(_generation_id(export))
    assert stored is not None
    assert "$ai_input" not in stored.event.properties
    assert "$ai_output_choices" not in stored.event.properties
    counted = {(o.outcome, o.reason) for o in app.runtime.store.outcomes(app.project_id)}
    assert ("filtered", "llm_payloads_not_kept") in counted


def test_the_response_is_an_export_logs_response(app: IngestApp, export: Export) -> None:
    response = _post(app, "/v1/logs", export.logs[0])
    assert response.headers["content-type"] == otlp.PROTOBUF
    parsed = ExportLogsServiceResponse()
    parsed.ParseFromString(response.content)
    assert not parsed.HasField("partial_success")


@pytest.mark.parametrize("path", ["/api/public/otel/v1/logs", "/i/v0/ai/otel/v1/logs"])
def test_the_logs_endpoint_has_the_traces_aliases(
    app: IngestApp, export: Export, path: str
) -> None:
    assert _post(app, path, export.logs[0]).status_code == 200
    assert app.runtime.queue.depth == 1


# --- decoding --------------------------------------------------------------------------


def _json_logs(*records: dict[str, Any], camel: bool = True) -> bytes:
    key = "logRecords" if camel else "log_records"
    scope = "scopeLogs" if camel else "scope_logs"
    resource = "resourceLogs" if camel else "resource_logs"
    return json.dumps(
        {resource: [{scope: [{"scope": {"name": "test"}, key: list(records)}]}]}
    ).encode()


TRACE = "5b8efff798038103d269b633813fc60c"
SPAN = "eee19b7ec3c1b174"


def _record(event: str | None, body: Any = None, **extra: Any) -> dict[str, Any]:
    record: dict[str, Any] = {"traceId": TRACE, "spanId": SPAN, "timeUnixNano": "1000"}
    if event is not None:
        record["eventName"] = event
    if body is not None:
        record["body"] = body
    record.update(extra)
    return record


def _kv(**values: Any) -> dict[str, Any]:
    return {"kvlistValue": {"values": [{"key": k, "value": v} for k, v in values.items()]}}


def test_json_records_in_the_legacy_conventions() -> None:
    body = _json_logs(
        _record("gen_ai.user.message", _kv(content={"stringValue": "hello"})),
        _record(
            "gen_ai.assistant.message",
            _kv(
                tool_calls={
                    "arrayValue": {
                        "values": [
                            _kv(
                                id={"stringValue": "call_1"},
                                type={"stringValue": "function"},
                                function=_kv(name={"stringValue": "lookup"}),
                            )
                        ]
                    }
                }
            ),
        ),
        _record(
            "gen_ai.tool.message",
            _kv(content={"stringValue": "42"}, id={"stringValue": "call_1"}),
        ),
        # Older SDKs name the event in an attribute; a text body is the content.
        _record(
            None,
            {"stringValue": "and then?"},
            attributes=[{"key": "event.name", "value": {"stringValue": "gen_ai.user.message"}}],
        ),
        _record(
            "gen_ai.choice",
            _kv(
                index={"intValue": "0"},
                finish_reason={"stringValue": "stop"},
                message=_kv(role={"stringValue": "assistant"}, content={"stringValue": "done"}),
            ),
        ),
    )
    found = genai_logs.messages_of(decode_logs(body, otlp.JSON), project_id=1, received_at=0.0)
    [group] = found.groups
    assert (group.trace_id, group.span_id, group.first_at) == (TRACE, SPAN, 1000)
    assert group.inputs == [
        {"role": "user", "content": "hello"},
        {
            "role": "assistant",
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "lookup"}}],
        },
        {"role": "tool", "content": "42", "tool_call_id": "call_1"},
        {"role": "user", "content": "and then?"},
    ]
    assert group.outputs == [
        {"role": "assistant", "content": "done", "finish_reason": "stop"},
    ]


def test_snake_case_json_and_base64_ids() -> None:
    import base64

    record = {
        "trace_id": base64.b64encode(bytes.fromhex(TRACE)).decode(),
        "span_id": base64.b64encode(bytes.fromhex(SPAN)).decode(),
        "event_name": "gen_ai.system.message",
        "body": _kv(content={"stringValue": "be nice"}),
    }
    [parsed] = decode_logs(_json_logs(record, camel=False), otlp.JSON)
    assert (parsed.trace_id, parsed.span_id) == (TRACE, SPAN)
    assert parsed.event_name == "gen_ai.system.message"


def test_the_latest_conventions_details_event() -> None:
    messages = [{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]
    outputs = [
        {"role": "assistant", "parts": [{"type": "text", "content": "yo"}], "finish_reason": "stop"}
    ]
    body = _json_logs(
        _record(
            "gen_ai.client.inference.operation.details",
            attributes=[
                {"key": "gen_ai.input.messages", "value": {"stringValue": json.dumps(messages)}},
                {"key": "gen_ai.output.messages", "value": {"stringValue": json.dumps(outputs)}},
                {"key": "gen_ai.system_instructions", "value": {"stringValue": "Be brief."}},
            ],
        )
    )
    [group] = genai_logs.messages_of(
        decode_logs(body, otlp.JSON), project_id=1, received_at=0.0
    ).groups
    assert group.inputs == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
    ]
    assert group.outputs == [{"role": "assistant", "content": "yo", "finish_reason": "stop"}]


def test_other_records_are_counted_and_dropped() -> None:
    body = _json_logs(
        _record(None, {"stringValue": "GET /health 200"}),  # the app's own log line
        _record("db.query", {"stringValue": "SELECT 1"}),
        {"eventName": "gen_ai.user.message", "body": _kv(content={"stringValue": "lost"})},
        _record("gen_ai.user.message", _kv(content={"stringValue": "kept"})),
    )
    found = genai_logs.messages_of(decode_logs(body, otlp.JSON), project_id=1, received_at=0.0)
    assert [g.inputs for g in found.groups] == [[{"role": "user", "content": "kept"}]]
    assert found.dropped == {genai_logs.NOT_GENAI: 2, genai_logs.NO_SPAN: 1}


def test_a_record_without_content_adds_no_message() -> None:
    # What the instrumentation logs when it captures no content: the role alone.
    body = _json_logs(_record("gen_ai.user.message"))
    found = genai_logs.messages_of(decode_logs(body, otlp.JSON), project_id=1, received_at=0.0)
    assert found.groups == [] and not found.dropped


def test_messages_per_generation_are_bounded() -> None:
    from heliograph.llm_messages import MAX_MESSAGES

    record = _record("gen_ai.user.message", _kv(content={"stringValue": "again"}))
    body = _json_logs(*([record] * (MAX_MESSAGES + 50)))
    [group] = genai_logs.messages_of(
        decode_logs(body, otlp.JSON), project_id=1, received_at=0.0
    ).groups
    assert len(group.inputs) == MAX_MESSAGES


def test_times_beyond_64_bits_are_dropped_not_stored() -> None:
    record = _record("gen_ai.user.message", _kv(content={"stringValue": "x"}))
    record["timeUnixNano"] = str(2**64 + 5)
    [parsed] = decode_logs(_json_logs(record), otlp.JSON)
    assert parsed.time_unix_nano == 0


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"\x0a\xff\xff\xff\xff\x0f", otlp.PROTOBUF),  # a length past the end
        (b"not json", otlp.JSON),
        (b"[]", otlp.JSON),
        (b"{}", "text/plain"),
    ],
)
def test_bad_bodies_are_bad_requests(body: bytes, content_type: str) -> None:
    with pytest.raises(BadRequest):
        decode_logs(body, content_type)


def test_export_logs_response_json() -> None:
    assert export_logs_response(content_type=otlp.JSON) == b"{}"
    partial = json.loads(export_logs_response(2, "two dropped", otlp.JSON))
    assert partial == {"partialSuccess": {"rejectedLogRecords": "2", "errorMessage": "two dropped"}}


# --- hostile requests, through the app ---------------------------------------------------


def test_a_bad_protobuf_is_a_400_in_google_rpc_status(app: IngestApp) -> None:
    response = _post(app, "/v1/logs", b"\x0a\xff\xff\xff\xff\x0f")
    assert response.status_code == 400
    assert response.content.startswith(b"\x08\x03\x12")  # code 3, INVALID_ARGUMENT; message
    assert b"ExportLogsServiceRequest" in response.content
    assert app.runtime.queue.depth == 0


def test_a_bad_json_body_is_a_400_in_json(app: IngestApp) -> None:
    response = _post(app, "/v1/logs", b"{", otlp.JSON)
    assert response.status_code == 400
    assert response.json()["code"] == 3


def test_a_body_over_the_limit_is_a_413(app: IngestApp) -> None:
    response = _post(app, "/v1/logs", b"\x00" * (otlp.OTLP_MAX_BYTES + 1))
    assert response.status_code == 413
    assert app.runtime.queue.depth == 0


def test_no_key_is_a_401(app: IngestApp) -> None:
    response = app.client.post("/v1/logs", content=b"", headers={"Content-Type": otlp.PROTOBUF})
    assert response.status_code == 401


def test_logs_with_nothing_to_keep_are_answered_and_not_queued(app: IngestApp) -> None:
    body = _json_logs(
        _record(None, {"stringValue": "GET /health 200"}),
        {"eventName": "gen_ai.user.message", "body": _kv(content={"stringValue": "no ids"})},
    )
    response = _post(app, "/v1/logs", body, otlp.JSON)
    assert response.status_code == 200
    assert response.json()["partialSuccess"]["rejectedLogRecords"] == "2"
    assert app.runtime.queue.depth == 0


def test_logs_of_a_span_that_never_comes_wait_harmlessly(app: IngestApp) -> None:
    app.runtime.store.update_project(app.project_id, keep_llm_payloads=True)
    body = _json_logs(
        _record("gen_ai.user.message", _kv(content={"stringValue": "anyone there?"})),
        _record(None, {"stringValue": "an app log line"}),
    )
    response = _post(app, "/v1/logs", body, otlp.JSON)
    assert response.json()["partialSuccess"]["rejectedLogRecords"] == "1"
    app.digest()
    assert app.stored(span_event_id(TRACE, SPAN)) is None  # nothing made up from the logs
    counted = {
        (o.outcome, o.reason): o.quantity for o in app.runtime.store.outcomes(app.project_id)
    }
    assert counted[("filtered", genai_logs.NOT_GENAI)] == 1


def test_a_queued_body_that_no_longer_decodes_is_counted_not_fatal(app: IngestApp) -> None:
    with pytest.raises(BadRequest):
        decode_payload(
            "otlp_logs_proto", b"\x0a\xff\xff", encoding=None, project_id=1, received_at=0.0
        )
    import asyncio
    import time

    asyncio.run(
        app.runtime.queue.append(app.project_id, "otlp_logs_proto", time.time(), b"\x0a\xff\xff")
    )
    app.digest()
    counted = {(o.outcome, o.category) for o in app.runtime.store.outcomes(app.project_id)}
    assert ("invalid", "default") in counted
