"""Local HTTP servers speaking the OpenAI chat completions and Anthropic Messages protocols.

The real ``openai`` and ``anthropic`` client libraries are pointed at them
with ``base_url``; they answer canned completions (plain JSON or SSE streams)
and record what they were sent.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ANSWER = ["Hello", ", ", "world", "!"]


def _openai_usage() -> dict[str, Any]:
    return {
        "prompt_tokens": 12,
        "completion_tokens": 4,
        "total_tokens": 16,
        "prompt_tokens_details": {"cached_tokens": 2},
        "completion_tokens_details": {"reasoning_tokens": 1},
    }


def _openai_chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "gpt-test-2025",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def openai_stream(body: dict[str, Any]) -> list[dict[str, Any]]:
    chunks = [_openai_chunk({"role": "assistant", "content": ""})]
    if body.get("tools"):
        chunks.append(
            _openai_chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":'},
                        }
                    ]
                }
            )
        )
        chunks.append(
            _openai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]})
        )
        chunks.append(_openai_chunk({}, "tool_calls"))
    else:
        chunks += [_openai_chunk({"content": piece}) for piece in ANSWER]
        chunks.append(_openai_chunk({}, "stop"))
    if (body.get("stream_options") or {}).get("include_usage"):
        usage_chunk = _openai_chunk({})
        usage_chunk["choices"] = []
        usage_chunk["usage"] = _openai_usage()
        chunks.append(usage_chunk)
    return chunks


def openai_completion(body: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": "".join(ANSWER)}
    finish = "stop"
    if body.get("tools"):
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        }
        finish = "tool_calls"
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-test-2025",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": _openai_usage(),
    }


def anthropic_message(body: dict[str, Any]) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": "".join(ANSWER)}]
    stop = "end_turn"
    if body.get("tools"):
        content = [
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
        ]
        stop = "tool_use"
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-test-2025",
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {
            "input_tokens": 20,
            "output_tokens": 6,
            "cache_read_input_tokens": 5,
            "cache_creation_input_tokens": 3,
        },
    }


def anthropic_stream(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    start = anthropic_message(body)
    start["content"] = []
    start["stop_reason"] = None
    start["usage"] = {
        "input_tokens": 20,
        "output_tokens": 1,
        "cache_read_input_tokens": 5,
        "cache_creation_input_tokens": 3,
    }
    events: list[tuple[str, dict[str, Any]]] = [("message_start", {"message": start})]
    if body.get("tools"):
        events.append(
            (
                "content_block_start",
                {
                    "index": 0,
                    "content_block": {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "get_weather",
                        "input": {},
                    },
                },
            )
        )
        for part in ('{"city": ', '"Paris"}'):
            events.append(
                (
                    "content_block_delta",
                    {"index": 0, "delta": {"type": "input_json_delta", "partial_json": part}},
                )
            )
        stop = "tool_use"
    else:
        events.append(
            ("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
        )
        for piece in ANSWER:
            events.append(
                (
                    "content_block_delta",
                    {"index": 0, "delta": {"type": "text_delta", "text": piece}},
                )
            )
        stop = "end_turn"
    events.append(("content_block_stop", {"index": 0}))
    events.append(
        (
            "message_delta",
            {"delta": {"stop_reason": stop, "stop_sequence": None}, "usage": {"output_tokens": 6}},
        )
    )
    events.append(("message_stop", {}))
    return [(name, {"type": name, **data}) for name, data in events]


class LLMServer:
    """Serves ``/v1/chat/completions`` and ``/v1/messages``; model ``fail`` answers 400."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append({"path": self.path, "body": body})
                if body.get("model") == "fail":
                    self._json(400, {"error": {"message": "bad model", "type": "invalid"}})
                elif self.path.endswith("/chat/completions"):
                    if body.get("stream"):
                        self._sse([(None, c) for c in openai_stream(body)], done=True)
                    else:
                        self._json(200, openai_completion(body))
                elif self.path.endswith("/messages"):
                    if body.get("stream"):
                        self._sse(list(anthropic_stream(body)), done=False)
                    else:
                        self._json(200, anthropic_message(body))
                else:
                    self._json(404, {"error": "no route"})

            def _json(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _sse(self, events: list[tuple[str | None, dict[str, Any]]], done: bool) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for name, data in events:
                    text = (f"event: {name}\n" if name else "") + f"data: {json.dumps(data)}\n\n"
                    self._chunk(text.encode())
                if done:
                    self._chunk(b"data: [DONE]\n\n")
                self._chunk(b"")

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
