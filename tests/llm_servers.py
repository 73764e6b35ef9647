"""Local fake LLM servers speaking the real wire protocols, for tests.

Each is a real HTTP server on a free loopback port, served from a thread, so the
real ``openai`` and ``anthropic`` client libraries talk to it over HTTP:

* :class:`FakeOpenAIServer`: ``POST /v1/chat/completions`` (streaming SSE
  ``data: {chunk}`` lines ending with ``data: [DONE]``, usage in a last chunk
  with empty ``choices`` when the request asks ``stream_options.include_usage``;
  or one JSON completion) and ``GET /v1/models``. Point clients at
  :attr:`~FakeOpenAIServer.base_url` (``.../v1``).
* :class:`FakeAnthropicServer`: ``POST /v1/messages`` (streaming events
  ``message_start``, ``content_block_start``, ``ping``, ``content_block_delta``...,
  ``content_block_stop``, ``message_delta``, ``message_stop``; or one JSON
  message). Point clients at :attr:`~FakeAnthropicServer.base_url`.

What they answer is a :class:`Script`, changed between calls with
:meth:`reply`, :meth:`fail` and :meth:`hang`; every request is recorded in
:attr:`requests` (``calls`` counts the completion requests). Use them as
context managers or through the ``openai_server`` / ``anthropic_server``
fixtures at the bottom (import them into a test module or a conftest).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

DEFAULT_TEXT = (
    "## Problem description\n"
    "`total` is zero when the cart is empty, so `average()` divides by zero.\n\n"
    "## Proposed solution\n"
    "```python\n"
    "def average(values):\n"
    "    if not values:\n"
    "        return 0.0\n"
    "    return sum(values) / len(values)\n"
    "```\n\n"
    "## What else to check\n"
    "Other callers of `average()` with possibly empty lists.\n"
)


@dataclass
class Script:
    """What the next requests get.

    ``status`` other than 200 answers an error body of the protocol's shape
    (with ``Retry-After`` when ``retry_after`` is set). ``hang`` accepts the
    request and never answers (until the server stops); ``hang_after`` sends
    that many text chunks and then stops answering. ``send_usage`` false
    leaves usage out (servers that ignore ``include_usage``).
    """

    text: str = DEFAULT_TEXT
    chunk_size: int = 12
    status: int = 200
    error_message: str = "scripted failure"
    retry_after: str | None = None
    hang: bool = False
    hang_after: int | None = None
    send_usage: bool = True
    model: str | None = None  # the model to report; None echoes the request's
    input_tokens: int = 321
    output_tokens: int | None = None  # None: the number of chunks
    chunk_delay: float = 0.0

    def chunks(self) -> list[str]:
        size = max(1, self.chunk_size)
        return [self.text[i : i + size] for i in range(0, len(self.text), size)]


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class _State:
    script: Script = field(default_factory=Script)
    requests: list[RecordedRequest] = field(default_factory=list)
    api_key: str | None = None
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _FakeServer:
    """The shared machinery: a thread, the script, the recorded requests."""

    completion_path = ""

    def __init__(self, *, api_key: str | None = None) -> None:
        self._state = _State(api_key=api_key)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle
    def start(self) -> _FakeServer:
        handler = type("Handler", (self._handler_class(),), {"state": self._state})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._state.stopping.set()  # releases hanging handlers
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> _FakeServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _handler_class(self) -> type[_Handler]:
        raise NotImplementedError

    # -- addresses
    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.url

    # -- scripting
    @property
    def script(self) -> Script:
        return self._state.script

    @script.setter
    def script(self, script: Script) -> None:
        self._state.script = script

    def reply(self, text: str = DEFAULT_TEXT, **options: Any) -> None:
        self.script = Script(text=text, **options)

    def fail(self, status: int, message: str = "scripted failure", **options: Any) -> None:
        self.script = Script(status=status, error_message=message, **options)

    def hang(self, *, after_chunks: int | None = None) -> None:
        if after_chunks is None:
            self.script = Script(hang=True)
        else:
            self.script = Script(hang_after=after_chunks)

    # -- inspection
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._state.lock:
            return list(self._state.requests)

    @property
    def calls(self) -> int:
        """How many completion requests arrived."""
        return sum(1 for r in self.requests if r.path.startswith(self.completion_path))

    @property
    def last_body(self) -> Any:
        completions = [r for r in self.requests if r.path.startswith(self.completion_path)]
        return completions[-1].body if completions else None

    def reset(self) -> None:
        with self._state.lock:
            self._state.requests.clear()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: _State

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- plumbing
    def _read_json(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw.decode("utf-8", "replace")

    def _record(self, body: Any) -> Script:
        with self.state.lock:
            self.state.requests.append(
                RecordedRequest(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
            )
            return self.state.script

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _write_chunk(self, text: str) -> None:
        data = text.encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _hang(self) -> None:
        self.state.stopping.wait(60)
        self.close_connection = True

    def _authorized(self, key: str | None) -> bool:
        return self.state.api_key is None or key == self.state.api_key

    def _stream_text(self, script: Script, emit: Any) -> bool:
        """Emit the text chunk by chunk; False when the script hangs midway."""
        for number, piece in enumerate(script.chunks()):
            if script.hang_after is not None and number >= script.hang_after:
                self._hang()
                return False
            if script.chunk_delay:
                time.sleep(script.chunk_delay)
            emit(piece)
        return True


class _OpenAIHandler(_Handler):
    def do_GET(self) -> None:
        self._record(None)
        if self.path.rstrip("/") == "/v1/models":
            model = self.state.script.model or "fake-model"
            self._send_json(200, {"object": "list", "data": [{"id": model, "object": "model"}]})
        else:
            self._send_json(404, {"error": {"message": "not found", "type": "invalid_request"}})

    def do_POST(self) -> None:
        body = self._read_json()
        script = self._record(body)
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send_json(404, {"error": {"message": "not found", "type": "invalid_request"}})
            return
        auth = self.headers.get("Authorization", "")
        if not self._authorized(auth.removeprefix("Bearer ")):
            self._error(401, "Incorrect API key provided: sk-abc***xyz.", None)
            return
        if script.hang:
            self._hang()
            return
        if script.status != 200:
            self._error(script.status, script.error_message, script.retry_after)
            return
        request = body if isinstance(body, dict) else {}
        model = script.model or str(request.get("model") or "fake-model")
        chunks = script.chunks()
        usage = {
            "prompt_tokens": script.input_tokens,
            "completion_tokens": script.output_tokens
            if script.output_tokens is not None
            else len(chunks),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        base = {"id": "chatcmpl-fake", "created": int(time.time()), "model": model}
        if not request.get("stream"):
            message = {"role": "assistant", "content": script.text}
            payload = {
                **base,
                "object": "chat.completion",
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            }
            if script.send_usage:
                payload["usage"] = usage
            self._send_json(200, payload)
            return
        self._start_stream()

        def chunk(delta: dict[str, Any], finish: str | None = None) -> None:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            data = {**base, "object": "chat.completion.chunk", "choices": [choice]}
            self._write_chunk(f"data: {json.dumps(data)}\n\n")

        chunk({"role": "assistant", "content": ""})
        if not self._stream_text(script, lambda piece: chunk({"content": piece})):
            return
        chunk({}, "stop")
        options = request.get("stream_options") or {}
        if script.send_usage and options.get("include_usage"):
            data = {**base, "object": "chat.completion.chunk", "choices": [], "usage": usage}
            self._write_chunk(f"data: {json.dumps(data)}\n\n")
        self._write_chunk("data: [DONE]\n\n")
        self._end_stream()

    def _error(self, status: int, message: str, retry_after: str | None) -> None:
        kind = {401: "invalid_api_key", 429: "rate_limit_exceeded"}.get(status, "server_error")
        payload = {"error": {"message": message, "type": kind, "param": None, "code": kind}}
        self._send_json(status, payload, {"Retry-After": retry_after} if retry_after else None)


class _AnthropicHandler(_Handler):
    def do_POST(self) -> None:
        body = self._read_json()
        script = self._record(body)
        if self.path.split("?")[0].rstrip("/") != "/v1/messages":
            self._error(404, "not found", None)
            return
        # Older clients send x-api-key, newer ones a bearer token: accept both.
        key = self.headers.get("x-api-key") or self.headers.get("Authorization") or ""
        if not self._authorized(key.removeprefix("Bearer ")):
            self._error(401, "invalid x-api-key", None)
            return
        if script.hang:
            self._hang()
            return
        if script.status != 200:
            self._error(script.status, script.error_message, script.retry_after)
            return
        request = body if isinstance(body, dict) else {}
        model = script.model or str(request.get("model") or "fake-model")
        chunks = script.chunks()
        output_tokens = script.output_tokens if script.output_tokens is not None else len(chunks)
        message: dict[str, Any] = {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": model,
            "stop_sequence": None,
        }
        if not request.get("stream"):
            payload = {
                **message,
                "content": [{"type": "text", "text": script.text}],
                "stop_reason": "end_turn",
                "usage": {"input_tokens": script.input_tokens, "output_tokens": output_tokens},
            }
            self._send_json(200, payload)
            return
        self._start_stream()

        def event(name: str, data: dict[str, Any]) -> None:
            self._write_chunk(f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n")

        start_usage = {"input_tokens": script.input_tokens, "output_tokens": 1}
        event(
            "message_start",
            {"message": {**message, "content": [], "stop_reason": None, "usage": start_usage}},
        )
        event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
        event("ping", {})

        def delta(piece: str) -> None:
            event(
                "content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": piece}}
            )

        if not self._stream_text(script, delta):
            return
        event("content_block_stop", {"index": 0})
        final_usage = {"output_tokens": output_tokens} if script.send_usage else {}
        event(
            "message_delta",
            {"delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": final_usage},
        )
        event("message_stop", {})
        self._end_stream()

    def _error(self, status: int, message: str, retry_after: str | None) -> None:
        kind = {
            401: "authentication_error",
            404: "not_found_error",
            429: "rate_limit_error",
            529: "overloaded_error",
        }.get(status, "api_error")
        payload = {"type": "error", "error": {"type": kind, "message": message}}
        self._send_json(status, payload, {"retry-after": retry_after} if retry_after else None)


class FakeOpenAIServer(_FakeServer):
    completion_path = "/v1/chat/completions"

    def _handler_class(self) -> type[_Handler]:
        return _OpenAIHandler

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"


class FakeAnthropicServer(_FakeServer):
    completion_path = "/v1/messages"

    def _handler_class(self) -> type[_Handler]:
        return _AnthropicHandler


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        assert isinstance(server, FakeOpenAIServer)
        yield server


@pytest.fixture
def anthropic_server() -> Iterator[FakeAnthropicServer]:
    with FakeAnthropicServer() as server:
        assert isinstance(server, FakeAnthropicServer)
        yield server
