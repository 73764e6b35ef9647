"""A canonical ``$ai_*`` event as an :class:`~heliograph.store.llm_records.LlmEventRecord`.

Which events are LLM events, which property fills which column, how values
are read (text clipped, counts clamped, non-finite numbers dropped, errors
as short text) and when the call started: rules every backend applies the
same way, so they live here, not in a backend.

Timing: PostHog clients capture an event when the call *ends* (``timestamp``
is the end, ``$ai_latency`` the duration); OTLP spans are stamped with their
*start* (the adapter marks them with ``$otel_span_kind``). ``started_at``
settles this once, so timelines line up whatever the source.
"""

from __future__ import annotations

from typing import Any

import orjson

from heliograph.bounds import clamp_count
from heliograph.llm_vocabulary import (
    AI_CACHE_CREATION_INPUT_TOKENS,
    AI_CACHE_READ_INPUT_TOKENS,
    AI_COST_SOURCE,
    AI_ERROR,
    AI_HTTP_STATUS,
    AI_INPUT_TOKENS,
    AI_IS_ERROR,
    AI_LATENCY,
    AI_MODEL,
    AI_OUTPUT_TOKENS,
    AI_PARENT_ID,
    AI_PREFIX,
    AI_PROVIDER,
    AI_REASONING_TOKENS,
    AI_SESSION_ID,
    AI_SPAN_ID,
    AI_SPAN_NAME,
    AI_TIME_TO_FIRST_TOKEN,
    AI_TOTAL_COST_USD,
    AI_TRACE_ID,
    AI_TRACE_NAME,
    OTEL_SPAN_KIND,
    PRICED_EVENTS,
)
from heliograph.model import Event
from heliograph.store.llm_records import LlmEventRecord

__all__ = ["MAX_ERROR_CHARS", "MAX_TEXT_CHARS", "is_llm_event", "llm_record"]

MAX_ERROR_CHARS = 500
MAX_TEXT_CHARS = 200


def is_llm_event(event: Event) -> bool:
    """Whether ``event`` gets an LLM row: any analytics event named ``$ai_*``."""
    return event.kind == "analytics" and event.name.startswith(AI_PREFIX)


def llm_record(event: Event, row_id: int) -> LlmEventRecord:
    """The typed row of one ``$ai_*`` event (properties already coerced by ingest).

    ``row_id`` is the event's own row id in the backend's event store (see
    :class:`~heliograph.store.llm_records.LlmEventRecord`).
    """
    props = event.properties
    latency = _number(props.get(AI_LATENCY))
    if latency is not None and latency < 0:
        latency = None
    started_at = event.timestamp
    if latency and OTEL_SPAN_KIND not in props:
        started_at = event.timestamp - latency  # captured at the end of the call
    personless = props.get("$process_person_profile") is False
    error = props.get(AI_ERROR)
    priced = event.name in PRICED_EVENTS
    return LlmEventRecord(
        id=row_id,
        project_id=event.project_id,
        event_id=event.event_id,
        name=event.name,
        timestamp=event.timestamp,
        started_at=started_at,
        trace_id=_text(props.get(AI_TRACE_ID)) or event.trace_id,
        span_id=_text(props.get(AI_SPAN_ID)) or event.span_id,
        parent_id=_text(props.get(AI_PARENT_ID)),
        # A browser session ($session_id, posthog-js's and the snippet's) when the
        # call names no LLM session: it links the trace to that session's replay.
        session_id=_text(props.get(AI_SESSION_ID)) or _text(props.get("$session_id")),
        distinct_id=None if personless else event.distinct_id,
        model=_text(props.get(AI_MODEL)),
        provider=_text(props.get(AI_PROVIDER)),
        input_tokens=_count(props.get(AI_INPUT_TOKENS)),
        output_tokens=_count(props.get(AI_OUTPUT_TOKENS)),
        cache_read_tokens=_count(props.get(AI_CACHE_READ_INPUT_TOKENS)),
        cache_creation_tokens=_count(props.get(AI_CACHE_CREATION_INPUT_TOKENS)),
        reasoning_tokens=_count(props.get(AI_REASONING_TOKENS)),
        total_cost_usd=_number(props.get(AI_TOTAL_COST_USD)) if priced else None,
        cost_source=_text(props.get(AI_COST_SOURCE)) if priced else None,
        latency_s=latency,
        ttft_s=_number(props.get(AI_TIME_TO_FIRST_TOKEN)),
        is_error=props.get(AI_IS_ERROR) is True or bool(error),
        error=_error_text(error),
        http_status=_count(props.get(AI_HTTP_STATUS)),
        span_name=_text(props.get(AI_SPAN_NAME)) or _text(props.get(AI_TRACE_NAME)),
        environment=event.environment,
        release=event.release,
    )


# --- property reading -----------------------------------------------------------------


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value:
        return value[:MAX_TEXT_CHARS]
    return None


def _count(value: Any) -> int | None:
    return clamp_count(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if number == number and abs(number) != float("inf") else None


def _error_text(value: Any) -> str | None:
    """``$ai_error`` as short text: strings as sent, objects as compact JSON."""
    if value is None or value is False or value == "":
        return None
    if isinstance(value, str):
        text = value
    else:
        try:
            text = orjson.dumps(value, default=str).decode()
        except TypeError:
            text = str(value)
    return text[:MAX_ERROR_CHARS]
