"""OTLP spans as canonical LLM analytics events: the GenAI and OpenInference mapping.

:func:`span_to_event` turns a span into the analytics event a PostHog client
would have sent for the same call (``$ai_generation``, ``$ai_embedding`` or
``$ai_span``, with the same ``$ai_*`` properties), reading the OpenTelemetry
GenAI semantic conventions (``gen_ai.*``, current and older names) and, as a
second dialect, OpenInference (``llm.*``, ``openinference.span.kind``). Past
this module nothing knows the event came over OTLP.

Token counts: the GenAI conventions and OpenInference both count cached
tokens *inside* the input count, whichever the provider; such events carry
``$ai_cache_reporting_exclusive: false`` so that cost is computed right for
Anthropic models too (see ``heliograph.digest.costs``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from heliograph.llm_vocabulary import (
    AI_AGENT_NAME,
    AI_BASE_URL,
    AI_CACHE_CREATION_INPUT_TOKENS,
    AI_CACHE_READ_INPUT_TOKENS,
    AI_CACHE_REPORTING_EXCLUSIVE,
    AI_EMBEDDING,
    AI_ERROR,
    AI_GENERATION,
    AI_HTTP_STATUS,
    AI_INPUT,
    AI_INPUT_STATE,
    AI_INPUT_TOKENS,
    AI_IS_ERROR,
    AI_LATENCY,
    AI_MAX_TOKENS,
    AI_MODEL,
    AI_MODEL_PARAMETERS,
    AI_OUTPUT_CHOICES,
    AI_OUTPUT_STATE,
    AI_OUTPUT_TOKENS,
    AI_PARENT_ID,
    AI_PROVIDER,
    AI_REASONING_TOKENS,
    AI_RESPONSE_ID,
    AI_SESSION_ID,
    AI_SPAN,
    AI_SPAN_ID,
    AI_SPAN_NAME,
    AI_STOP_REASON,
    AI_STREAM,
    AI_TEMPERATURE,
    AI_TOOL_NAME,
    AI_TOOLS,
    AI_TOTAL_TOKENS,
    AI_TRACE_ID,
    OTEL_SPAN_KIND,
    PRICED_EVENTS,
)
from heliograph.model import Event
from heliograph.protocols.json_depth import depth_exceeds
from heliograph.protocols.langfuse_otel import (
    apply_langfuse,
    langfuse_event_name,
    langfuse_resource,
)
from heliograph.protocols.otlp import SPAN_KINDS, STATUS_ERROR, Span, SpanEvent
from heliograph.protocols.posthog_event import coerce_ai_properties

__all__ = [
    "choice_message",
    "event_message",
    "inherit_identity",
    "semconv_messages",
    "span_to_event",
]

# Looks a span attribute up under several names, the first present wins.
_Lookup = Callable[..., Any]

_GENERATION_OPERATIONS = frozenset(
    {"chat", "text_completion", "generate_content", "completion", "generation"}
)
_EMBEDDING_OPERATIONS = frozenset({"embeddings", "embedding"})


# Who and which conversation a span belongs to: set on the request's span by
# the app, they hold for every span under it.
USER_ATTRIBUTES = ("user.id", "enduser.id", "posthog.distinct_id")
SESSION_ATTRIBUTES = ("session.id", "gen_ai.conversation.id")
_INHERITED = (*USER_ATTRIBUTES, *SESSION_ATTRIBUTES)
# Attributes read into $ai_* properties (or payloads): not kept again as they are.
_MAPPED_PREFIXES = (
    "gen_ai.",
    "llm.",
    "openinference.",
    "input.",
    "output.",
    "traceloop.",
    "embedding.",
    "tool.",
    "server.",
    "http.",
    "error.",
    # Other tracers' own vocabularies, which carry prompts and outputs.
    "langfuse.",
    "logfire.",
    "pydantic_ai.",
)
# Words in a key that say its value is a prompt or an output: never kept as a
# plain property, so that the project's payload policy cannot be bypassed.
_PAYLOAD_WORDS = re.compile(
    r"prompt|completion|message|result|response|request|content|input|output"
)
MAX_CUSTOM_ATTRIBUTES = 64
MAX_CUSTOM_VALUE_CHARS = 1_000


def inherit_identity(spans: list[Span]) -> None:
    """Give each span the user and session of its nearest ancestor in the same export.

    An app sets ``user.id`` or ``session.id`` once, on the span of the request
    or the agent run; the model calls under it, made by instrumentation
    libraries, know nothing of either. Without this, filtering by user found
    none of that user's generations. Only what the span lacks is filled in.
    """
    by_id = {span.span_id: span for span in spans}
    for span in spans:
        seen = {span.span_id}
        parent_id = span.parent_span_id
        while parent_id and parent_id not in seen and _lacks_identity(span.attributes):
            parent = by_id.get(parent_id)
            if parent is None:
                break
            seen.add(parent_id)
            for group in (USER_ATTRIBUTES, SESSION_ATTRIBUTES):
                if not _names(span.attributes, group):
                    span.attributes.update(_names(parent.attributes, group))
            parent_id = parent.parent_span_id


def _names(attributes: Mapping[str, Any], group: tuple[str, ...]) -> dict[str, Any]:
    return {key: attributes[key] for key in group if attributes.get(key) not in (None, "")}


def _lacks_identity(attributes: Mapping[str, Any]) -> bool:
    return not _names(attributes, USER_ATTRIBUTES) or not _names(attributes, SESSION_ATTRIBUTES)


def _custom_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """The app's own span attributes (``customer.tier``, ``feature``), kept as properties."""
    kept: dict[str, Any] = {}
    for key, value in attributes.items():
        if len(kept) >= MAX_CUSTOM_ATTRIBUTES:
            break
        if key.startswith(_MAPPED_PREFIXES) or key in _INHERITED or key.startswith("$"):
            continue
        if _PAYLOAD_WORDS.search(key.lower()):
            continue
        if isinstance(value, str):
            kept[key] = value[:MAX_CUSTOM_VALUE_CHARS]
        elif isinstance(value, (bool, int, float)):
            kept[key] = value
        elif isinstance(value, list) and all(isinstance(v, (str, bool, int, float)) for v in value):
            kept[key] = value[:100]
    return kept


def span_to_event(span: Span, *, project_id: int, received_at: float) -> Event:
    """Map one span to the canonical analytics event a PostHog client would send."""
    attrs = span.attributes
    resource = span.resource

    def attr(*keys: str) -> Any:
        for key in keys:
            value = attrs.get(key)
            if value is not None and value != "":
                return value
        return None

    name = _event_name(span, attr)
    properties: dict[str, Any] = {
        **_custom_attributes(attrs),
        AI_TRACE_ID: span.trace_id,
        AI_SPAN_ID: span.span_id,
        AI_SPAN_NAME: span.name,
        OTEL_SPAN_KIND: SPAN_KINDS[span.kind] if 0 <= span.kind < 6 else str(span.kind),
    }
    if span.parent_span_id:
        properties[AI_PARENT_ID] = span.parent_span_id
    if span.scope_name:
        properties["$otel_scope"] = span.scope_name
    if span.end_time_unix_nano >= span.start_time_unix_nano > 0:
        properties[AI_LATENCY] = (span.end_time_unix_nano - span.start_time_unix_nano) / 1e9

    _put(
        properties,
        AI_PROVIDER,
        attr("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"),
    )
    _put(
        properties,
        AI_MODEL,
        attr(
            "gen_ai.response.model", "gen_ai.request.model", "llm.response.model", "llm.model_name"
        ),
    )
    _put(properties, AI_RESPONSE_ID, attr("gen_ai.response.id"))
    _put(properties, AI_BASE_URL, attr("server.address"))
    _put(properties, AI_HTTP_STATUS, attr("http.response.status_code", "http.status_code"))
    _put(properties, AI_STREAM, attr("gen_ai.request.stream", "llm.is_streaming"))
    _tokens(properties, attr)
    _model_parameters(properties, attr)
    finish = attr("gen_ai.response.finish_reasons", "llm.response.finish_reason")
    if isinstance(finish, list) and finish:
        properties[AI_STOP_REASON] = str(finish[0])
    elif isinstance(finish, str):
        properties[AI_STOP_REASON] = finish
    _error(properties, span, attr)
    _payloads(properties, name, span, attr)
    apply_langfuse(properties, name, attrs, span.start_time_unix_nano / 1e9)

    session = attr(*SESSION_ATTRIBUTES)
    _put(properties, AI_SESSION_ID, session)
    service = resource.get("service.name")
    _put(properties, "$service_name", service)
    distinct_id = attr(*USER_ATTRIBUTES)
    if distinct_id is None:
        # The posthog-python wrappers' convention for anonymous calls.
        distinct_id = span.trace_id
        properties["$process_person_profile"] = False
    coerce_ai_properties(properties)

    timestamp = span.start_time_unix_nano / 1e9 if span.start_time_unix_nano else received_at
    langfuse_environment, langfuse_release = langfuse_resource(attrs)
    environment = (
        langfuse_environment
        or resource.get("deployment.environment.name")
        or resource.get("deployment.environment")
    )
    release = langfuse_release or resource.get("service.version")
    return Event(
        project_id=project_id,
        event_id=(span.trace_id[:16] + span.span_id),
        timestamp=timestamp,
        kind="analytics",
        name=name,
        received_at=received_at,
        platform=_platform(resource.get("telemetry.sdk.language")),
        distinct_id=str(distinct_id),
        environment=str(environment) if environment else None,
        release=str(release) if release else None,
        server_name=str(resource["host.name"]) if resource.get("host.name") else None,
        trace_id=span.trace_id,
        span_id=span.span_id,
        sdk_name=str(resource.get("telemetry.sdk.name") or "opentelemetry"),
        sdk_version=str(resource["telemetry.sdk.version"])
        if resource.get("telemetry.sdk.version")
        else None,
        properties=properties,
    )


def _event_name(span: Span, attr: _Lookup) -> str:
    langfuse = langfuse_event_name(span.attributes)
    if langfuse is not None:
        return langfuse
    operation = str(attr("gen_ai.operation.name", "llm.request.type") or "").lower()
    if operation in _GENERATION_OPERATIONS:
        return AI_GENERATION
    if operation in _EMBEDDING_OPERATIONS:
        return AI_EMBEDDING
    kind = str(attr("openinference.span.kind") or "").upper()
    if kind == "LLM":
        return AI_GENERATION
    if kind == "EMBEDDING":
        return AI_EMBEDDING
    return AI_SPAN


def _put(properties: dict[str, Any], key: str, value: Any) -> None:
    if value is not None and value != "":
        properties[key] = value


def _tokens(properties: dict[str, Any], attr: _Lookup) -> None:
    _put(
        properties,
        AI_INPUT_TOKENS,
        attr(
            "gen_ai.usage.input_tokens",
            "gen_ai.usage.prompt_tokens",
            "llm.token_count.prompt",
            "llm.usage.prompt_tokens",
        ),
    )
    _put(
        properties,
        AI_OUTPUT_TOKENS,
        attr(
            "gen_ai.usage.output_tokens",
            "gen_ai.usage.completion_tokens",
            "llm.token_count.completion",
            "llm.usage.completion_tokens",
        ),
    )
    _put(
        properties,
        AI_TOTAL_TOKENS,
        attr("gen_ai.usage.total_tokens", "llm.usage.total_tokens", "llm.token_count.total"),
    )
    cache_read = attr(
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.cache_read_input_tokens",
        "llm.token_count.prompt_details.cache_read",
    )
    cache_write = attr(
        "gen_ai.usage.cache_creation.input_tokens",
        "gen_ai.usage.cache_creation_input_tokens",
        "llm.token_count.prompt_details.cache_write",
    )
    _put(properties, AI_CACHE_READ_INPUT_TOKENS, cache_read)
    _put(properties, AI_CACHE_CREATION_INPUT_TOKENS, cache_write)
    if cache_read is not None or cache_write is not None:
        properties[AI_CACHE_REPORTING_EXCLUSIVE] = False
    _put(
        properties,
        AI_REASONING_TOKENS,
        attr(
            "gen_ai.usage.reasoning.output_tokens",
            "gen_ai.usage.reasoning_tokens",
            "llm.token_count.completion_details.reasoning",
        ),
    )


_REQUEST_PARAMETERS = (
    "temperature",
    "max_tokens",
    "top_p",
    "top_k",
    "frequency_penalty",
    "presence_penalty",
    "stop_sequences",
    "seed",
    "choice.count",
)


def _model_parameters(properties: dict[str, Any], attr: _Lookup) -> None:
    parameters: dict[str, Any] = {}
    invocation = _maybe_json(attr("llm.invocation_parameters"))
    if isinstance(invocation, dict):
        parameters.update(invocation)
    for name in _REQUEST_PARAMETERS:
        value = attr(f"gen_ai.request.{name}")
        if value is not None:
            parameters[name] = value
    if not parameters:
        return
    properties[AI_MODEL_PARAMETERS] = parameters
    _put(properties, AI_TEMPERATURE, parameters.get("temperature"))
    _put(
        properties,
        AI_MAX_TOKENS,
        parameters.get("max_tokens") or parameters.get("max_completion_tokens"),
    )


def _error(properties: dict[str, Any], span: Span, attr: _Lookup) -> None:
    error_type = attr("error.type")
    exception = next((e for e in span.events if e.name == "exception"), None)
    is_error = span.status_code == STATUS_ERROR or error_type is not None
    properties[AI_IS_ERROR] = is_error
    if not is_error:
        return
    message = span.status_message
    if not message and exception is not None:
        exc_type = exception.attributes.get("exception.type")
        exc_message = exception.attributes.get("exception.message")
        message = ": ".join(str(part) for part in (exc_type, exc_message) if part)
    properties[AI_ERROR] = message or str(error_type or "error")


# --- message payloads -----------------------------------------------------------------


def _payloads(properties: dict[str, Any], name: str, span: Span, attr: _Lookup) -> None:
    if name in PRICED_EVENTS:
        inputs = _input_messages(span, attr)
        if inputs:
            properties[AI_INPUT] = inputs
        outputs = _output_messages(span, attr)
        if outputs:
            properties[AI_OUTPUT_CHOICES] = outputs
    else:
        state_in = attr("gen_ai.tool.call.arguments", "input.value", "traceloop.entity.input")
        state_out = attr("gen_ai.tool.call.result", "output.value", "traceloop.entity.output")
        if state_in is not None:
            properties[AI_INPUT_STATE] = _maybe_json(state_in)
        if state_out is not None:
            properties[AI_OUTPUT_STATE] = _maybe_json(state_out)
        _put(properties, AI_TOOL_NAME, attr("gen_ai.tool.name", "tool.name"))
        _put(properties, AI_AGENT_NAME, attr("gen_ai.agent.name"))
    tools = _maybe_json(attr("gen_ai.tool.definitions"))
    if not isinstance(tools, list):
        indexed = _indexed(span.attributes, "llm.tools")
        tools = [_maybe_json(item.get("tool.json_schema")) for item in indexed if item]
    if tools:
        properties[AI_TOOLS] = tools


def _input_messages(span: Span, attr: _Lookup) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    system = _maybe_json(attr("gen_ai.system_instructions"))
    if isinstance(system, list) and system:
        messages.append({"role": "system", "content": _content(system)})
    elif isinstance(system, str) and system:
        messages.append({"role": "system", "content": system})
    current = _maybe_json(attr("gen_ai.input.messages"))
    if current is None:
        current = _event_attribute(span, "gen_ai.input.messages")
    if isinstance(current, list):
        return messages + [_semconv_message(m) for m in current if isinstance(m, dict)]
    # Older conventions, most recent first: per-message span events,
    # OpenLLMetry's indexed gen_ai.prompt.N.*, OpenInference's llm.input_messages.N.*.
    from_events = [
        message
        for event in span.events
        if event.name.startswith("gen_ai.") and event.name.endswith(".message")
        for message in [event_message(event)]
        if message
    ]
    if from_events:
        return messages + from_events
    indexed = _indexed(span.attributes, "gen_ai.prompt")
    if indexed:
        return messages + [_flat_message(item) for item in indexed if item]
    openinference = _indexed(span.attributes, "llm.input_messages")
    return messages + [_openinference_message(item) for item in openinference if item]


def _output_messages(span: Span, attr: _Lookup) -> list[dict[str, Any]]:
    current = _maybe_json(attr("gen_ai.output.messages"))
    if current is None:
        current = _event_attribute(span, "gen_ai.output.messages")
    if isinstance(current, list):
        return [_semconv_message(m, "assistant") for m in current if isinstance(m, dict)]
    choices = [
        message
        for event in span.events
        if event.name == "gen_ai.choice"
        for message in [choice_message(event)]
        if message
    ]
    if choices:
        return choices
    indexed = _indexed(span.attributes, "gen_ai.completion")
    if indexed:
        return [_flat_message(item, default_role="assistant") for item in indexed if item]
    openinference = _indexed(span.attributes, "llm.output_messages")
    if openinference:
        return [_openinference_message(item, "assistant") for item in openinference if item]
    # A streamed call's OpenInference span may carry only the text it assembled.
    text = attr("output.value")
    if isinstance(text, str) and text and attr("output.mime_type") != "application/json":
        return [{"role": "assistant", "content": text}]
    return []


def semconv_messages(
    attributes: Mapping[str, Any],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The input and output messages that attributes in the current GenAI conventions hold
    (``gen_ai.system_instructions``, ``gen_ai.input.messages``, ``gen_ai.output.messages``):
    what a ``gen_ai.client.inference.operation.details`` log record carries."""
    span = Span(trace_id="", span_id="", attributes=dict(attributes))

    def attr(*keys: str) -> Any:
        for key in keys:
            value = attributes.get(key)
            if value is not None and value != "":
                return value
        return None

    return _input_messages(span, attr), _output_messages(span, attr)


def _event_attribute(span: Span, key: str) -> Any:
    for event in span.events:
        if key in event.attributes:
            return _maybe_json(event.attributes[key])
    return None


def _semconv_message(message: Mapping[str, Any], default_role: str = "user") -> dict[str, Any]:
    """``{role, parts: [{type, content}...]}`` (GenAI conventions) -> ``{role, content}``."""
    result: dict[str, Any] = {"role": str(message.get("role") or default_role)}
    parts = message.get("parts")
    if isinstance(parts, list):
        result["content"] = _content(parts)
    elif "content" in message:
        result["content"] = message["content"]
    if message.get("finish_reason"):
        result["finish_reason"] = message["finish_reason"]
    if message.get("name"):
        result["name"] = message["name"]
    return result


def _content(parts: list[Any]) -> Any:
    converted = [_part(part) for part in parts]
    if (
        len(converted) == 1
        and isinstance(converted[0], dict)
        and converted[0].get("type") == "text"
    ):
        return converted[0].get("text", "")
    return converted


def _part(part: Any) -> Any:
    if not isinstance(part, dict):
        return {"type": "text", "text": str(part)}
    kind = part.get("type")
    if kind == "text":
        return {"type": "text", "text": part.get("content", part.get("text", ""))}
    if kind == "tool_call":
        return {
            "type": "function",
            "id": part.get("id"),
            "function": {"name": part.get("name"), "arguments": part.get("arguments")},
        }
    if kind == "tool_call_response":
        return {"type": "tool_result", "id": part.get("id"), "content": part.get("response")}
    if kind == "reasoning":
        return {"type": "reasoning", "text": part.get("content", "")}
    if kind == "uri" and part.get("modality") == "image":
        return {"type": "image", "image": part.get("uri")}
    return dict(part)


def event_message(event: SpanEvent) -> dict[str, Any] | None:
    """``gen_ai.{system,user,assistant,tool}.message`` span events (deprecated conventions).

    Also the same events sent as log records (:mod:`heliograph.protocols.genai_logs`),
    their body merged over their attributes. None when it says nothing but its role.
    """
    role = event.name.removeprefix("gen_ai.").removesuffix(".message")
    attributes = event.attributes
    body = _maybe_json(attributes.get("gen_ai.event.content"))
    if isinstance(body, dict):
        attributes = {**attributes, **body}
    message: dict[str, Any] = {"role": str(attributes.get("role") or role)}
    content = _maybe_json(attributes.get("content"))
    if content is not None:
        message["content"] = content
    tool_calls = _maybe_json(attributes.get("tool_calls"))
    if tool_calls:
        message["tool_calls"] = tool_calls
    if message["role"] == "tool" and len(message) > 1 and attributes.get("id"):
        # The tool call this answers (the openai-v2 instrumentation's ``id``).
        message["tool_call_id"] = attributes["id"]
    return message if len(message) > 1 else None


def choice_message(event: SpanEvent) -> dict[str, Any] | None:
    """A ``gen_ai.choice`` span event or log record: the model's message, as the assistant's."""
    attributes = event.attributes
    body = _maybe_json(attributes.get("gen_ai.event.content"))
    if isinstance(body, dict):
        attributes = {**attributes, **body}
    message = _maybe_json(attributes.get("message"))
    result: dict[str, Any] = {"role": "assistant"}
    if isinstance(message, dict):
        result.update({k: v for k, v in message.items() if v is not None})
    elif attributes.get("content") is not None:
        result["content"] = attributes["content"]
    else:
        return None
    if attributes.get("finish_reason"):
        result["finish_reason"] = attributes["finish_reason"]
    return result


def _flat_message(item: Mapping[str, Any], default_role: str = "user") -> dict[str, Any]:
    message: dict[str, Any] = {"role": str(item.get("role") or default_role)}
    if "content" in item:
        message["content"] = _maybe_json(item["content"])
    if item.get("finish_reason"):
        message["finish_reason"] = item["finish_reason"]
    return message


def _openinference_message(item: Mapping[str, Any], default_role: str = "user") -> dict[str, Any]:
    """An OpenInference message; an output without ``message.role`` (streamed) is the model's."""
    message: dict[str, Any] = {"role": str(item.get("message.role") or default_role)}
    if item.get("message.content") is not None:
        message["content"] = item["message.content"]
    else:
        contents = _indexed(item, "message.contents")
        parts: list[dict[str, Any]] = []
        for content in contents:
            if content.get("message_content.type") == "image":
                parts.append(
                    {"type": "image", "image": content.get("message_content.image.image.url")}
                )
            elif content.get("message_content.text") is not None:
                parts.append({"type": "text", "text": content["message_content.text"]})
        if parts:
            message["content"] = parts
    calls = _indexed(item, "message.tool_calls")
    if calls:
        message["tool_calls"] = [
            {
                "type": "function",
                "id": call.get("tool_call.id"),
                "function": {
                    "name": call.get("tool_call.function.name"),
                    "arguments": call.get("tool_call.function.arguments"),
                },
            }
            for call in calls
        ]
    return message


_INDEX = re.compile(r"^(\d+)\.(.+)$")


def _indexed(attributes: Mapping[str, Any], prefix: str) -> list[dict[str, Any]]:
    """``p.0.role``, ``p.0.content``, ``p.1.role`` -> ``[{role, content}, {role}]``."""
    found: dict[int, dict[str, Any]] = {}
    start = prefix + "."
    for key, value in attributes.items():
        if not key.startswith(start):
            continue
        match = _INDEX.match(key[len(start) :])
        if match:
            found.setdefault(int(match.group(1)), {})[match.group(2)] = value
    return [found[index] for index in sorted(found)]


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
        # Too deep to store as JSON: kept as the text it came as.
        return value if depth_exceeds(parsed) else parsed
    return value


def _platform(language: Any) -> str:
    if not isinstance(language, str):
        return "other"
    return {"nodejs": "node", "js": "javascript", "dotnet": "csharp", "cpp": "native"}.get(
        language, language
    )
