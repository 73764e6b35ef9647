"""A generation's messages that came apart from it: what they are, and how they rejoin it.

OpenTelemetry's GenAI instrumentations in their default mode (the official
``opentelemetry-instrumentation-openai-v2`` among them) record a model call
as a span with the model, usage and timing, and its prompt and completion as
*log records* (``gen_ai.user.message``, ``gen_ai.choice``...), each carrying
the span's trace and span id. The exporter sends the two on their own
schedules to ``/v1/traces`` and ``/v1/logs``: the messages may reach
Heliograph before the span, after it, in the same digest batch or a day
apart (an exporter retrying).

:class:`GenerationMessages` is what one OTLP logs export said about one span,
already mapped to the ``$ai_input`` / ``$ai_output_choices`` shape and put
through the project's payload policy and scrubbing by digest. Whichever
arrives second completes the generation with :func:`merge_messages`:

* in digest, when the span's event is in the same batch;
* in the store, when the span was stored before (the stored document is
  updated), or when the span comes later (the messages waited in the store's
  ``llm_held_messages``, :mod:`heliograph.store.held_messages`).

The generation's event id is fixed by its ids (:func:`span_event_id`), which
is what lets either side find the other without a search.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from heliograph.llm_vocabulary import AI_INPUT, AI_OUTPUT_CHOICES

__all__ = ["MAX_MESSAGES", "GenerationMessages", "merge_messages", "span_event_id"]

MAX_MESSAGES = 1_000
"""Messages kept per generation from one export, inputs and outputs each: a real
conversation is far shorter; a hostile export is cut here."""


def span_event_id(trace_id: str, span_id: str) -> str:
    """The event id of the event made from a span: 32 hex characters, the same every time."""
    return trace_id[:16] + span_id


@dataclass(slots=True)
class GenerationMessages:
    """The messages one logs export carried for one span (lower-case hex ids).

    ``first_at``: the time (ns) of the first of its log records, which orders
    two exports' messages for the same span (its prompt in one, its choice in
    the next).
    """

    project_id: int
    trace_id: str
    span_id: str
    received_at: float
    first_at: int = 0
    inputs: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def event_id(self) -> str:
        return span_event_id(self.trace_id, self.span_id)

    def __bool__(self) -> bool:
        return bool(self.inputs or self.outputs)

    def document(self) -> bytes:
        """The messages as held in the store (JSON)."""
        return orjson.dumps({"inputs": self.inputs, "outputs": self.outputs})

    @classmethod
    def from_document(
        cls,
        document: bytes | str,
        *,
        project_id: int,
        trace_id: str,
        span_id: str,
        received_at: float,
        first_at: int,
    ) -> GenerationMessages:
        data = orjson.loads(document)
        return cls(
            project_id=project_id,
            trace_id=trace_id,
            span_id=span_id,
            received_at=received_at,
            first_at=first_at,
            inputs=list(data.get("inputs") or []),
            outputs=list(data.get("outputs") or []),
        )


def merge_messages(
    properties: MutableMapping[str, Any], groups: Iterable[GenerationMessages]
) -> bool:
    """Fill a generation's ``$ai_input`` / ``$ai_output_choices`` from its logged messages.

    The groups' messages are joined in the order they were logged. What the
    event already has is kept: a span that carries its messages itself
    (attributes, span events) is not overwritten, and merging the same
    messages twice (a replayed batch) changes nothing. Returns whether
    ``properties`` changed.
    """
    ordered = sorted(groups, key=lambda group: (group.first_at, group.received_at))
    inputs = [message for group in ordered for message in group.inputs][:MAX_MESSAGES]
    outputs = [message for group in ordered for message in group.outputs][:MAX_MESSAGES]
    changed = False
    if inputs and not properties.get(AI_INPUT):
        properties[AI_INPUT] = inputs
        changed = True
    if outputs and not properties.get(AI_OUTPUT_CHOICES):
        properties[AI_OUTPUT_CHOICES] = outputs
        changed = True
    return changed
