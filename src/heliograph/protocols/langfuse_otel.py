"""Langfuse's span attributes (``langfuse.*``), read as the ``$ai_*`` properties they mean.

The Langfuse SDKs (v3 and later) are OpenTelemetry tracers: they export
ordinary OTLP spans whose meaning sits in Langfuse's own attributes. A team
that points its Langfuse SDK at Heliograph gets its observations mapped as
a GenAI span would be (:mod:`heliograph.protocols.genai`, which calls
:func:`langfuse_event_name` and :func:`apply_langfuse`):

* ``langfuse.observation.type``: ``generation`` is a model call, ``embedding``
  an embedding, every other type (span, agent, tool, chain, retriever,
  evaluator, guardrail, event) a span;
* ``….model.name``, ``….model.parameters`` (JSON), ``….usage_details`` (JSON:
  ``input``, ``output``, ``total`` and cache and reasoning counts) and
  ``….cost_details`` (JSON: ``input``, ``output``, ``total`` in USD, kept as
  the client's cost);
* ``….input`` / ``….output`` (JSON or text): the messages of a model call,
  the state of a span; ``langfuse.trace.input`` / ``.output`` on a trace's
  root span are the trace's;
* ``….level`` ``ERROR`` with ``….status_message``: a failed observation;
* ``….completion_start_time``: the time to the first token;
* ``langfuse.trace.name``, ``.tags``, ``langfuse.environment``,
  ``langfuse.release``, and ``….metadata.<key>`` (kept as ``<key>``).

Langfuse's own attributes win over the GenAI conventions when both are set.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

from heliograph.llm_vocabulary import (
    AI_CACHE_CREATION_INPUT_TOKENS,
    AI_CACHE_READ_INPUT_TOKENS,
    AI_EMBEDDING,
    AI_ERROR,
    AI_GENERATION,
    AI_INPUT,
    AI_INPUT_COST_USD,
    AI_INPUT_STATE,
    AI_INPUT_TOKENS,
    AI_IS_ERROR,
    AI_MAX_TOKENS,
    AI_MODEL,
    AI_MODEL_PARAMETERS,
    AI_OUTPUT_CHOICES,
    AI_OUTPUT_COST_USD,
    AI_OUTPUT_STATE,
    AI_OUTPUT_TOKENS,
    AI_REASONING_TOKENS,
    AI_SPAN,
    AI_TEMPERATURE,
    AI_TIME_TO_FIRST_TOKEN,
    AI_TOTAL_COST_USD,
    AI_TOTAL_TOKENS,
    AI_TRACE_NAME,
    PRICED_EVENTS,
)
from heliograph.protocols.json_depth import depth_exceeds

__all__ = ["PREFIX", "apply_langfuse", "langfuse_event_name", "langfuse_resource"]

PREFIX = "langfuse."
_OBSERVATION = "langfuse.observation."
_METADATA_PREFIXES = ("langfuse.observation.metadata.", "langfuse.trace.metadata.")
_TYPES = {"generation": AI_GENERATION, "embedding": AI_EMBEDDING}
# usage_details keys -> $ai_* token counts (Langfuse's names, then OpenAI's it passes on).
_USAGE = (
    (AI_INPUT_TOKENS, ("input", "prompt_tokens", "input_tokens")),
    (AI_OUTPUT_TOKENS, ("output", "completion_tokens", "output_tokens")),
    (AI_TOTAL_TOKENS, ("total", "total_tokens")),
    (AI_CACHE_READ_INPUT_TOKENS, ("input_cached_tokens", "cache_read_input_tokens")),
    (AI_CACHE_CREATION_INPUT_TOKENS, ("cache_creation_input_tokens",)),
    (AI_REASONING_TOKENS, ("output_reasoning_tokens", "reasoning_tokens")),
)
_COSTS = (
    (AI_INPUT_COST_USD, "input"),
    (AI_OUTPUT_COST_USD, "output"),
    (AI_TOTAL_COST_USD, "total"),
)


def langfuse_event_name(attributes: Mapping[str, Any]) -> str | None:
    """The event an observation is (None: not a Langfuse observation)."""
    kind = attributes.get(_OBSERVATION + "type")
    if not isinstance(kind, str) or not kind:
        return None
    return _TYPES.get(kind.lower(), AI_SPAN)


def langfuse_resource(attributes: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """``(environment, release)`` the observation names, if any."""
    environment = attributes.get("langfuse.environment")
    release = attributes.get("langfuse.release")
    return (
        str(environment) if environment not in (None, "") else None,
        str(release) if release not in (None, "") else None,
    )


def apply_langfuse(
    properties: dict[str, Any], name: str, attributes: Mapping[str, Any], start_seconds: float
) -> None:
    """Overlay what the ``langfuse.*`` attributes say on ``properties``, in place."""
    if not any(key.startswith(PREFIX) for key in attributes):
        return
    model = attributes.get(_OBSERVATION + "model.name")
    if isinstance(model, str) and model:
        properties[AI_MODEL] = model
    parameters = _json(attributes.get(_OBSERVATION + "model.parameters"))
    if isinstance(parameters, dict) and parameters:
        properties[AI_MODEL_PARAMETERS] = parameters
        for target, source in ((AI_TEMPERATURE, "temperature"), (AI_MAX_TOKENS, "max_tokens")):
            if parameters.get(source) is not None:
                properties[target] = parameters[source]
    usage = _json(attributes.get(_OBSERVATION + "usage_details"))
    if isinstance(usage, dict):
        for target, names in _USAGE:
            count = next((usage[n] for n in names if _is_count(usage.get(n))), None)
            if count is not None:
                properties[target] = int(count)
    costs = _json(attributes.get(_OBSERVATION + "cost_details"))
    if isinstance(costs, dict):
        for target, source in _COSTS:
            value = costs.get(source)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                properties[target] = float(value)
    _payloads(properties, name, attributes)
    level = attributes.get(_OBSERVATION + "level")
    if isinstance(level, str) and level.upper() == "ERROR":
        properties[AI_IS_ERROR] = True
        message = attributes.get(_OBSERVATION + "status_message")
        properties[AI_ERROR] = str(message) if message else "error"
    first_token = _seconds(attributes.get(_OBSERVATION + "completion_start_time"))
    if first_token is not None and first_token >= start_seconds > 0:
        properties[AI_TIME_TO_FIRST_TOKEN] = first_token - start_seconds
    trace_name = attributes.get("langfuse.trace.name")
    if isinstance(trace_name, str) and trace_name:
        properties[AI_TRACE_NAME] = trace_name
    tags = attributes.get("langfuse.trace.tags")
    if isinstance(tags, list) and tags:
        properties["tags"] = [str(tag) for tag in tags[:50]]
    for key, value in attributes.items():
        for prefix in _METADATA_PREFIXES:
            if key.startswith(prefix) and len(key) > len(prefix):
                properties.setdefault(key[len(prefix) :], _json(value))


def _payloads(properties: dict[str, Any], name: str, attributes: Mapping[str, Any]) -> None:
    given_in = attributes.get(_OBSERVATION + "input", attributes.get("langfuse.trace.input"))
    given_out = attributes.get(_OBSERVATION + "output", attributes.get("langfuse.trace.output"))
    if name in PRICED_EVENTS:
        messages = _messages(_json(given_in), "user")
        if messages:
            properties[AI_INPUT] = messages
        choices = _messages(_json(given_out), "assistant")
        if choices:
            properties[AI_OUTPUT_CHOICES] = choices
        return
    if given_in is not None:
        properties[AI_INPUT_STATE] = _json(given_in)
    if given_out is not None:
        properties[AI_OUTPUT_STATE] = _json(given_out)


def _messages(value: Any, role: str) -> list[Any]:
    """A message list as given, one message, or text said by ``role``."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        if "messages" in value and isinstance(value["messages"], list):
            return list(value["messages"])
        return [value if "role" in value else {"role": role, "content": value}]
    return [{"role": role, "content": value}]


def _json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("[", "{", '"'):
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
        return value if depth_exceeds(parsed) else parsed
    return value


def _is_count(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0


def _seconds(value: Any) -> float | None:
    """An ISO 8601 time (what Langfuse writes) as Unix seconds."""
    text = _json(value)
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.timestamp()
