"""``wrap_anthropic(client)``: every ``messages.create`` becomes a ``$ai_generation``.

Works with ``Anthropic`` and ``AsyncAnthropic``, streaming or not. Streams
report usage in two places: ``message_start`` (input and cache tokens) and
``message_delta`` (output tokens, stop reason); both are read as the stream
goes by. Anthropic's input tokens exclude cache reads and writes; they are
sent as reported and priced accordingly by the server.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from heliograph_sdk import _hub
from heliograph_sdk._generation import Generation
from heliograph_sdk._llm_common import (
    PROMPT_KWARG,
    AsyncStreamProxy,
    StreamProxy,
    field,
    is_async_resource,
    patch,
    safely,
)

C = TypeVar("C")

MODEL_PARAMETERS = ("temperature", "max_tokens", "top_p", "top_k", "stop_sequences", "tool_choice")


def _usage(gen: Generation, usage: Any) -> None:
    if usage is None:
        return
    gen.set_tokens(
        field(usage, "input_tokens"),
        field(usage, "output_tokens"),
        cache_read=field(usage, "cache_read_input_tokens"),
        cache_creation=field(usage, "cache_creation_input_tokens"),
    )


def _block(block: Any) -> dict[str, Any]:
    kind = field(block, "type")
    if kind == "text":
        return {"type": "text", "text": field(block, "text")}
    if kind == "tool_use":
        return {
            "type": "function",
            "id": field(block, "id"),
            "function": {"name": field(block, "name"), "arguments": field(block, "input")},
        }
    return {"type": kind or "unknown"}


def _record_response(gen: Generation, message: Any) -> None:
    gen.set_http_status(200)
    gen.set_model(field(message, "model"))
    _usage(gen, field(message, "usage"))
    gen.set_stop_reason(field(message, "stop_reason"))
    content = [_block(b) for b in field(message, "content") or ()]
    gen.set_output([{"role": field(message, "role") or "assistant", "content": content}])


class _StreamState:
    """Accumulates Anthropic stream events into one message."""

    def __init__(self, gen: Generation) -> None:
        self.gen = gen
        self.blocks: dict[int, dict[str, Any]] = {}
        self.json_parts: dict[int, list[str]] = {}

    def on_chunk(self, event: Any) -> bool:
        gen = self.gen
        kind = field(event, "type")
        if kind == "message_start":
            message = field(event, "message")
            gen.set_model(field(message, "model"))
            _usage(gen, field(message, "usage"))
        elif kind == "content_block_start":
            index = field(event, "index", 0) or 0
            self.blocks[index] = _block(field(event, "content_block"))
        elif kind == "content_block_delta":
            gen.mark_first_token()
            index = field(event, "index", 0) or 0
            delta = field(event, "delta")
            block = self.blocks.setdefault(index, {"type": "text", "text": ""})
            if field(delta, "type") == "text_delta":
                block["text"] = (block.get("text") or "") + (field(delta, "text") or "")
            elif field(delta, "type") == "input_json_delta":
                self.json_parts.setdefault(index, []).append(field(delta, "partial_json") or "")
        elif kind == "message_delta":
            gen.set_stop_reason(field(field(event, "delta"), "stop_reason"))
            usage = field(event, "usage")
            if usage is not None:
                gen.set_tokens(
                    field(usage, "input_tokens"),
                    field(usage, "output_tokens"),
                    cache_read=field(usage, "cache_read_input_tokens"),
                    cache_creation=field(usage, "cache_creation_input_tokens"),
                )
        return True

    def on_end(self, error: BaseException | None) -> None:
        gen = self.gen
        if error is None:
            gen.set_http_status(200)
        for index, parts in self.json_parts.items():
            block = self.blocks.get(index)
            if block is not None and block.get("type") == "function":
                text = "".join(parts)
                try:
                    arguments: Any = json.loads(text) if text else {}
                except ValueError:
                    arguments = text
                block["function"]["arguments"] = arguments
        content = [self.blocks[i] for i in sorted(self.blocks)]
        gen.set_output([{"role": "assistant", "content": content}])
        gen.finish(error)


def _input(kwargs: dict[str, Any]) -> list[Any]:
    messages = list(kwargs.get("messages") or [])
    system = kwargs.get("system")
    if isinstance(system, (str, list)) and system:
        return [{"role": "system", "content": system}, *messages]
    return messages


def _start(kwargs: dict[str, Any], base_url: str) -> Generation:
    params = {
        k: kwargs[k]
        for k in MODEL_PARAMETERS
        if k in kwargs and isinstance(kwargs[k], (str, int, float, bool, list, dict))
    }
    return Generation(
        "anthropic",
        kwargs.get("model"),
        input=_input(kwargs),
        model_parameters=params,
        base_url=base_url or None,
        request_url=f"{base_url.rstrip('/')}/v1/messages" if base_url else None,
        stream=bool(kwargs.get("stream")),
        tools=kwargs.get("tools") if isinstance(kwargs.get("tools"), list) else None,
    )


def _make_sync(original: Any, base_url: str) -> Any:
    def create(*args: Any, **kwargs: Any) -> Any:
        prompt = kwargs.pop(PROMPT_KWARG, None)
        if _hub.current() is None:
            return original(*args, **kwargs)
        gen = _start(kwargs, base_url)
        gen.set_prompt(prompt)
        try:
            result = original(*args, **kwargs)
        except BaseException as exc:
            safely(gen.finish, exc)
            raise
        if gen.stream:
            state = _StreamState(gen)
            return StreamProxy(result, state.on_chunk, state.on_end)
        safely(_record_response, gen, result)
        safely(gen.finish)
        return result

    return create


def _make_async(original: Any, base_url: str) -> Any:
    async def create(*args: Any, **kwargs: Any) -> Any:
        prompt = kwargs.pop(PROMPT_KWARG, None)
        if _hub.current() is None:
            return await original(*args, **kwargs)
        gen = _start(kwargs, base_url)
        gen.set_prompt(prompt)
        try:
            result = await original(*args, **kwargs)
        except BaseException as exc:
            safely(gen.finish, exc)
            raise
        if gen.stream:
            state = _StreamState(gen)
            return AsyncStreamProxy(result, state.on_chunk, state.on_end)
        safely(_record_response, gen, result)
        safely(gen.finish)
        return result

    return create


def wrap_anthropic(client: C) -> C:
    """Instrument ``client.messages.create`` in place; returns the same client."""
    try:
        messages = client.messages  # type: ignore[attr-defined]
    except AttributeError:
        return client
    base_url = str(getattr(client, "base_url", "") or "")
    make = _make_async if is_async_resource(messages) else _make_sync
    patch(messages, "create", lambda original: make(original, base_url))
    return client
