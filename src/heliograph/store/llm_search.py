"""Full-text search over LLM calls: prompts, completions, names and properties.

Each ``$ai_*`` event gets one searchable text when it is stored, made by
:func:`search_text`: its span and trace names, model, error, every string
of its prompt, completion and span input/output, and the values of its own
properties. What the project's payload setting dropped before the event was
written is not in the event, so it is not searchable either: search never
sees more than the store keeps.

Where the text goes, per backend:

* SQLite: an FTS5 index (``llm_search``) over ``llm_search_text``, kept in
  step by triggers, so retention deletes rows from the text table alone;
* PostgreSQL: ``llm_search_text.body``, a ``tsvector`` under a GIN index;
* ClickHouse mode: no index of its own; the search reads the events'
  documents in ClickHouse, which scans a range fast.

A query is words; every word must occur (in any order, any case).
:func:`search_words` turns what a user typed into those words.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from heliograph.llm_vocabulary import (
    AI_ERROR,
    AI_INPUT,
    AI_INPUT_STATE,
    AI_MODEL,
    AI_OUTPUT_CHOICES,
    AI_OUTPUT_STATE,
    AI_SPAN_NAME,
    AI_TRACE_NAME,
)
from heliograph.model import Event

__all__ = ["MAX_QUERY_WORDS", "MAX_TEXT_CHARS", "search_text", "search_words"]

# What one call contributes to the index, at most (long transcripts are cut).
MAX_TEXT_CHARS = 64_000
MAX_QUERY_WORDS = 12
_PAYLOADS = (AI_INPUT, AI_OUTPUT_CHOICES, AI_INPUT_STATE, AI_OUTPUT_STATE)
_NAMED = (AI_SPAN_NAME, AI_TRACE_NAME, AI_MODEL, AI_ERROR)
_WORD = re.compile(r"\w+", re.UNICODE)
_MAX_DEPTH = 32


def search_text(event: Event) -> str:
    """The searchable text of one LLM event (see the module docstring)."""
    properties = event.properties
    parts: list[str] = []
    for key in _NAMED:
        value = properties.get(key)
        if isinstance(value, str):
            parts.append(value)
    for key in _PAYLOADS:
        parts.extend(_strings(properties.get(key), 0))
    for key, value in properties.items():
        if not key.startswith("$") and isinstance(value, (str, int, float)):
            parts.append(f"{key} {value}")
    size = 0
    kept: list[str] = []
    for part in parts:
        if size >= MAX_TEXT_CHARS:
            break
        kept.append(part[: MAX_TEXT_CHARS - size])
        size += len(kept[-1]) + 1
    return "\n".join(kept)


def _strings(value: Any, depth: int) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif depth >= _MAX_DEPTH:
        return
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, depth + 1)


def search_words(query: str) -> list[str]:
    """The words of what a user typed (letters and digits), lower case, at most a dozen."""
    return [word.lower() for word in _WORD.findall(query)][:MAX_QUERY_WORDS]
