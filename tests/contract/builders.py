"""Events as digest hands them to a store, built directly from the canonical model.

The contract is about what a store does with a :class:`DigestBatch`, not about
how digest groups or prices events: so the group hash, title and cost are
given here as digest would have computed them.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from heliograph.model import Event, Exception_, User
from heliograph.store.base import DigestBatch, GroupedEvent, RecordResult
from heliograph.store.contract import DigestSink

HOUR = 3600.0
DAY = 86400.0


def error(
    project_id: int,
    group: str = "g1",
    *,
    at: float | None = None,
    title: str | None = None,
    culprit: str = "app.work in do_work",
    level: str = "error",
    environment: str | None = None,
    release: str | None = None,
    server_name: str | None = None,
    user_id: str | None = None,
    distinct_id: str | None = None,
    tags: dict[str, str] | None = None,
    trace_id: str | None = None,
    event_id: str | None = None,
    message: str | None = None,
    user: User | None = None,
) -> GroupedEvent:
    """An error event of issue ``group`` (its group hash), at ``at`` (default: now).

    ``user`` wins over ``user_id`` (which makes a user with only an id).
    """
    when = time.time() if at is None else at
    title = title or f"ValueError: {group}"
    event = Event(
        project_id=project_id,
        event_id=event_id or uuid.uuid4().hex,
        timestamp=when,
        received_at=when,
        platform="python",
        level=level,
        message=message,
        exceptions=[Exception_(type="ValueError", value=title.split(": ", 1)[-1])],
        tags=dict(tags or {}),
        user=user or (User(id=user_id) if user_id else None),
        distinct_id=distinct_id,
        environment=environment,
        release=release,
        server_name=server_name,
        trace_id=trace_id,
    )
    return GroupedEvent(event, group, "contract:1", title, culprit)


def record_errors(store: DigestSink, *grouped: GroupedEvent) -> RecordResult:
    return store.record(DigestBatch(errors=list(grouped)))


def ai_event(
    project_id: int,
    name: str = "$ai_generation",
    *,
    trace: str | None,
    at: float,
    model: str | None = "gpt-4o-mini",
    provider: str | None = "openai",
    input_tokens: int | None = 1000,
    output_tokens: int | None = 100,
    cost: float | None = 0.01,
    latency: float | None = 2.0,
    session: str | None = None,
    parent: str | None = None,
    span_name: str | None = None,
    is_error: bool = False,
    distinct_id: str | None = "user-1",
    environment: str | None = None,
    release: str | None = None,
    event_id: str | None = None,
) -> Event:
    """A PostHog-style ``$ai_*`` event, properties already typed (as ingest leaves them)."""
    properties: dict[str, Any] = {
        "$ai_trace_id": trace,
        "$ai_session_id": session,
        "$ai_parent_id": parent,
        "$ai_span_name": span_name,
        "$ai_model": model,
        "$ai_provider": provider,
        "$ai_input_tokens": input_tokens,
        "$ai_output_tokens": output_tokens,
        "$ai_total_cost_usd": cost,
        "$ai_latency": latency,
        "$ai_is_error": is_error,
    }
    if is_error:
        properties["$ai_error"] = "rate limited"
    return Event(
        project_id=project_id,
        event_id=event_id or uuid.uuid4().hex,
        timestamp=at,
        received_at=at,
        kind="analytics",
        name=name,
        platform="python",
        level="info",
        distinct_id=distinct_id,
        environment=environment,
        release=release,
        trace_id=trace,
        properties={key: value for key, value in properties.items() if value is not None},
    )


def pageview(project_id: int, *, at: float, trace: str | None = None) -> Event:
    return Event(
        project_id=project_id,
        event_id=uuid.uuid4().hex,
        timestamp=at,
        received_at=at,
        kind="analytics",
        name="$pageview",
        distinct_id="visitor",
        trace_id=trace,
        properties={"$current_url": "https://example.com/"},
    )
