"""OTLP/HTTP traces: the real exporter's bytes in, PostHog-shaped LLM events out."""

from __future__ import annotations

import base64
import gzip
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from heliograph.digest.costs import compute_cost
from heliograph.model import Event
from heliograph.protocols import genai, otlp
from heliograph.protocols.errors import AuthError, BadRequest

NOW = 1_750_000_000.0


class _Collector(BaseHTTPRequestHandler):
    requests: list[tuple[dict[str, str], bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.requests.append((headers, body))
        payload = otlp.export_response(content_type=headers.get("content-type", ""))
        self.send_response(200)
        self.send_header("Content-Type", otlp.response_content_type(headers.get("content-type")))
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    handler = type("Handler", (_Collector,), {"requests": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}/v1/traces", handler.requests
    httpd.shutdown()
    httpd.server_close()


def _export_agent_run(endpoint: str, compression: Compression | None = None) -> None:
    """An agent run as the GenAI semantic conventions describe it, through the real SDK."""
    exporter = OTLPSpanExporter(
        endpoint=endpoint,
        headers={"Authorization": "Bearer hg_project_key"},
        compression=compression,
    )
    provider = TracerProvider(
        resource=Resource.create(
            {
                "service.name": "support-bot",
                "service.version": "2.4.0",
                "deployment.environment.name": "production",
            }
        )
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test.genai", "1.0")
    with tracer.start_as_current_span("invoke_agent Support") as agent:
        agent.set_attribute("gen_ai.operation.name", "invoke_agent")
        agent.set_attribute("gen_ai.agent.name", "Support")
        agent.set_attribute("user.id", "customer-42")
        with tracer.start_as_current_span("chat claude-sonnet-4-5") as chat:
            chat.set_attributes(
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "anthropic",
                    "gen_ai.request.model": "claude-sonnet-4-5",
                    "gen_ai.response.model": "claude-sonnet-4-5-20250929",
                    "gen_ai.request.temperature": 0.2,
                    "gen_ai.request.max_tokens": 512,
                    "gen_ai.usage.input_tokens": 1500,
                    "gen_ai.usage.output_tokens": 200,
                    "gen_ai.usage.cache_read.input_tokens": 1000,
                    "gen_ai.usage.cache_creation.input_tokens": 100,
                    "gen_ai.response.finish_reasons": ["tool_call"],
                    "gen_ai.response.id": "msg_01",
                    "gen_ai.conversation.id": "conv-7",
                    "user.id": "customer-42",
                    "server.address": "api.anthropic.com",
                    "gen_ai.system_instructions": json.dumps(
                        [{"type": "text", "content": "You are helpful."}]
                    ),
                    "gen_ai.input.messages": json.dumps(
                        [
                            {
                                "role": "user",
                                "parts": [{"type": "text", "content": "Where is my order?"}],
                            }
                        ]
                    ),
                    "gen_ai.output.messages": json.dumps(
                        [
                            {
                                "role": "assistant",
                                "parts": [
                                    {
                                        "type": "tool_call",
                                        "id": "call_1",
                                        "name": "find_order",
                                        "arguments": {"customer": "42"},
                                    }
                                ],
                                "finish_reason": "tool_call",
                            }
                        ]
                    ),
                }
            )
        with tracer.start_as_current_span("execute_tool find_order") as tool:
            tool.set_attributes(
                {
                    "gen_ai.operation.name": "execute_tool",
                    "gen_ai.tool.name": "find_order",
                    "gen_ai.tool.call.arguments": '{"customer": "42"}',
                    "gen_ai.tool.call.result": '{"status": "shipped"}',
                }
            )
        with tracer.start_as_current_span("embeddings text-embedding-3-small") as embed:
            embed.set_attributes(
                {
                    "gen_ai.operation.name": "embeddings",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "text-embedding-3-small",
                    "gen_ai.usage.input_tokens": 10,
                    "error.type": "RateLimitError",
                }
            )
            try:
                raise RuntimeError("429 Too Many Requests")
            except RuntimeError as exc:
                embed.record_exception(exc)
                embed.set_status(Status(StatusCode.ERROR, "rate limited"))
    provider.shutdown()


def _events(body: bytes, content_type: str = otlp.PROTOBUF) -> dict[str, Event]:
    spans = otlp.decode_traces(body, content_type)
    events = [genai.span_to_event(span, project_id=3, received_at=NOW) for span in spans]
    return {event.properties["$ai_span_name"]: event for event in events}


def _one(body: bytes, content_type: str = "application/json") -> Event:
    [event] = _events(body, content_type).values()
    return event


def test_real_exporter_protobuf(collector: tuple[str, list[Any]]) -> None:
    endpoint, requests = collector
    _export_agent_run(endpoint)
    bodies = [body for headers, body in requests]
    assert all(h["content-type"] == "application/x-protobuf" for h, _ in requests)
    assert requests[0][0]["authorization"] == "Bearer hg_project_key"
    events: dict[str, Event] = {}
    for body in bodies:
        events.update(_events(body))
    assert set(events) == {
        "invoke_agent Support",
        "chat claude-sonnet-4-5",
        "execute_tool find_order",
        "embeddings text-embedding-3-small",
    }
    agent = events["invoke_agent Support"]
    chat = events["chat claude-sonnet-4-5"]
    tool = events["execute_tool find_order"]
    embed = events["embeddings text-embedding-3-small"]

    assert chat.kind == "analytics"
    assert chat.name == "$ai_generation"
    assert agent.name == tool.name == "$ai_span"
    assert embed.name == "$ai_embedding"

    # Identity: one trace, the parent links, resource attributes.
    assert len({e.trace_id for e in events.values()}) == 1
    assert chat.trace_id is not None and len(chat.trace_id) == 32
    assert chat.span_id is not None and len(chat.span_id) == 16
    assert chat.properties["$ai_trace_id"] == chat.trace_id
    assert chat.properties["$ai_parent_id"] == agent.span_id
    assert "$ai_parent_id" not in agent.properties
    assert chat.environment == "production"
    assert chat.release == "2.4.0"
    assert chat.properties["$service_name"] == "support-bot"
    assert chat.platform == "python"
    assert chat.distinct_id == "customer-42"
    assert len(chat.event_id) == 32
    assert abs(chat.timestamp - time.time()) < 60  # the span's start

    props = chat.properties
    assert props["$ai_provider"] == "anthropic"
    assert props["$ai_model"] == "claude-sonnet-4-5-20250929"
    assert props["$ai_input_tokens"] == 1500
    assert props["$ai_output_tokens"] == 200
    assert props["$ai_cache_read_input_tokens"] == 1000
    assert props["$ai_cache_creation_input_tokens"] == 100
    assert props["$ai_cache_reporting_exclusive"] is False
    assert props["$ai_stop_reason"] == "tool_call"
    assert props["$ai_temperature"] == 0.2
    assert props["$ai_max_tokens"] == 512
    assert props["$ai_model_parameters"] == {"temperature": 0.2, "max_tokens": 512}
    assert props["$ai_session_id"] == "conv-7"
    assert props["$ai_base_url"] == "api.anthropic.com"
    assert props["$ai_is_error"] is False
    assert isinstance(props["$ai_latency"], float) and props["$ai_latency"] >= 0
    assert props["$ai_input"] == [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "Where is my order?"},
    ]
    assert props["$ai_output_choices"] == [
        {
            "role": "assistant",
            "content": [
                {
                    "type": "function",
                    "id": "call_1",
                    "function": {"name": "find_order", "arguments": {"customer": "42"}},
                }
            ],
            "finish_reason": "tool_call",
        }
    ]

    assert tool.properties["$ai_input_state"] == {"customer": "42"}
    assert tool.properties["$ai_output_state"] == {"status": "shipped"}
    assert tool.properties["$ai_tool_name"] == "find_order"
    assert agent.properties["$ai_agent_name"] == "Support"
    # No user on the tool span: personless, keyed by the trace as posthog does.
    assert tool.distinct_id == tool.trace_id
    assert tool.properties["$process_person_profile"] is False

    assert embed.properties["$ai_is_error"] is True
    assert embed.properties["$ai_error"] == "rate limited"

    # Protocol-blind pricing: inclusive OTel counts priced right for Anthropic.
    cost = compute_cost(props)
    assert cost.source == "price_table"
    assert cost.input_usd == pytest.approx(400 * 3e-6 + 1000 * 0.3e-6 + 100 * 3.75e-6)


def test_real_exporter_gzip(collector: tuple[str, list[Any]]) -> None:
    endpoint, requests = collector
    _export_agent_run(endpoint, compression=Compression.Gzip)
    headers, body = requests[0]
    assert headers["content-encoding"] == "gzip"
    assert body[:2] == b"\x1f\x8b"
    assert otlp.decode_traces(body, headers["content-type"])
    assert otlp.decode_traces(gzip.decompress(body), headers["content-type"])


def _json_request(span: dict[str, Any], camel: bool = True) -> bytes:
    def key(name: str) -> str:
        if camel:
            return name
        return "".join("_" + c.lower() if c.isupper() else c for c in name)

    def rename(value: Any) -> Any:
        if isinstance(value, dict):
            return {key(k): rename(v) for k, v in value.items()}
        if isinstance(value, list):
            return [rename(v) for v in value]
        return value

    request = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [
                        {"key": "service.name", "value": {"stringValue": "rag"}},
                        {"key": "deployment.environment", "value": {"stringValue": "dev"}},
                    ]
                },
                "scopeSpans": [
                    {
                        "scope": {
                            "name": "openinference.instrumentation.openai",
                            "attributes": [
                                {"key": "deployment.environment", "value": {"stringValue": "qa"}}
                            ],
                        },
                        "spans": [span],
                    }
                ],
            }
        ]
    }
    return json.dumps(rename(request)).encode()


def _attr(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    return {"key": key, "value": {"stringValue": value}}


OPENINFERENCE_SPAN: dict[str, Any] = {
    "traceId": "5b8efff798038103d269b633813fc60c",
    "spanId": "eee19b7ec3c1b174",
    "parentSpanId": "eee19b7ec3c1b173",
    "name": "ChatCompletion",
    "kind": 3,
    "startTimeUnixNano": "1750000000000000000",
    "endTimeUnixNano": "1750000001250000000",
    "attributes": [
        _attr("openinference.span.kind", "LLM"),
        _attr("llm.provider", "openai"),
        _attr("llm.model_name", "gpt-4o-2024-08-06"),
        _attr("llm.token_count.prompt", 100),
        _attr("llm.token_count.completion", 20),
        _attr("llm.token_count.total", 120),
        _attr("llm.invocation_parameters", '{"temperature": 0.5}'),
        _attr("llm.input_messages.0.message.role", "system"),
        _attr("llm.input_messages.0.message.content", "Be brief."),
        _attr("llm.input_messages.1.message.role", "user"),
        _attr("llm.input_messages.1.message.contents.0.message_content.type", "text"),
        _attr("llm.input_messages.1.message.contents.0.message_content.text", "Hi"),
        _attr("llm.output_messages.0.message.role", "assistant"),
        _attr("llm.output_messages.0.message.content", "Hello!"),
        _attr("session.id", "s-1"),
        _attr("llm.tools.0.tool.json_schema", '{"name": "lookup"}'),
    ],
    "status": {"code": "STATUS_CODE_OK"},
}


@pytest.mark.parametrize("camel", [True, False])
def test_openinference_over_otlp_json(camel: bool) -> None:
    event = _one(_json_request(OPENINFERENCE_SPAN, camel=camel))
    assert event.name == "$ai_generation"
    assert event.trace_id == "5b8efff798038103d269b633813fc60c"
    assert event.span_id == "eee19b7ec3c1b174"
    assert event.timestamp == pytest.approx(1_750_000_000.0)
    assert event.environment == "qa"  # the scope's attributes win over the resource's
    props = event.properties
    assert props["$ai_parent_id"] == "eee19b7ec3c1b173"
    assert props["$ai_latency"] == pytest.approx(1.25)
    assert props["$ai_provider"] == "openai"
    assert props["$ai_model"] == "gpt-4o-2024-08-06"
    assert (props["$ai_input_tokens"], props["$ai_output_tokens"]) == (100, 20)
    assert props["$ai_total_tokens"] == 120
    assert props["$ai_temperature"] == 0.5
    assert props["$ai_session_id"] == "s-1"
    assert props["$otel_span_kind"] == "client"
    assert props["$ai_input"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
    ]
    assert props["$ai_output_choices"] == [{"role": "assistant", "content": "Hello!"}]
    assert props["$ai_tools"] == [{"name": "lookup"}]
    assert compute_cost(props).matched_model == "openai/gpt-4o"


def test_older_conventions_span_events_and_indexed_attributes() -> None:
    span = {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b175",
        "name": "openai.chat",
        "startTimeUnixNano": 1_750_000_000_000_000_000,
        "endTimeUnixNano": 1_750_000_000_500_000_000,
        "attributes": [
            _attr("gen_ai.system", "openai"),
            _attr("llm.request.type", "chat"),
            _attr("gen_ai.request.model", "gpt-4o-mini"),
            _attr("gen_ai.usage.prompt_tokens", 11),
            _attr("gen_ai.usage.completion_tokens", 5),
        ],
        "events": [
            {"name": "gen_ai.user.message", "attributes": [_attr("content", "Hi there")]},
            {
                "name": "gen_ai.choice",
                "attributes": [
                    _attr("index", 0),
                    _attr("finish_reason", "stop"),
                    _attr("message", '{"role": "assistant", "content": "Hello"}'),
                ],
            },
        ],
        "status": {"code": 2, "message": "upstream 500"},
    }
    event = _one(_json_request(span), "application/json; charset=utf-8")
    props = event.properties
    assert event.name == "$ai_generation"
    assert props["$ai_provider"] == "openai"
    assert (props["$ai_input_tokens"], props["$ai_output_tokens"]) == (11, 5)
    assert props["$ai_input"] == [{"role": "user", "content": "Hi there"}]
    assert props["$ai_output_choices"] == [
        {"role": "assistant", "content": "Hello", "finish_reason": "stop"}
    ]
    assert props["$ai_is_error"] is True
    assert props["$ai_error"] == "upstream 500"

    indexed = dict(span, events=[], status={})
    indexed["attributes"] = [
        *span["attributes"],
        _attr("gen_ai.prompt.0.role", "user"),
        _attr("gen_ai.prompt.0.content", "Q"),
        _attr("gen_ai.completion.0.content", "A"),
        _attr("gen_ai.completion.0.finish_reason", "stop"),
    ]
    event = _one(_json_request(indexed))
    assert event.properties["$ai_input"] == [{"role": "user", "content": "Q"}]
    assert event.properties["$ai_output_choices"] == [
        {"role": "assistant", "content": "A", "finish_reason": "stop"}
    ]


def test_invalid_spans_are_counted_not_fatal() -> None:
    bad = dict(OPENINFERENCE_SPAN, traceId="00000000000000000000000000000000")
    missing = {k: v for k, v in OPENINFERENCE_SPAN.items() if k != "spanId"}
    body = json.loads(_json_request(OPENINFERENCE_SPAN))
    body["resourceSpans"][0]["scopeSpans"][0]["spans"] += [bad, missing]
    spans, rejected = otlp.decode_traces_counted(json.dumps(body).encode(), "application/json")
    assert len(spans) == 1
    assert rejected == 2


def test_base64_ids_from_a_protobuf_json_mapper_are_accepted() -> None:
    import base64

    span = dict(
        OPENINFERENCE_SPAN,
        traceId=base64.b64encode(bytes.fromhex(OPENINFERENCE_SPAN["traceId"])).decode(),
        spanId=base64.b64encode(bytes.fromhex(OPENINFERENCE_SPAN["spanId"])).decode(),
    )
    [parsed] = otlp.decode_traces(_json_request(span), "application/json")
    assert parsed.trace_id == OPENINFERENCE_SPAN["traceId"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"\xff\xff\xff", otlp.PROTOBUF),
        (b"{not json", "application/json"),
        (b"[]", "application/json"),
        (b"{}", "text/plain"),
    ],
)
def test_bad_requests(body: bytes, content_type: str) -> None:
    with pytest.raises(BadRequest):
        otlp.decode_traces(body, content_type)


def test_export_response() -> None:
    assert otlp.export_response() == b""
    parsed = ExportTraceServiceResponse.FromString(otlp.export_response(2, "bad ids"))
    assert parsed.partial_success.rejected_spans == 2
    assert parsed.partial_success.error_message == "bad ids"
    as_json = json.loads(otlp.export_response(2, "bad ids", "application/json"))
    assert as_json == {"partialSuccess": {"rejectedSpans": "2", "errorMessage": "bad ids"}}
    assert json.loads(otlp.export_response(content_type="application/json")) == {}
    assert otlp.response_content_type("application/json; charset=utf-8") == "application/json"
    assert otlp.response_content_type(None) == otlp.PROTOBUF


def test_project_key_headers() -> None:
    assert otlp.project_key({"authorization": "Bearer abc123"}) == "abc123"
    assert otlp.project_key({"Authorization": "bearer  abc123 "}) == "abc123"
    assert otlp.project_key({"X-Heliograph-Key": "abc123"}) == "abc123"
    both = {"authorization": "Bearer abc123", "x-heliograph-key": "abc123"}
    assert otlp.project_key(both) == "abc123"
    # Langfuse's SDKs: Basic <public key>:<secret key>, the public key being the project's.
    langfuse = "Basic " + base64.b64encode(b"abc123:sk-lf-anything").decode()
    assert otlp.project_key({"Authorization": langfuse}) == "abc123"
    assert otlp.project_key({}, {"token": "abc123"}) == "abc123"  # PostHog's ?token=
    with pytest.raises(AuthError):
        otlp.project_key({"authorization": "Bearer abc123"}, {"token": "other"})
    for headers in (
        {},
        {"authorization": "Basic abc123"},
        {"authorization": "Basic " + base64.b64encode(b":secret-only").decode()},
        {"authorization": "Bearer"},
        {"authorization": "Bearer abc123", "x-heliograph-key": "other"},
    ):
        with pytest.raises(AuthError) as info:
            otlp.project_key(headers)
        assert info.value.status == 401


def test_model_calls_inherit_the_user_and_session_of_the_span_above(
    collector: tuple[str, list[Any]],
) -> None:
    """The app names the user on its request span; the instrumented call under it does not."""
    from heliograph.digest.decoders import decode_payload

    endpoint, requests = collector
    provider = TracerProvider(resource=Resource.create({"service.name": "support-bot"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    tracer = provider.get_tracer("app")
    with tracer.start_as_current_span("handle ticket") as request:
        request.set_attributes(
            {
                "user.id": "cust-42",
                "session.id": "ticket-7",
                "customer.tier": "gold",
                "feature": "refunds",
                "agent.final_result": "the refund was approved",  # a payload: not kept
            }
        )
        with tracer.start_as_current_span("tool"), tracer.start_as_current_span("chat") as call:
            call.set_attributes(
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.usage.input_tokens": 12,
                    "gen_ai.usage.output_tokens": 3,
                    "retry.count": 2,
                }
            )
    provider.shutdown()
    # One export holding the whole trace, as a batch processor sends it.
    merged = ExportTraceServiceRequest()
    for _headers, body in requests:
        merged.MergeFromString(body)
    decoded = decode_payload(
        "otlp_proto", merged.SerializeToString(), encoding=None, project_id=3, received_at=NOW
    )
    events = {event.properties["$ai_span_name"]: event for event in decoded.events}
    chat = events["chat"]
    assert chat.name == "$ai_generation"
    assert chat.distinct_id == "cust-42"
    assert chat.properties["$ai_session_id"] == "ticket-7"
    assert chat.properties["retry.count"] == 2  # the app's own attribute, kept
    assert "$process_person_profile" not in chat.properties
    parent = events["handle ticket"].properties
    assert (parent["customer.tier"], parent["feature"]) == ("gold", "refunds")
    assert "agent.final_result" not in parent


def test_a_streamed_openinference_completion_is_the_assistants() -> None:
    attributes = [
        a
        for a in OPENINFERENCE_SPAN["attributes"]
        if not a["key"].startswith("llm.output_messages")
    ]
    no_role = dict(
        OPENINFERENCE_SPAN,
        attributes=[*attributes, _attr("llm.output_messages.0.message.content", "Hel-lo")],
    )
    choices = _one(_json_request(no_role)).properties["$ai_output_choices"]
    assert choices == [{"role": "assistant", "content": "Hel-lo"}]
    text_only = dict(OPENINFERENCE_SPAN, attributes=[*attributes, _attr("output.value", "Hi!")])
    choices = _one(_json_request(text_only)).properties["$ai_output_choices"]
    assert choices == [{"role": "assistant", "content": "Hi!"}]
