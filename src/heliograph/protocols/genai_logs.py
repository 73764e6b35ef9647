"""OTLP log records as a generation's messages: the GenAI events, and nothing else.

What instrumentations such as ``opentelemetry-instrumentation-openai-v2`` log
for each model call, with the call's span's trace and span id:

* by default (GenAI conventions up to 1.36), one record per message:
  ``gen_ai.system.message``, ``gen_ai.user.message``,
  ``gen_ai.assistant.message``, ``gen_ai.tool.message`` (any
  ``gen_ai.<role>.message``) and ``gen_ai.choice``. Their body holds what a
  span event would hold in attributes (``content``, ``tool_calls``; a
  choice's ``message``, ``finish_reason``), so they are read by the very
  functions that read those span events (:func:`genai.event_message`,
  :func:`genai.choice_message`);
* with the latest conventions (``OTEL_SEMCONV_STABILITY_OPT_IN=
  gen_ai_latest_experimental``, content ``EVENT_ONLY``), one
  ``gen_ai.client.inference.operation.details`` record whose attributes are
  the span's, ``gen_ai.input.messages`` and ``gen_ai.output.messages``
  included: read as a span's attributes are (:func:`genai.semconv_messages`).

Either way a prompt reads the same as when it comes inside the span.

Every other log record (an application's own logs, which an SDK sends to the
same endpoint once ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set) is not kept:
Heliograph is no log store. Such records, and GenAI events without a span to
join, are counted by reason (:data:`NOT_GENAI`, :data:`NO_SPAN`) and dropped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from heliograph.llm_messages import MAX_MESSAGES, GenerationMessages
from heliograph.protocols import genai
from heliograph.protocols.otlp import SpanEvent
from heliograph.protocols.otlp_logs import LogRecord

__all__ = ["NOT_GENAI", "NO_SPAN", "LogMessages", "is_genai_message", "kept", "messages_of"]

CHOICE = "gen_ai.choice"
DETAILS = "gen_ai.client.inference.operation.details"
# Why a record was not kept (an outcome's reason).
NOT_GENAI = "otlp_log_not_genai"
NO_SPAN = "otlp_log_without_span"


@dataclass(slots=True)
class LogMessages:
    """An export's GenAI messages grouped by span, and how many records were dropped why."""

    groups: list[GenerationMessages] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)


def is_genai_message(record: LogRecord) -> bool:
    """Whether the record is one of the GenAI conventions' message events."""
    name = record.event_name
    return name in (CHOICE, DETAILS) or (name.startswith("gen_ai.") and name.endswith(".message"))


def kept(record: LogRecord) -> bool:
    """Whether the record is a GenAI message event that names its span (what is kept)."""
    return is_genai_message(record) and record.trace_id is not None and record.span_id is not None


def messages_of(
    records: Iterable[LogRecord], *, project_id: int, received_at: float
) -> LogMessages:
    """The GenAI messages among ``records``, one group per span, in the order logged."""
    result = LogMessages()
    by_span: dict[tuple[str, str], GenerationMessages] = {}
    for record in records:
        if not is_genai_message(record):
            result.dropped[NOT_GENAI] += 1
            continue
        if record.trace_id is None or record.span_id is None:
            result.dropped[NO_SPAN] += 1
            continue
        key = (record.trace_id, record.span_id)
        group = by_span.get(key)
        if group is None:
            group = by_span[key] = GenerationMessages(
                project_id=project_id,
                trace_id=record.trace_id,
                span_id=record.span_id,
                received_at=received_at,
                first_at=record.time_unix_nano,
            )
        elif record.time_unix_nano and not group.first_at:
            group.first_at = record.time_unix_nano
        if record.event_name == DETAILS:
            inputs, outputs = genai.semconv_messages(_attributes(record))
            group.inputs.extend(inputs[: MAX_MESSAGES - len(group.inputs)])
            group.outputs.extend(outputs[: MAX_MESSAGES - len(group.outputs)])
            continue
        event = SpanEvent(record.event_name, record.time_unix_nano, _attributes(record))
        if record.event_name == CHOICE:
            if len(group.outputs) < MAX_MESSAGES:
                _append(group.outputs, genai.choice_message(event))
        elif len(group.inputs) < MAX_MESSAGES:
            _append(group.inputs, genai.event_message(event))
    result.groups = [group for group in by_span.values() if group]
    return result


def _attributes(record: LogRecord) -> dict[str, Any]:
    """The record's attributes with its body over them: a map body's entries, or a
    text body as the ``content`` (some SDKs log the message text alone)."""
    body = record.body
    if isinstance(body, dict):
        return {**record.attributes, **body}
    if body is not None and body != "":
        return {**record.attributes, "content": body}
    return dict(record.attributes)


def _append(messages: list[dict[str, Any]], message: dict[str, Any] | None) -> None:
    if message is not None:
        messages.append(message)
