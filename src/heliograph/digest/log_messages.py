"""A generation's logged messages, made ready to store, and joined in the batch when they can be.

Messages that came as OTLP log records (:mod:`heliograph.llm_messages`) go
through what a span's messages go through (:func:`prepare_event`): the
stored range, the project's payload policy (dropped unless the project keeps
LLM payloads; clipped when it does), and scrubbing. They are prepared on
their own, before any join, so that the policy holds wherever they end up:
merged into a generation of the same batch (:func:`join_in_batch`), into a
stored one, or held until their span comes (the store's part).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from heliograph.bounds import bound_event
from heliograph.digest.payloads import apply_payload_policy
from heliograph.digest.scrub import ScrubRules, scrub_event
from heliograph.llm_messages import GenerationMessages, merge_messages
from heliograph.llm_vocabulary import AI_GENERATION, AI_INPUT, AI_OUTPUT_CHOICES
from heliograph.model import Event
from heliograph.store.base import Project, event_document

__all__ = ["join_in_batch", "prepare_messages"]


def prepare_messages(group: GenerationMessages, project: Project) -> GenerationMessages | None:
    """``group`` as it may be stored for ``project``; None when nothing of it may be."""
    properties: dict[str, Any] = {}
    if group.inputs:
        properties[AI_INPUT] = group.inputs
    if group.outputs:
        properties[AI_OUTPUT_CHOICES] = group.outputs
    # Carried in an event of the generation's own name, so that every rule
    # reads it exactly as it reads the generation.
    carrier = Event(
        project_id=project.id,
        event_id=group.event_id,
        timestamp=group.received_at,
        kind="analytics",
        name=AI_GENERATION,
        received_at=group.received_at,
        properties=properties,
    )
    bound_event(carrier)
    apply_payload_policy(
        carrier, keep_payloads=project.keep_llm_payloads, max_chars=project.payload_max_chars
    )
    scrub_event(carrier, rules=ScrubRules.of(project.scrub_extra_keys, project.scrub_safe_fields))
    group.inputs = _messages(carrier.properties.get(AI_INPUT))
    group.outputs = _messages(carrier.properties.get(AI_OUTPUT_CHOICES))
    return group if group else None


def _messages(value: Any) -> list[dict[str, Any]]:
    return [m for m in value if isinstance(m, dict)] if isinstance(value, list) else []


def join_in_batch(
    events: Iterable[Event],
    groups: Iterable[GenerationMessages],
    documents: dict[tuple[int, str], bytes],
) -> list[GenerationMessages]:
    """Merge each group into its generation when the batch holds it; return the others.

    A merged event's stored document (``documents``, encoded ahead of the
    write) is encoded again. Messages whose span became another kind of event
    (not a generation) are dropped: they have nowhere to go.
    """
    by_key: dict[tuple[int, str], list[GenerationMessages]] = defaultdict(list)
    for group in groups:
        by_key[(group.project_id, group.event_id)].append(group)
    if not by_key:
        return []
    for event in events:
        key = (event.project_id, event.event_id)
        found = by_key.pop(key, None)
        if found and event.name == AI_GENERATION and merge_messages(event.properties, found):
            documents[key] = event_document(event)
    return [group for waiting in by_key.values() for group in waiting]
