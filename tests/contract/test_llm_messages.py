"""A generation and its messages logged apart (OTLP logs) meet in the store, either first."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from heliograph.llm_messages import GenerationMessages, span_event_id
from heliograph.model import Event
from heliograph.store.base import DigestBatch, Project
from heliograph.store.contract import Store
from heliograph.store.held_messages import HOLD_SECONDS, MAX_HELD_PER_PROJECT
from tests.contract.builders import ai_event

PROMPT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hi"}]
ANSWER = [{"role": "assistant", "content": "Hi!", "finish_reason": "stop"}]


def otel_generation(project_id: int, trace_id: str, span_id: str, **kwargs: Any) -> Event:
    """A generation as digest makes it from an OTLP span (its event id fixed by its ids)."""
    event = ai_event(
        project_id, trace=trace_id, at=time.time(), event_id=span_event_id(trace_id, span_id)
    )
    event.span_id = span_id
    return replace(event, **kwargs) if kwargs else event


def ids() -> tuple[str, str]:
    return uuid.uuid4().hex, uuid.uuid4().hex[:16]


def messages(
    project_id: int,
    trace_id: str,
    span_id: str,
    *,
    inputs: list[dict[str, object]] | None = None,
    outputs: list[dict[str, object]] | None = None,
    first_at: int = 1,
) -> GenerationMessages:
    return GenerationMessages(
        project_id=project_id,
        trace_id=trace_id,
        span_id=span_id,
        received_at=time.time(),
        first_at=first_at,
        inputs=list(inputs or []),
        outputs=list(outputs or []),
    )


def stored_properties(store: Store, project_id: int, trace_id: str, span_id: str) -> dict[str, Any]:
    stored = store.get_event(project_id, span_event_id(trace_id, span_id))
    assert stored is not None
    return stored.event.properties


def test_messages_after_their_span_complete_the_stored_generation(
    store: Store, project: Project
) -> None:
    trace_id, span_id = ids()
    store.record(DigestBatch(analytics=[otel_generation(project.id, trace_id, span_id)]))
    store.record(
        DigestBatch(
            llm_messages=[messages(project.id, trace_id, span_id, inputs=PROMPT, outputs=ANSWER)]
        )
    )
    properties = stored_properties(store, project.id, trace_id, span_id)
    assert properties["$ai_input"] == PROMPT
    assert properties["$ai_output_choices"] == ANSWER
    assert properties["$ai_model"] == "gpt-4o-mini"  # the rest of the generation is kept


def test_messages_before_their_span_wait_for_it(store: Store, project: Project) -> None:
    trace_id, span_id = ids()
    # The answer is logged after the prompt, and may be exported first.
    store.record(
        DigestBatch(
            llm_messages=[messages(project.id, trace_id, span_id, outputs=ANSWER, first_at=20)]
        )
    )
    store.record(
        DigestBatch(
            llm_messages=[messages(project.id, trace_id, span_id, inputs=PROMPT, first_at=10)]
        )
    )
    assert store.get_event(project.id, span_event_id(trace_id, span_id)) is None
    store.record(DigestBatch(analytics=[otel_generation(project.id, trace_id, span_id)]))
    properties = stored_properties(store, project.id, trace_id, span_id)
    assert properties["$ai_input"] == PROMPT
    assert properties["$ai_output_choices"] == ANSWER


def test_held_messages_survive_a_restart(
    store: Store, project: Project, reopen: Callable[[], Store]
) -> None:
    trace_id, span_id = ids()
    store.record(DigestBatch(llm_messages=[messages(project.id, trace_id, span_id, inputs=PROMPT)]))
    again = reopen()
    again.record(DigestBatch(analytics=[otel_generation(project.id, trace_id, span_id)]))
    assert stored_properties(again, project.id, trace_id, span_id)["$ai_input"] == PROMPT


def test_replayed_batches_join_nothing_twice(store: Store, project: Project) -> None:
    trace_id, span_id = ids()
    first = DigestBatch(llm_messages=[messages(project.id, trace_id, span_id, inputs=PROMPT)])
    store.record(first)
    store.record(first)
    span = DigestBatch(analytics=[otel_generation(project.id, trace_id, span_id)])
    store.record(span)
    store.record(span)
    late = DigestBatch(llm_messages=[messages(project.id, trace_id, span_id, outputs=ANSWER)])
    store.record(late)
    store.record(late)
    properties = stored_properties(store, project.id, trace_id, span_id)
    assert properties["$ai_input"] == PROMPT
    assert properties["$ai_output_choices"] == ANSWER


def test_messages_a_span_carried_itself_are_kept(store: Store, project: Project) -> None:
    trace_id, span_id = ids()
    own = [{"role": "user", "content": "from the span"}]
    generation = otel_generation(project.id, trace_id, span_id)
    generation.properties["$ai_input"] = own
    store.record(DigestBatch(analytics=[generation]))
    store.record(
        DigestBatch(
            llm_messages=[messages(project.id, trace_id, span_id, inputs=PROMPT, outputs=ANSWER)]
        )
    )
    properties = stored_properties(store, project.id, trace_id, span_id)
    assert properties["$ai_input"] == own
    assert properties["$ai_output_choices"] == ANSWER


def test_messages_join_generations_only_of_their_project(
    store: Store, project: Project, other_project: Project
) -> None:
    trace_id, span_id = ids()
    store.record(DigestBatch(analytics=[otel_generation(project.id, trace_id, span_id)]))
    store.record(
        DigestBatch(llm_messages=[messages(other_project.id, trace_id, span_id, inputs=PROMPT)])
    )
    assert "$ai_input" not in stored_properties(store, project.id, trace_id, span_id)


def test_messages_of_a_span_that_is_no_generation_are_dropped(
    store: Store, project: Project
) -> None:
    trace_id, span_id = ids()
    span = otel_generation(project.id, trace_id, span_id, name="$ai_span")
    store.record(DigestBatch(analytics=[span]))
    store.record(DigestBatch(llm_messages=[messages(project.id, trace_id, span_id, inputs=PROMPT)]))
    assert "$ai_input" not in stored_properties(store, project.id, trace_id, span_id)


def test_messages_whose_span_never_comes_expire(store: Store, project: Project) -> None:
    trace_id, span_id = ids()
    store.record(DigestBatch(llm_messages=[messages(project.id, trace_id, span_id, inputs=PROMPT)]))
    store.purge_expired(now=time.time() + HOLD_SECONDS + 60)
    store.record(DigestBatch(analytics=[otel_generation(project.id, trace_id, span_id)]))
    assert "$ai_input" not in stored_properties(store, project.id, trace_id, span_id)


def test_a_project_holds_a_bounded_number_of_waiting_groups(store: Store, project: Project) -> None:
    groups = [messages(project.id, *ids(), inputs=PROMPT) for _ in range(MAX_HELD_PER_PROJECT)]
    store.record(DigestBatch(llm_messages=groups))
    trace_id, span_id = ids()
    store.record(DigestBatch(llm_messages=[messages(project.id, trace_id, span_id, inputs=PROMPT)]))
    store.record(DigestBatch(analytics=[otel_generation(project.id, trace_id, span_id)]))
    assert "$ai_input" not in stored_properties(store, project.id, trace_id, span_id)
    counted = {(o.outcome, o.reason): o.quantity for o in store.outcomes(project.id)}
    assert counted[("filtered", "llm_messages_held_too_many")] == 1
