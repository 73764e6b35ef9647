"""``openai-agents`` runs as traces: a tracing processor.

The Agents SDK reports every run as a trace of typed spans and hands them to
its registered processors as they start and end. This processor maps them:
the trace to ``$ai_trace``; model calls (``response`` spans for the
Responses API, ``generation`` spans for chat completions) to
``$ai_generation`` with the model and usage; agents, function tools,
handoffs, guardrails and the rest to ``$ai_span``. The trace's ``group_id``
(a conversation's id) becomes the session, unless a Heliograph span around
the run already has one.

What the Agents SDK puts in its spans' inputs and outputs depends on its own
``trace_include_sensitive_data``; Heliograph keeps them only with payload
capture on. This module imports ``agents``; only the entry point in
``_agents`` imports this module, when called.
"""

from __future__ import annotations

import json
from typing import Any

from agents.tracing import Span as AgentSpan
from agents.tracing import Trace, TracingProcessor

from heliograph_sdk import _hub
from heliograph_sdk._agent_common import (
    AGENT_NAME,
    FRAMEWORK,
    TOOL_NAME,
    RunTable,
    open_child,
    open_root,
    payloads_on,
    quietly,
)
from heliograph_sdk._generation import Generation
from heliograph_sdk._llm_common import field
from heliograph_sdk._tracing import Span

NAME = "openai-agents"
PROVIDER = "openai"
MODEL_CALLS = ("generation", "response")
# An error in one of these, right under the root, means the run failed.
RUN_SPANS = ("agent", "task")


def _json_or_text(value: Any) -> Any:
    """Function-tool arguments arrive as a JSON string: send them as the object they are."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _span_name(data: Any) -> str:
    kind = str(getattr(data, "type", "span"))
    if kind == "handoff":
        return f"handoff to {field(data, 'to_agent') or '?'}"
    if kind == "turn":
        return f"turn {field(data, 'turn')}"
    if kind == "mcp_tools":
        return f"list tools {field(data, 'server') or ''}".strip()
    return str(field(data, "name") or kind)


def _span_properties(data: Any) -> dict[str, Any]:
    kind = getattr(data, "type", None)
    if kind == "agent":
        return {AGENT_NAME: field(data, "name")}
    if kind == "turn":
        return {AGENT_NAME: field(data, "agent_name")}
    if kind == "function":
        return {TOOL_NAME: field(data, "name")}
    if kind == "handoff":
        return {"handoff_from": field(data, "from_agent"), "handoff_to": field(data, "to_agent")}
    if kind == "guardrail":
        return {"guardrail_triggered": bool(field(data, "triggered"))}
    if kind == "mcp_tools":
        return {"mcp_server": field(data, "server")}
    return {}


def _record_span(span: Span, data: Any) -> None:
    span.set(**{k: v for k, v in _span_properties(data).items() if v is not None})
    kind = getattr(data, "type", None)
    if kind == "function":
        span.set_input(_json_or_text(field(data, "input")))
        span.set_output(_json_or_text(field(data, "output")))
    elif kind == "custom":
        span.set_output(field(data, "data"))
    elif kind == "mcp_tools":
        span.set_output(field(data, "result"))


def _usage(gen: Generation, usage: Any) -> None:
    """Responses API usage (the object, or the dict the span data keeps)."""
    if usage is None:
        return
    gen.set_tokens(
        field(usage, "input_tokens"),
        field(usage, "output_tokens"),
        cache_read=field(field(usage, "input_tokens_details"), "cached_tokens"),
        reasoning=field(field(usage, "output_tokens_details"), "reasoning_tokens"),
        total=field(usage, "total_tokens"),
    )


def _record_response(gen: Generation, data: Any) -> None:
    response = field(data, "response")
    _usage(gen, field(response, "usage") or field(data, "usage"))
    if response is None:
        return
    gen.set_model(field(response, "model"))
    gen.set(**{"$ai_response_id": field(response, "id")})
    gen.set_stop_reason(field(field(response, "incomplete_details"), "reason"))
    if payloads_on():
        prompt = field(data, "input")
        if isinstance(prompt, str):
            prompt = [{"role": "user", "content": prompt}]
        instructions = field(response, "instructions")
        if isinstance(instructions, str) and instructions:
            prompt = [{"role": "system", "content": instructions}, *(prompt or [])]
        if prompt is not None:
            gen.set_input(prompt)
        gen.set_output(field(response, "output"))
        tools = field(response, "tools")
        if tools:
            gen.set_tools(tools)


def _record_generation(gen: Generation, data: Any) -> None:
    gen.set_model(field(data, "model"))
    usage = field(data, "usage") or {}
    gen.set_tokens(
        field(usage, "input_tokens") or field(usage, "prompt_tokens"),
        field(usage, "output_tokens") or field(usage, "completion_tokens"),
        cache_read=field(field(usage, "input_tokens_details"), "cached_tokens"),
        reasoning=field(field(usage, "output_tokens_details"), "reasoning_tokens"),
        total=field(usage, "total_tokens"),
    )
    config = field(data, "model_config") or {}
    gen.model_parameters.update(
        {
            k: v
            for k, v in dict(config).items()
            if k != "base_url" and isinstance(v, (str, int, float, bool)) and v is not None
        }
    )
    if isinstance(config.get("base_url"), str):
        gen.base_url = config["base_url"]
    if payloads_on():
        if field(data, "input") is not None:
            gen.set_input(field(data, "input"))
        if field(data, "output") is not None:
            gen.set_output(field(data, "output"))


class HeliographTracingProcessor(TracingProcessor):
    """Sends each ``openai-agents`` trace to Heliograph as it happens.

    The Agents SDK calls processors synchronously on the run's thread; every
    method here only records or queues (microseconds), and never raises.
    """

    def __init__(self, **properties: Any) -> None:
        self._properties = properties
        self._traces: RunTable[Span] = RunTable()
        self._spans: RunTable[Span | Generation] = RunTable()

    @quietly
    def on_trace_start(self, trace: Trace) -> None:
        if _hub.current() is None:
            return
        group_id = getattr(trace, "group_id", None)
        root = open_root(trace.name, NAME, session_id=group_id)
        metadata = getattr(trace, "metadata", None)
        if metadata:
            root.set(**{"$ai_trace_metadata": dict(metadata)})
        root.set(**self._properties)
        self._traces.put(trace.trace_id, root)

    @quietly
    def on_trace_end(self, trace: Trace) -> None:
        root = self._traces.pop(trace.trace_id)
        if root is not None:
            root.finish()

    @quietly
    def on_span_start(self, span: AgentSpan[Any]) -> None:
        parent = self._spans.get(span.parent_id)
        anchor = parent if isinstance(parent, Span) else self._traces.get(span.trace_id)
        if anchor is None:  # a trace that began before us, or with the SDK off
            return
        data = span.span_data
        kind = getattr(data, "type", None)
        if kind == "task" and span.parent_id is None and field(data, "name") == anchor.name:
            # The Runner's own run span restates the trace it opened: it is the trace.
            self._spans.put(span.span_id, anchor)
            return
        node: Span | Generation
        if kind in MODEL_CALLS:
            node = Generation(
                PROVIDER, field(data, "model"), properties={FRAMEWORK: NAME}, parent=anchor
            )
        else:
            node = open_child(anchor, _span_name(data), NAME)
        node.set(**self._properties)
        self._spans.put(span.span_id, node)

    @quietly
    def on_span_end(self, span: AgentSpan[Any]) -> None:
        node = self._spans.pop(span.span_id)
        if node is None:
            return
        data = span.span_data
        error = span.error
        message = str(field(error, "message") or "error") if error else None
        root = self._traces.get(span.trace_id)
        if node is root:  # the Runner's run span, folded into the trace
            if message is not None:
                node.set_error(message)
            return
        if isinstance(node, Generation):
            if getattr(data, "type", None) == "response":
                _record_response(node, data)
            else:
                _record_generation(node, data)
            if message is not None:
                node.set_error(message)
            node.finish()
            return
        _record_span(node, data)
        if message is not None:
            node.set_error(message)
            if root is not None and node.parent is root and getattr(data, "type", "") in RUN_SPANS:
                root.set_error(message)
        node.finish()

    def shutdown(self) -> None:
        """Nothing to release: the SDK's own client flushes at exit."""

    def force_flush(self) -> None:
        from heliograph_sdk._api import flush

        flush()
