"""One LLM call as a ``$ai_generation`` event.

``trace_generation(...)`` is a context manager for hand-instrumented calls;
the OpenAI and Anthropic wrappers drive the same :class:`Generation` and call
:meth:`Generation.finish` themselves when a stream ends. Property names follow
PostHog's LLM analytics (``$ai_*``); latencies are float seconds.
"""

from __future__ import annotations

import logging
import time
from types import TracebackType
from typing import Any

from heliograph_sdk import _hub
from heliograph_sdk._prompts import Prompt
from heliograph_sdk._scope import Scope, _current, global_scope
from heliograph_sdk._tracing import (
    _OFF,
    FROM_CONTEXT,
    Span,
    current_span,
    error_text,
    new_span_id,
    new_trace_id,
    payload,
    wall_time,
)

logger = logging.getLogger("heliograph_sdk")

_PARAM_PROPERTIES = {"temperature": "$ai_temperature", "max_tokens": "$ai_max_tokens"}


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class Generation:
    """An LLM call in progress: set what you learn, the event is sent on exit."""

    def __init__(
        self,
        provider: str,
        model: str | None = None,
        *,
        name: str | None = None,
        input: Any = None,
        model_parameters: dict[str, Any] | None = None,
        base_url: str | None = None,
        request_url: str | None = None,
        stream: bool | None = None,
        tools: Any = None,
        properties: dict[str, Any] | None = None,
        prompt: Prompt | None = None,
        parent: Span | None = FROM_CONTEXT,
        scope: Scope | None = None,
        start_time: float | None = None,
    ) -> None:
        if parent is FROM_CONTEXT:
            parent = current_span()
        self.trace_id = parent.trace_id if parent else new_trace_id()
        self.span_id = new_span_id()
        self.parent_id = parent.span_id if parent else None
        self.session_id = parent.session_id if parent else None
        self._totals = parent.totals if parent else None
        self.scope: Scope | None = (
            scope if scope is not None else (parent.scope if parent else None)
        )
        self.provider = provider
        self.model = model
        self.name = name
        self.model_parameters = dict(model_parameters or {})
        self.base_url = base_url
        self.request_url = request_url
        self.stream = stream
        self.properties: dict[str, Any] = dict(properties or {})
        if prompt is not None:
            self.set_prompt(prompt)
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.cache_read_tokens: int | None = None
        self.cache_creation_tokens: int | None = None
        self.reasoning_tokens: int | None = None
        self.total_tokens: int | None = None
        self.http_status: int | None = None
        self.stop_reason: str | None = None
        self.costs: dict[str, float] = {}
        self.error: str | None = None
        self.time_to_first_token: float | None = None
        self._input: Any = _OFF if input is None else payload(input)
        self._output: Any = _OFF
        self._tools: Any = _OFF if tools is None else payload(tools)
        # ``start_time``: the perf_counter() reading the call began at, when earlier.
        self._start = time.perf_counter() if start_time is None else start_time
        self._done = False

    # -- setters ---------------------------------------------------------------

    def set_input(self, messages: Any) -> None:
        """Prompt messages (``[{role, content}]``); kept only with payload capture on."""
        self._input = payload(messages)

    def set_output(self, choices: Any) -> None:
        """Completion choices (``[{role, content}]``); kept only with payload capture on."""
        self._output = payload(choices)

    def set_tools(self, tools: Any) -> None:
        """Tool definitions offered to the model; kept only with payload capture on."""
        self._tools = payload(tools)

    def set_tokens(
        self,
        input: int | None = None,
        output: int | None = None,
        *,
        cache_read: int | None = None,
        cache_creation: int | None = None,
        reasoning: int | None = None,
        total: int | None = None,
    ) -> None:
        """Token counts as the provider reported them (``None`` leaves a count unchanged)."""
        for attr, value in (
            ("input_tokens", input),
            ("output_tokens", output),
            ("cache_read_tokens", cache_read),
            ("cache_creation_tokens", cache_creation),
            ("reasoning_tokens", reasoning),
            ("total_tokens", total),
        ):
            number = _int(value)
            if number is not None:
                setattr(self, attr, number)

    def set_model(self, model: str | None) -> None:
        """The model the provider says answered (may be more precise than the request's)."""
        if model:
            self.model = model

    def set_http_status(self, status: int) -> None:
        self.http_status = int(status)

    def set_stop_reason(self, reason: str | None) -> None:
        if reason:
            self.stop_reason = str(reason)

    def set_cost(
        self, *, input: float | None = None, output: float | None = None, total: float | None = None
    ) -> None:
        """Costs in USD when the caller knows them (the server prices the rest)."""
        for key, value in (("input", input), ("output", output), ("total", total)):
            if value is not None:
                self.costs[key] = float(value)

    def mark_first_token(self) -> None:
        """Record the time to first token (first call wins)."""
        if self.time_to_first_token is None:
            self.time_to_first_token = time.perf_counter() - self._start

    def set_error(self, error: BaseException | str) -> None:
        self.error = error_text(error) if isinstance(error, BaseException) else str(error)
        if isinstance(error, BaseException) and self.http_status is None:
            status = getattr(error, "status_code", None)
            self.http_status = status if isinstance(status, int) else 0

    def set_prompt(self, prompt: Prompt | None) -> None:
        """Link the call to the managed prompt version that produced it (``get_prompt``).

        A fallback links by name only: its calls show apart from every version.
        """
        if isinstance(prompt, Prompt):
            self.properties.update(prompt.link_properties())

    def score(
        self,
        name: str,
        value: float | bool | str,
        *,
        data_type: str | None = None,
        comment: str | None = None,
        id: str | None = None,
        source: str = "sdk",
    ) -> str | None:
        """Score this call (:func:`heliograph_sdk.score` naming it); returns the score's id."""
        from heliograph_sdk._scores import score

        return score(
            name,
            value,
            trace_id=self.trace_id,
            generation_id=self.span_id,
            session_id=self.session_id,
            data_type=data_type,
            comment=comment,
            id=id,
            source=source,
        )

    def set(self, **properties: Any) -> None:
        """Any other property for the event (e.g. ``$ai_session_id`` or your own)."""
        self.properties.update(properties)

    # -- lifecycle -------------------------------------------------------------

    def __enter__(self) -> Generation:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None and not isinstance(exc, GeneratorExit):
            self.set_error(exc)
        self.finish()

    async def __aenter__(self) -> Generation:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def finish(self, error: BaseException | None = None, *, end: float | None = None) -> None:
        """Emit the event once (later calls do nothing).

        ``end``: the ``perf_counter()`` reading the call ended at, when it is
        reported after the fact.
        """
        if self._done:
            return
        self._done = True
        if error is not None:
            self.set_error(error)
        latency = max(0.0, (time.perf_counter() if end is None else end) - self._start)
        if self._totals is not None:
            total_cost = self.costs.get("total")
            if total_cost is None and self.costs:
                total_cost = sum(self.costs.values())
            self._totals.add(
                self.input_tokens, self.output_tokens, total_cost, self.error is not None
            )
        client = _hub.current()
        if client is None:
            return
        properties = self._properties(latency)
        # The flag values this scope got: the dashboard compares variants' cost by them.
        scope = self.scope or _current.get() or global_scope
        for key, value in scope.flags.items():
            properties.setdefault(f"$feature/{key}", value)
        try:
            client.capture("$ai_generation", properties, scope=scope, at=wall_time(end))
        except Exception:
            logger.debug("heliograph_sdk: could not record a generation", exc_info=True)

    def _properties(self, latency: float) -> dict[str, Any]:
        props: dict[str, Any] = {
            "$ai_trace_id": self.trace_id,
            "$ai_span_id": self.span_id,
            "$ai_provider": self.provider,
            "$ai_model": self.model,
            "$ai_latency": latency,
            "$ai_is_error": self.error is not None,
            "$ai_input": None if self._input is _OFF else self._input,
            "$ai_output_choices": None if self._output is _OFF else self._output,
        }
        optional: dict[str, Any] = {
            "$ai_parent_id": self.parent_id,
            "$ai_session_id": self.session_id,
            "$ai_span_name": self.name,
            "$ai_error": self.error,
            "$ai_http_status": self.http_status,
            "$ai_base_url": self.base_url,
            "$ai_request_url": self.request_url,
            "$ai_stream": self.stream,
            "$ai_stop_reason": self.stop_reason,
            "$ai_time_to_first_token": self.time_to_first_token,
            "$ai_input_tokens": self.input_tokens,
            "$ai_output_tokens": self.output_tokens,
            "$ai_cache_read_input_tokens": self.cache_read_tokens,
            "$ai_cache_creation_input_tokens": self.cache_creation_tokens,
            "$ai_reasoning_tokens": self.reasoning_tokens,
            "$ai_total_tokens": self.total_tokens,
            "$ai_input_cost_usd": self.costs.get("input"),
            "$ai_output_cost_usd": self.costs.get("output"),
            "$ai_total_cost_usd": self.costs.get("total"),
        }
        props.update({k: v for k, v in optional.items() if v is not None})
        if self.model_parameters:
            props["$ai_model_parameters"] = self.model_parameters
            for param, prop in _PARAM_PROPERTIES.items():
                if self.model_parameters.get(param) is not None:
                    props[prop] = self.model_parameters[param]
        if self._tools is not _OFF and self._tools is not None:
            props["$ai_tools"] = self._tools
        props.update(self.properties)
        return props


def trace_generation(
    provider: str,
    model: str | None = None,
    *,
    name: str | None = None,
    input: Any = None,
    model_parameters: dict[str, Any] | None = None,
    base_url: str | None = None,
    stream: bool | None = None,
    prompt: Prompt | None = None,
    **properties: Any,
) -> Generation:
    """``with trace_generation(provider="openai", model="gpt-4o") as gen: ...``

    On an exception the event carries ``$ai_is_error``/``$ai_error`` and the
    exception propagates unchanged. ``prompt``: the :class:`Prompt` used, to
    link the call to its version.
    """
    return Generation(
        provider,
        model,
        name=name,
        input=input,
        model_parameters=model_parameters,
        base_url=base_url,
        stream=stream,
        properties=properties,
        prompt=prompt,
    )
