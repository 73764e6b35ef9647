"""A stored generation as an evaluator sees it: its text, its metadata, whether it matches.

The text is the generation's ``$ai_input`` and ``$ai_output_choices`` as
stored, which is only there when the project keeps LLM payloads
(``keep_llm_payloads``), after digest's payload policy and scrubbing: an
evaluator never sees more than a person reading the generation page would.
Chat messages become ``role: text`` lines (the input) or the assistant's
text (the output); anything else is shown as JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from heliograph.evals.definition import EvaluatorFilter
from heliograph.evals.engine import Sample
from heliograph.llm_vocabulary import AI_INPUT, AI_MODEL, AI_OUTPUT_CHOICES, AI_PROMPT_NAME
from heliograph.model import Event

__all__ = ["generation_sample", "matches", "message_text"]

AI_OUTPUT = "$ai_output"


def _part_text(part: Any) -> str:
    if isinstance(part, str):
        return part
    if isinstance(part, dict) and isinstance(part.get("text"), str):
        return str(part["text"])
    return orjson.dumps(part, default=str).decode()


def message_text(message: Any) -> str:
    """The text of one chat message (its content parts joined), else its JSON."""
    if isinstance(message, str):
        return message
    if not isinstance(message, dict):
        return orjson.dumps(message, default=str).decode()
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(_part_text(p) for p in content)
    rest = {k: v for k, v in message.items() if k != "role"}
    return orjson.dumps(rest, default=str).decode() if rest else ""


def _input_text(value: Any) -> str | None:
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, list):
        lines = []
        for message in value:
            role = message.get("role") if isinstance(message, dict) else None
            text = message_text(message)
            lines.append(f"{role}: {text}" if isinstance(role, str) and role else text)
        return "\n\n".join(lines)
    return message_text(value)


def _output_text(value: Any) -> str | None:
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, list):
        return "\n\n".join(message_text(m) for m in value)
    return message_text(value)


def generation_sample(event: Event) -> Sample:
    """What an evaluator judges in a stored generation (text None: not kept)."""
    props = event.properties
    output = props.get(AI_OUTPUT_CHOICES)
    if output is None:
        output = props.get(AI_OUTPUT)
    metadata = {
        key: value
        for key, value in props.items()
        if key not in (AI_INPUT, AI_OUTPUT_CHOICES, AI_OUTPUT)
    }
    metadata.setdefault("model", props.get(AI_MODEL))
    return Sample(
        input=_input_text(props.get(AI_INPUT)),
        output=_output_text(output),
        metadata=metadata,
    )


def matches(filters: EvaluatorFilter, properties: Mapping[str, Any]) -> bool:
    """Whether a generation with ``properties`` is one the evaluator looks at."""
    if filters.model is not None and properties.get(AI_MODEL) != filters.model:
        return False
    if filters.prompt_name is not None and properties.get(AI_PROMPT_NAME) != filters.prompt_name:
        return False
    if filters.property_key is not None:
        value = properties.get(filters.property_key)
        if value is None or str(value) != filters.property_value:
            return False
    return True
