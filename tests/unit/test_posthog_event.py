"""PostHog events -> canonical events, from what the real posthog client sends."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from heliograph.digest.costs import compute_cost
from heliograph.model import Event
from heliograph.protocols import posthog_capture as posthog
from heliograph.protocols.posthog_event import coerce_ai_properties, to_event

TOKEN = "phc_event_tests"
NOW = 1_750_000_000.0


class _Server(BaseHTTPRequestHandler):
    """Captures PostHog batches and answers OpenAI chat completions."""

    captured: list[bytes]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path.endswith("/chat/completions"):
            request = json.loads(body)
            payload = json.dumps(
                {
                    "id": "chatcmpl-1",
                    "object": "chat.completion",
                    "created": 1_700_000_000,
                    "model": "gpt-4o-mini-2024-07-18",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "Hello back"},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {
                        "prompt_tokens": 1200,
                        "completion_tokens": 30,
                        "total_tokens": 1230,
                        "prompt_tokens_details": {"cached_tokens": 1000},
                        "completion_tokens_details": {"reasoning_tokens": 0},
                    },
                }
            ).encode()
            assert request["messages"][0]["content"] == "Hello"
        else:
            self.captured.append(body)
            payload = b'{"status": "Ok"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, list[bytes]]]:
    handler = type("Handler", (_Server,), {"captured": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}", handler.captured
    httpd.shutdown()
    httpd.server_close()


def _events(bodies: list[bytes]) -> list[Event]:
    events: list[Event] = []
    for body in bodies:
        batch = posthog.decode_capture(
            body=body, query={}, content_type="application/json", content_encoding=None
        )
        events += [to_event(raw, project_id=7, received_at=time.time()) for raw in batch.events]
    return events


def _raise_chained() -> None:
    try:
        {}["missing"]
    except KeyError as exc:
        raise RuntimeError("wrapper failed") from exc


def test_capture_exception_from_the_real_client(server: tuple[str, list[bytes]]) -> None:
    from posthog import Posthog

    host, captured = server
    client = Posthog(TOKEN, host=host, sync_mode=True)
    try:
        _raise_chained()
    except RuntimeError as exc:
        client.capture_exception(exc, distinct_id="user-9", properties={"environment": "prod"})
    client.shutdown()
    [event] = _events(captured)

    assert event.kind == "error"
    assert event.project_id == 7
    assert event.platform == "python"
    assert event.level == "error"
    assert event.distinct_id == "user-9"
    assert event.environment == "prod"
    assert event.user is not None and event.user.id == "user-9"
    assert len(event.event_id) == 32
    # Outermost first, root cause last.
    assert [e.type for e in event.exceptions] == ["RuntimeError", "KeyError"]
    assert event.message == "wrapper failed"
    outer = event.exceptions[0]
    assert outer.mechanism is not None and outer.mechanism.handled is True
    assert event.exceptions[1].mechanism is not None
    assert event.exceptions[1].mechanism.parent_id == 0
    # Frames oldest first: the crash frame is last and is our function.
    assert outer.frames[-1].function == "_raise_chained"
    assert outer.frames[-1].context_line is not None
    assert "raise RuntimeError" in outer.frames[-1].context_line
    assert outer.frames[-1].in_app is True
    assert outer.frames[-1].platform == "python"
    assert "$exception_list" not in event.properties
    assert event.crash_frames is outer.frames


def test_openai_wrapper_generation(server: tuple[str, list[bytes]]) -> None:
    pytest.importorskip("openai")
    from posthog import Posthog
    from posthog.ai.openai import OpenAI

    host, captured = server
    client = Posthog(TOKEN, host=host, sync_mode=True)
    openai = OpenAI(api_key="sk-test", base_url=f"{host}/v1", posthog_client=client)
    reply = openai.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Hello"}],
        posthog_trace_id="trace-123",
        posthog_properties={"environment": "staging"},
    )
    assert reply.choices[0].message.content == "Hello back"
    client.shutdown()
    [event] = _events(captured)

    assert event.kind == "analytics"
    assert event.name == "$ai_generation"
    assert event.trace_id == "trace-123"
    # No distinct id: the wrapper uses the trace id and marks the event personless.
    assert event.distinct_id == "trace-123"
    assert event.user is None
    assert event.environment == "staging"
    props = event.properties
    assert props["$ai_provider"] == "openai"
    assert props["$ai_model"] == "gpt-4o-mini"
    assert props["$ai_input_tokens"] == 1200
    assert props["$ai_output_tokens"] == 30
    assert props["$ai_cache_read_input_tokens"] == 1000
    assert isinstance(props["$ai_latency"], float)
    assert props["$ai_http_status"] == 200
    assert props["$ai_input"] == [{"role": "user", "content": "Hello"}]
    assert props["$ai_output_choices"][0]["role"] == "assistant"
    # And it prices, cache-aware (OpenAI counts cached tokens inside the input).
    cost = compute_cost(props)
    assert cost.source == "price_table"
    assert cost.input_usd == pytest.approx(200 * 0.15e-6 + 1000 * 0.075e-6)
    assert cost.output_usd == pytest.approx(30 * 0.6e-6)


def test_ai_property_coercions() -> None:
    properties: dict[str, Any] = {
        "$ai_trace_id": 12345,
        "$ai_span_id": True,
        "$ai_parent_id": {"not": "an id"},
        "$ai_session_id": "",
        "$ai_generation_id": 1.0,
        "$ai_input_tokens": "12",
        "$ai_output_tokens": 7.0,
        "$ai_cache_read_input_tokens": "nope",
        "$ai_input_audio_tokens": 3,
        "$ai_latency": "1.5",
        "$ai_time_to_first_token": 0.2,
        "$ai_http_status": "200",
        "$ai_is_error": "true",
        "$ai_stream": 0,
        "$ai_input_cost_usd": "0.01",
        "$ai_total_cost_usd": float("nan"),
        "$ai_input_token_price": "0.000001",
        "$ai_error": {"message": "kept as an object"},
        "$ai_model": "gpt-4o",
        "other": "12",
    }
    coerce_ai_properties(properties)
    assert properties == {
        "$ai_trace_id": "12345",
        "$ai_span_id": "true",
        "$ai_generation_id": "1",
        "$ai_input_tokens": 12,
        "$ai_output_tokens": 7,
        "$ai_input_audio_tokens": 3,
        "$ai_latency": 1.5,
        "$ai_time_to_first_token": 0.2,
        "$ai_http_status": 200,
        "$ai_is_error": True,
        "$ai_stream": False,
        "$ai_input_cost_usd": 0.01,
        "$ai_input_token_price": 0.000001,
        "$ai_error": {"message": "kept as an object"},
        "$ai_model": "gpt-4o",
        "other": "12",
    }


def test_identity_fields_and_user_from_set() -> None:
    raw = {
        "event": "$identify",
        "distinct_id": "user-1",
        "uuid": "0193F3B8-1C2D-7E4F-8A9B-0C1D2E3F4A5B",
        "timestamp": "2025-01-02T03:04:05.500Z",
        "properties": {
            "$lib": "web",
            "$lib_version": "1.200.0",
            "$session_id": "sess-1",
            "$anon_distinct_id": "anon-1",
            "$set": {"email": "ada@example.com", "name": "Ada", "plan": "pro"},
            "$ip": "203.0.113.9",
            "release": "shop@1.2.3",
            "$environment": "production",
        },
    }
    event = to_event(raw, project_id=1, received_at=NOW)
    assert event.kind == "analytics"
    assert event.name == "$identify"
    assert event.event_id == "0193f3b81c2d7e4f8a9b0c1d2e3f4a5b"
    assert event.timestamp == pytest.approx(1735787045.5)
    assert event.received_at == NOW
    assert event.platform == "javascript"
    assert event.sdk_name == "web" and event.sdk_version == "1.200.0"
    assert event.session_id == "sess-1"
    assert event.release == "shop@1.2.3"
    assert event.environment == "production"
    assert event.user is not None
    assert event.user.id == "user-1"
    assert event.user.email == "ada@example.com"
    assert event.user.name == "Ada"
    assert event.user.ip_address == "203.0.113.9"
    assert event.user.data == {"plan": "pro"}
    assert event.properties["$anon_distinct_id"] == "anon-1"


def test_ai_ids_map_to_identity_fields() -> None:
    raw = {
        "event": "$ai_span",
        "distinct_id": "u",
        "properties": {
            "$ai_trace_id": "t-1",
            "$ai_span_id": "s-1",
            "$ai_parent_id": "p-1",
            "$ai_session_id": "conversation-1",
            "$ai_latency": 2,
        },
    }
    event = to_event(raw, project_id=1, received_at=NOW)
    assert (event.trace_id, event.span_id) == ("t-1", "s-1")
    assert event.session_id is None
    assert event.properties["$ai_session_id"] == "conversation-1"
    assert event.properties["$ai_latency"] == 2.0
    # Missing timestamp and uuid: the receive time and a fresh id.
    assert event.timestamp == NOW
    assert len(event.event_id) == 32


def test_exception_overrides_and_older_flat_shape() -> None:
    raw = {
        "event": "$exception",
        "distinct_id": "u",
        "properties": {
            "$lib": "web",
            "$exception_list": [
                {
                    "type": "TypeError",
                    "value": "x is undefined",
                    "mechanism": {"type": "onerror", "handled": False},
                    "stacktrace": {
                        "type": "raw",
                        "frames": [
                            {
                                "platform": "web:javascript",
                                "filename": "https://cdn.example.com/node_modules/lib.js",
                                "function": "lib",
                                "lineno": 1,
                                "colno": 99,
                            },
                            {
                                "platform": "web:javascript",
                                "filename": "https://example.com/app.js",
                                "function": "onClick",
                                "lineno": 10,
                                "colno": 5,
                                "in_app": True,
                            },
                        ],
                    },
                }
            ],
            "$exception_fingerprint": "my-group",
            "$exception_level": "warn",
            "$trace_id": "a" * 32,
            "$span_id": "b" * 16,
            "$current_url": "https://example.com/cart",
        },
    }
    event = to_event(raw, project_id=1, received_at=NOW)
    assert event.kind == "error"
    assert event.fingerprint == ["my-group"]
    assert event.level == "warning"
    assert (event.trace_id, event.span_id) == ("a" * 32, "b" * 16)
    assert event.request == {"url": "https://example.com/cart"}
    frames = event.exceptions[0].frames
    assert [f.platform for f in frames] == ["javascript", "javascript"]
    assert [f.in_app for f in frames] == [False, True]
    assert frames[1].colno == 5
    assert event.exceptions[0].mechanism is not None
    assert event.exceptions[0].mechanism.handled is False

    flat = {
        "event": "$exception",
        "distinct_id": "u",
        "properties": {"$exception_type": "Error", "$exception_message": "old style"},
    }
    event = to_event(flat, project_id=1, received_at=NOW)
    assert [(e.type, e.value) for e in event.exceptions] == [("Error", "old style")]
    assert event.message == "old style"


def test_round_trip_through_the_model() -> None:
    raw = {"event": "clicked", "distinct_id": 5, "properties": {"$ai_input_tokens": "3"}}
    event = to_event(raw, project_id=1, received_at=NOW)
    assert event.distinct_id == "5"
    assert Event.from_dict(event.to_dict()) == event
