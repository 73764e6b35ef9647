"""``wrap_openai(client)``: every chat completion becomes a ``$ai_generation``.

Works with ``OpenAI`` and ``AsyncOpenAI`` (and Azure, which subclass them).
Streams: ``stream_options.include_usage`` is turned on so the last chunk
carries the token counts; when we turned it on (the caller did not ask), that
usage-only chunk — which has no ``choices`` — is hidden from the caller, so
code written for the original stream keeps working.
"""

from __future__ import annotations

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

MODEL_PARAMETERS = (
    "temperature",
    "max_tokens",
    "max_completion_tokens",
    "top_p",
    "frequency_penalty",
    "presence_penalty",
    "n",
    "stop",
    "seed",
    "reasoning_effort",
    "tool_choice",
    "response_format",
)


def _usage(gen: Generation, usage: Any) -> None:
    if usage is None:
        return
    gen.set_tokens(
        field(usage, "prompt_tokens"),
        field(usage, "completion_tokens"),
        cache_read=field(field(usage, "prompt_tokens_details"), "cached_tokens"),
        reasoning=field(field(usage, "completion_tokens_details"), "reasoning_tokens"),
        total=field(usage, "total_tokens"),
    )


def _tool_calls(calls: Any) -> list[dict[str, Any]]:
    out = []
    for call in calls or ():
        function = field(call, "function")
        out.append(
            {
                "type": "function",
                "id": field(call, "id"),
                "function": {
                    "name": field(function, "name"),
                    "arguments": field(function, "arguments"),
                },
            }
        )
    return out


def _record_response(gen: Generation, response: Any) -> None:
    gen.set_http_status(200)
    gen.set_model(field(response, "model"))
    _usage(gen, field(response, "usage"))
    choices = []
    for choice in field(response, "choices") or ():
        message = field(choice, "message")
        entry: dict[str, Any] = {
            "role": field(message, "role") or "assistant",
            "content": field(message, "content"),
        }
        calls = _tool_calls(field(message, "tool_calls"))
        if calls:
            entry["tool_calls"] = calls
        choices.append(entry)
        gen.set_stop_reason(field(choice, "finish_reason"))
    gen.set_output(choices)


class _StreamState:
    """Accumulates a chat completion stream into one output."""

    def __init__(self, gen: Generation, hide_usage_chunk: bool) -> None:
        self.gen = gen
        self.hide_usage_chunk = hide_usage_chunk
        self.content: dict[int, list[str]] = {}
        self.roles: dict[int, str] = {}
        self.tools: dict[int, dict[int, dict[str, Any]]] = {}

    def on_chunk(self, chunk: Any) -> bool:
        gen = self.gen
        gen.set_model(field(chunk, "model"))
        usage = field(chunk, "usage")
        if usage is not None:
            _usage(gen, usage)
        choices = field(chunk, "choices") or ()
        for choice in choices:
            index = field(choice, "index", 0) or 0
            delta = field(choice, "delta")
            role = field(delta, "role")
            if role:
                self.roles[index] = role
            text = field(delta, "content")
            if text:
                gen.mark_first_token()
                self.content.setdefault(index, []).append(text)
            for call in field(delta, "tool_calls") or ():
                gen.mark_first_token()
                slot = self.tools.setdefault(index, {}).setdefault(
                    field(call, "index", 0) or 0,
                    {"type": "function", "id": None, "function": {"name": "", "arguments": ""}},
                )
                if field(call, "id"):
                    slot["id"] = field(call, "id")
                function = field(call, "function")
                if field(function, "name"):
                    slot["function"]["name"] += field(function, "name")
                if field(function, "arguments"):
                    slot["function"]["arguments"] += field(function, "arguments")
            gen.set_stop_reason(field(choice, "finish_reason"))
        return not (self.hide_usage_chunk and not choices and usage is not None)

    def on_end(self, error: BaseException | None) -> None:
        gen = self.gen
        if error is None:
            gen.set_http_status(200)
        indexes = sorted(set(self.content) | set(self.tools) | set(self.roles))
        output = []
        for index in indexes:
            entry: dict[str, Any] = {
                "role": self.roles.get(index, "assistant"),
                "content": "".join(self.content.get(index, [])) or None,
            }
            calls = self.tools.get(index)
            if calls:
                entry["tool_calls"] = [calls[i] for i in sorted(calls)]
            output.append(entry)
        gen.set_output(output)
        gen.finish(error)


def _start(kwargs: dict[str, Any], base_url: str) -> tuple[Generation, dict[str, Any], bool]:
    stream = bool(kwargs.get("stream"))
    hide_usage_chunk = False
    if stream:
        options = kwargs.get("stream_options")
        if not (isinstance(options, dict) and "include_usage" in options):
            merged = dict(options) if isinstance(options, dict) else {}
            merged["include_usage"] = True
            kwargs = {**kwargs, "stream_options": merged}
            hide_usage_chunk = True
    params = {
        k: kwargs[k]
        for k in MODEL_PARAMETERS
        if k in kwargs and isinstance(kwargs[k], (str, int, float, bool, list, dict))
    }
    gen = Generation(
        "openai",
        kwargs.get("model"),
        input=kwargs.get("messages"),
        model_parameters=params,
        base_url=base_url or None,
        request_url=f"{base_url.rstrip('/')}/chat/completions" if base_url else None,
        stream=stream,
        tools=kwargs.get("tools") if isinstance(kwargs.get("tools"), list) else None,
    )
    return gen, kwargs, hide_usage_chunk


def _make_sync(original: Any, base_url: str) -> Any:
    def create(*args: Any, **kwargs: Any) -> Any:
        prompt = kwargs.pop(PROMPT_KWARG, None)
        if _hub.current() is None:
            return original(*args, **kwargs)
        gen, kwargs, hide = _start(kwargs, base_url)
        gen.set_prompt(prompt)
        try:
            result = original(*args, **kwargs)
        except BaseException as exc:
            safely(gen.finish, exc)
            raise
        if gen.stream:
            state = _StreamState(gen, hide)
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
        gen, kwargs, hide = _start(kwargs, base_url)
        gen.set_prompt(prompt)
        try:
            result = await original(*args, **kwargs)
        except BaseException as exc:
            safely(gen.finish, exc)
            raise
        if gen.stream:
            state = _StreamState(gen, hide)
            return AsyncStreamProxy(result, state.on_chunk, state.on_end)
        safely(_record_response, gen, result)
        safely(gen.finish)
        return result

    return create


def wrap_openai(client: C) -> C:
    """Instrument ``client.chat.completions.create`` in place; returns the same client."""
    try:
        completions = client.chat.completions  # type: ignore[attr-defined]
    except AttributeError:
        return client
    base_url = str(getattr(client, "base_url", "") or "")
    make = _make_async if is_async_resource(completions) else _make_sync
    patch(completions, "create", lambda original: make(original, base_url))
    return client
