"""Dataset items from recorded LLM calls: a generation's or a trace's input and output.

"Add to dataset" on the generations list, a generation or a trace: the call's
input becomes the item's input and its output the expected output (edited
later when the call was wrong), and the item remembers where it came from
(``source_trace_id``, ``source_observation_id``). The text is in the events
only when the project keeps LLM payloads; a call without it becomes no item,
and the caller says so (:class:`FromCalls.missing`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from heliograph.datasets.definition import DatasetError, ItemDraft, check_json
from heliograph.llm_vocabulary import (
    AI_GENERATION,
    AI_INPUT,
    AI_INPUT_STATE,
    AI_OUTPUT,
    AI_OUTPUT_CHOICES,
    AI_OUTPUT_STATE,
    AI_TRACE,
)
from heliograph.store.contract import IssueStore, LlmReads
from heliograph.store.llm_records import LlmEventRecord

__all__ = ["FromCalls", "items_from_calls", "plain_output"]

MAX_CALLS = 200


class _Reads(LlmReads, IssueStore, Protocol):
    """Where a dataset's items come from: stored LLM calls and events."""


@dataclass
class FromCalls:
    items: list[ItemDraft] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # ids not found, or without payloads


def plain_output(value: Any) -> Any:
    """An output as people read it: one assistant message's text, else as recorded."""
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        value = value[0]
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return value["content"]
    return value


def _properties(store: _Reads, project_id: int, record: LlmEventRecord) -> dict[str, Any]:
    stored = store.get_event(project_id, record.event_id)
    return stored.event.properties if stored is not None else {}


def _draft(input_: Any, output: Any, trace_id: str | None, span_id: str | None) -> ItemDraft:
    return ItemDraft(
        input=check_json(input_, "the call's input"),
        expected_output=check_json(plain_output(output), "the call's output"),
        source_trace_id=trace_id,
        source_observation_id=span_id,
    )


def _from_generation(store: _Reads, project_id: int, event_id: str) -> ItemDraft | None:
    record = store.llm_event(project_id, event_id)
    if record is None:
        return None
    props = _properties(store, project_id, record)
    input_ = props.get(AI_INPUT)
    if input_ is None:
        return None
    output = props.get(AI_OUTPUT_CHOICES, props.get(AI_OUTPUT))
    return _draft(input_, output, record.trace_id, record.span_id)


def _from_trace(store: _Reads, project_id: int, trace_id: str) -> ItemDraft | None:
    events = store.llm_trace_events(project_id, trace_id)
    for record in events:
        if record.name == AI_TRACE:
            props = _properties(store, project_id, record)
            if props.get(AI_INPUT_STATE) is not None:
                return _draft(props[AI_INPUT_STATE], props.get(AI_OUTPUT_STATE), trace_id, None)
    calls = [r for r in events if r.name == AI_GENERATION]
    if not calls:
        return None
    first = _properties(store, project_id, calls[0])
    last = _properties(store, project_id, calls[-1])
    if first.get(AI_INPUT) is None:
        return None
    output = last.get(AI_OUTPUT_CHOICES, last.get(AI_OUTPUT))
    return _draft(first[AI_INPUT], output, trace_id, None)


def items_from_calls(
    store: _Reads,
    project_id: int,
    *,
    generations: Sequence[str] = (),
    traces: Sequence[str] = (),
) -> FromCalls:
    """Items from the generations (by event id) and traces named, in that order."""
    if len(generations) + len(traces) > MAX_CALLS:
        raise DatasetError(f"add at most {MAX_CALLS} calls at once")
    found = FromCalls()
    for kind, ids in (("generation", generations), ("trace", traces)):
        for value in ids:
            if not isinstance(value, str) or not value or len(value) > 200:
                raise DatasetError(f"each {kind} id must be text")
            draft = (
                _from_generation(store, project_id, value)
                if kind == "generation"
                else _from_trace(store, project_id, value)
            )
            if draft is None:
                found.missing.append(value)
            else:
                found.items.append(draft)
    return found
