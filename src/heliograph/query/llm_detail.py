"""Read models of one generation and one trace, and the error <-> trace links.

Prompts and completions are shown only as the store has them: when the
project keeps no payloads, digest removed them before writing and the page
says so. Whatever is shown is plain text for the template to escape;
message parts that are not text (images, tool calls) are shown as JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from heliograph.llm_vocabulary import (
    AI_COST_MODEL,
    AI_INPUT,
    AI_INPUT_COST_USD,
    AI_INPUT_STATE,
    AI_INSTRUCTIONS,
    AI_OUTPUT,
    AI_OUTPUT_CHOICES,
    AI_OUTPUT_COST_USD,
    AI_OUTPUT_STATE,
    AI_PAYLOADS_DROPPED,
    AI_PREFIX,
    AI_TOOLS,
    PAYLOAD_KEYS,
)
from heliograph.model import Event
from heliograph.query.llm_scores import TraceScores, call_scores, trace_scores
from heliograph.query.llm_tree import TraceTree, build_tree
from heliograph.store.base import Project
from heliograph.store.llm_records import LlmEventRecord, TraceError, TraceRecord

if TYPE_CHECKING:
    from heliograph.store.contract import Store

__all__ = [
    "GenerationPage",
    "Message",
    "PayloadSection",
    "PropertyItem",
    "TracePage",
    "build_generation_page",
    "build_trace_page",
]

# Payload properties, in reading order, with their headings.
_PAYLOAD_TITLES = {
    AI_INSTRUCTIONS: "Instructions",
    AI_INPUT: "Input",
    AI_OUTPUT_CHOICES: "Output",
    AI_OUTPUT: "Output",
    AI_TOOLS: "Tools",
    AI_INPUT_STATE: "Input state",
    AI_OUTPUT_STATE: "Output state",
}
_MESSAGE_KEYS = (AI_INPUT, AI_OUTPUT_CHOICES, AI_OUTPUT)


@dataclass(frozen=True, slots=True)
class PropertyItem:
    key: str
    value: str
    multiline: bool


@dataclass(frozen=True, slots=True)
class Message:
    role: str
    text: str


@dataclass(frozen=True, slots=True)
class PayloadSection:
    """One payload property: as chat messages when it is a message list, else as JSON."""

    title: str
    messages: list[Message]
    raw: str | None


@dataclass(frozen=True, slots=True)
class GenerationPage:
    project: Project
    record: LlmEventRecord
    event: Event | None
    input_cost_usd: float | None
    output_cost_usd: float | None
    cost_model: str | None
    properties: list[PropertyItem]
    payloads: list[PayloadSection]
    payloads_dropped: bool
    trace: TraceRecord | None
    # Scores naming this call (by its span id): feedback, metrics, annotations...
    scores: TraceScores = field(default_factory=TraceScores)


def build_generation_page(store: Store, project: Project, event_id: str) -> GenerationPage | None:
    """One generation (or any LLM event) of the project; None when it has no such event."""
    record = store.llm_event(project.id, event_id)
    if record is None:
        return None
    stored = store.get_event(project.id, event_id)
    event = stored.event if stored else None
    props = event.properties if event else {}
    trace = store.llm_trace(project.id, record.trace_id) if record.trace_id else None
    return GenerationPage(
        project=project,
        record=record,
        event=event,
        input_cost_usd=_float(props.get(AI_INPUT_COST_USD)),
        output_cost_usd=_float(props.get(AI_OUTPUT_COST_USD)),
        cost_model=props.get(AI_COST_MODEL) if isinstance(props.get(AI_COST_MODEL), str) else None,
        properties=_properties(props),
        payloads=[
            _payload(key, props[key]) for key in _PAYLOAD_TITLES if props.get(key) is not None
        ],
        payloads_dropped=props.get(AI_PAYLOADS_DROPPED) is True,
        trace=trace,
        scores=call_scores(store, project, record.span_id),
    )


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _json(value: Any) -> str:
    return orjson.dumps(
        value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str
    ).decode()


def _properties(props: Mapping[str, Any]) -> list[PropertyItem]:
    """Every property but the payloads, ``$ai_*`` first, then alphabetical."""
    items = []
    for key in sorted(props, key=lambda k: (not k.startswith(AI_PREFIX), k)):
        if key in PAYLOAD_KEYS:
            continue
        value = props[key]
        text = value if isinstance(value, str) else _json(value)
        items.append(PropertyItem(key, text, "\n" in text))
    return items


def _payload(key: str, value: Any) -> PayloadSection:
    title = _PAYLOAD_TITLES[key]
    if key in _MESSAGE_KEYS and isinstance(value, list) and all(isinstance(m, dict) for m in value):
        return PayloadSection(title, [_message(m) for m in value], None)
    if isinstance(value, str):
        return PayloadSection(title, [], value)
    return PayloadSection(title, [], _json(value))


def _message(message: Mapping[str, Any]) -> Message:
    role = message.get("role")
    content = message.get("content")
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and part.get("type") in ("text", "input_text", "output_text"):
                parts.append(str(part.get("text", "")))
            elif isinstance(part, str):
                parts.append(part)
            else:
                parts.append(_json(part))
        text = "\n".join(parts)
    elif content is None:
        rest = {k: v for k, v in message.items() if k != "role"}
        text = _json(rest) if rest else ""
    else:
        text = _json(content)
    return Message(role if isinstance(role, str) and role else "message", text)


@dataclass(frozen=True, slots=True)
class TracePage:
    project: Project
    trace: TraceRecord
    tree: TraceTree
    errors: list[TraceError]
    truncated: bool
    # The trace's own input and output (its $ai_trace event's, or its root span's).
    root_payloads: list[PayloadSection] = field(default_factory=list)
    # Scores naming the trace or one of its calls.
    scores: TraceScores = field(default_factory=TraceScores)
    # The event the side panel shows (``?span=<event id>``), when it is one of the trace's.
    selected: GenerationPage | None = None


def build_trace_page(
    store: Store, project: Project, trace_id: str, selected: str | None = None
) -> TracePage | None:
    """A trace as a tree, with the errors recorded in it; None when it is unknown here."""
    trace = store.llm_trace(project.id, trace_id)
    if trace is None:
        return None
    events = store.llm_trace_events(project.id, trace_id)
    tree = build_tree(trace_id, events)
    root_payloads: list[PayloadSection] = []
    if tree.root.record is not None:
        root = store.get_event(project.id, tree.root.record.event_id)
        props = root.event.properties if root else {}
        root_payloads = [
            _payload(key, props[key]) for key in _PAYLOAD_TITLES if props.get(key) is not None
        ]
    chosen = None
    if selected and any(r.record and r.record.event_id == selected for r in tree.rows):
        chosen = build_generation_page(store, project, selected)
    return TracePage(
        project=project,
        trace=trace,
        tree=tree,
        errors=store.llm_trace_errors(project.id, trace_id),
        truncated=len(events) < trace.events,
        root_payloads=root_payloads,
        scores=trace_scores(store, project, trace_id),
        selected=chosen,
    )
