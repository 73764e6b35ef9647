"""A fake model server for agent frameworks: it plays one tool-using agent turn.

Agent frameworks are only worth testing through a whole loop: the model asks
for a tool, the framework runs it and sends the result back, the model
answers. This server plays that model, over the three protocols the
frameworks speak — Anthropic Messages (the Claude Code CLI behind
``claude-agent-sdk``), OpenAI chat completions (LangChain's ``ChatOpenAI``,
``OpenAIChatCompletionsModel``) and the OpenAI Responses API (the default of
``openai-agents``) — plain JSON or server-sent events:

* a request that offers a tool named ``*get_weather`` and carries no tool
  result yet is answered with a call of that tool for Paris;
* a request whose prompt says :data:`DELEGATE` and that offers Claude Code's
  sub-agent tool (``Agent``, formerly ``Task``) is answered with a call
  that hands the question to a general-purpose sub-agent;
* anything else (including the CLI's side requests) gets :data:`ANSWER`.

Every answer reports the same usage, :data:`USAGE`, so tests can add it up.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ANSWER = "It is sunny in Paris."
TOOL = "get_weather"
TOOL_ARGS = {"city": "Paris"}
DELEGATE = "delegate"
SUBAGENT_TOOLS = ("Agent", "Task")
SUBAGENT_ARGS = {
    "description": "weather",
    "prompt": "What is the weather in Paris?",
    "subagent_type": "general-purpose",
}
CLAUDE_MODEL = "claude-sonnet-4-5"
OPENAI_MODEL = "gpt-4o-mini-2024-07-18"
# Anthropic style (cache reads and writes outside ``input``); the OpenAI
# protocols report input inclusive of the cached part.
USAGE = {"input": 20, "output": 6, "cache_read": 5, "cache_creation": 3}


def _tool_name(body: dict[str, Any]) -> str | None:
    """The offered weather tool's full name (frameworks prefix it), if any."""
    for tool in body.get("tools") or ():
        name = tool.get("name") or (tool.get("function") or {}).get("name") or ""
        if name.endswith(TOOL):
            return str(name)
    return None


def _has_tool_result(body: dict[str, Any]) -> bool:
    for message in body.get("messages") or ():
        if message.get("role") == "tool":
            return True
        content = message.get("content")
        if isinstance(content, list) and any(
            isinstance(block, dict) and block.get("type") == "tool_result" for block in content
        ):
            return True
    items = body.get("input")
    return isinstance(items, list) and any(
        isinstance(item, dict) and item.get("type") == "function_call_output" for item in items
    )


def _asks_to_delegate(body: dict[str, Any]) -> bool:
    messages = body.get("messages") or ()
    return bool(messages) and DELEGATE in json.dumps(messages[-1])


def wants_tool(body: dict[str, Any]) -> str | None:
    """The tool to call now, or None to answer."""
    if _has_tool_result(body):
        return None
    offered = {tool.get("name") for tool in body.get("tools") or ()}
    if _asks_to_delegate(body):
        return next((name for name in SUBAGENT_TOOLS if name in offered), None)
    return _tool_name(body)


def tool_args(name: str) -> dict[str, Any]:
    return SUBAGENT_ARGS if name in SUBAGENT_TOOLS else TOOL_ARGS


# -- Anthropic Messages -------------------------------------------------------------


def _anthropic_usage() -> dict[str, int]:
    return {
        "input_tokens": USAGE["input"],
        "output_tokens": USAGE["output"],
        "cache_read_input_tokens": USAGE["cache_read"],
        "cache_creation_input_tokens": USAGE["cache_creation"],
    }


def anthropic_message(body: dict[str, Any], number: int) -> dict[str, Any]:
    tool = wants_tool(body)
    content: list[dict[str, Any]]
    if tool:
        call = {"type": "tool_use", "id": f"toolu_{number}", "name": tool, "input": tool_args(tool)}
        content = [call]
    else:
        content = [{"type": "text", "text": ANSWER}]
    return {
        "id": f"msg_{number}",
        "type": "message",
        "role": "assistant",
        "model": body.get("model") or CLAUDE_MODEL,
        "content": content,
        "stop_reason": "tool_use" if tool else "end_turn",
        "stop_sequence": None,
        "usage": _anthropic_usage(),
    }


def anthropic_events(body: dict[str, Any], number: int) -> list[tuple[str, dict[str, Any]]]:
    message = anthropic_message(body, number)
    blocks = message["content"]
    start = {**message, "content": [], "stop_reason": None, "usage": {**message["usage"]}}
    start["usage"]["output_tokens"] = 1
    events: list[tuple[str, dict[str, Any]]] = [("message_start", {"message": start})]
    for index, block in enumerate(blocks):
        if block["type"] == "tool_use":
            opening = {**block, "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        else:
            opening = {"type": "text", "text": ""}
            delta = {"type": "text_delta", "text": block["text"]}
        events.append(("content_block_start", {"index": index, "content_block": opening}))
        events.append(("content_block_delta", {"index": index, "delta": delta}))
        events.append(("content_block_stop", {"index": index}))
    events.append(
        (
            "message_delta",
            {
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": USAGE["output"]},
            },
        )
    )
    events.append(("message_stop", {}))
    return [(name, {"type": name, **data}) for name, data in events]


# -- OpenAI chat completions --------------------------------------------------------


def _openai_usage() -> dict[str, Any]:
    prompt = USAGE["input"] + USAGE["cache_read"]
    return {
        "prompt_tokens": prompt,
        "completion_tokens": USAGE["output"],
        "total_tokens": prompt + USAGE["output"],
        "prompt_tokens_details": {"cached_tokens": USAGE["cache_read"]},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def _chat_message(body: dict[str, Any], number: int) -> tuple[dict[str, Any], str]:
    tool = wants_tool(body)
    if tool:
        call = {
            "id": f"call_{number}",
            "type": "function",
            "function": {"name": tool, "arguments": json.dumps(TOOL_ARGS)},
        }
        return {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"
    return {"role": "assistant", "content": ANSWER}, "stop"


def chat_completion(body: dict[str, Any], number: int) -> dict[str, Any]:
    message, finish = _chat_message(body, number)
    return {
        "id": f"chatcmpl-{number}",
        "object": "chat.completion",
        "created": 1700000000,
        "model": OPENAI_MODEL,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": _openai_usage(),
    }


def chat_chunks(body: dict[str, Any], number: int) -> list[dict[str, Any]]:
    message, finish = _chat_message(body, number)

    def chunk(delta: dict[str, Any], reason: str | None = None) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-{number}",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": OPENAI_MODEL,
            "choices": [{"index": 0, "delta": delta, "finish_reason": reason}],
        }

    chunks = [chunk({"role": "assistant", "content": ""})]
    if message.get("tool_calls"):
        calls = [{"index": 0, **call} for call in message["tool_calls"]]
        chunks.append(chunk({"tool_calls": calls}))
    else:
        half = len(ANSWER) // 2
        chunks += [chunk({"content": ANSWER[:half]}), chunk({"content": ANSWER[half:]})]
    chunks.append(chunk({}, finish))
    if (body.get("stream_options") or {}).get("include_usage"):
        last = chunk({})
        last["choices"] = []
        last["usage"] = _openai_usage()
        chunks.append(last)
    return chunks


# -- OpenAI Responses ---------------------------------------------------------------


def response(body: dict[str, Any], number: int) -> dict[str, Any]:
    tool = wants_tool(body)
    item: dict[str, Any]
    if tool:
        item = {
            "type": "function_call",
            "id": f"fc_{number}",
            "call_id": f"call_{number}",
            "name": tool,
            "arguments": json.dumps(TOOL_ARGS),
            "status": "completed",
        }
    else:
        item = {
            "type": "message",
            "id": f"msg_{number}",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": ANSWER, "annotations": []}],
        }
    prompt = USAGE["input"] + USAGE["cache_read"]
    return {
        "id": f"resp_{number}",
        "object": "response",
        "created_at": 1700000000,
        "status": "completed",
        "model": OPENAI_MODEL,
        "output": [item],
        "instructions": body.get("instructions"),
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": body.get("tools") or [],
        "usage": {
            "input_tokens": prompt,
            "input_tokens_details": {"cached_tokens": USAGE["cache_read"]},
            "output_tokens": USAGE["output"],
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": prompt + USAGE["output"],
        },
    }


class AgentModelServer:
    """The fake model on loopback; ``requests`` records every ``(path, body)``.

    A request for model ``fail`` is answered 400, as a provider refuses an
    unknown model.
    """

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                path = self.path.split("?", 1)[0]
                with server.lock:
                    server.requests.append((path, body))
                    number = len(server.requests)
                if body.get("model") == "fail":
                    error = {"type": "invalid_request_error", "message": "no such model"}
                    self._json(400, {"type": "error", "error": error})
                elif path.endswith("/messages"):
                    if body.get("stream"):
                        self._sse(anthropic_events(body, number), done=False)
                    else:
                        self._json(200, anthropic_message(body, number))
                elif path.endswith("/chat/completions"):
                    if body.get("stream"):
                        self._sse([(None, c) for c in chat_chunks(body, number)], done=True)
                    else:
                        self._json(200, chat_completion(body, number))
                elif path.endswith("/responses"):
                    self._json(200, response(body, number))
                else:
                    self._json(404, {"error": {"message": f"no route {path}"}})

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

    def paths(self) -> list[str]:
        with self.lock:
            return [path for path, _ in self.requests]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
