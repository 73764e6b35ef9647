"""A short summary of the LLM trace an error happened in, for the AI-fix prompt.

When an error carries a trace id that LLM generations or spans share, the
model is told which models ran and what the failing (or last) generation
was, so a fix can reason about what the LLM was doing.
"""

from __future__ import annotations

from typing import Any

from heliograph.llm_vocabulary import (
    AI_ERROR,
    AI_GENERATION,
    AI_IS_ERROR,
    AI_MODEL,
    AI_PREFIX,
    AI_PROVIDER,
    AI_SPAN,
    AI_SPAN_NAME,
    LLM_EVENTS,
)
from heliograph.store.base import StoredEvent

MAX_ERROR_CHARS = 300


def summarize_trace(trace_id: str, events: list[StoredEvent]) -> dict[str, Any] | None:
    """None when no LLM event shares the trace id."""
    llm = [e.event for e in events if e.event.name in LLM_EVENTS]
    if not llm:
        return None
    generations = [e for e in llm if e.name == AI_GENERATION]
    models = sorted(
        {str(g.properties.get(AI_MODEL)) for g in generations if g.properties.get(AI_MODEL)}
    )
    failing = [e for e in llm if e.properties.get(AI_IS_ERROR)]
    focus = failing[-1] if failing else (generations[-1] if generations else None)
    summary: dict[str, Any] = {
        "trace_id": trace_id,
        "models": models,
        "generations": len(generations),
        "spans": sum(1 for e in llm if e.name == AI_SPAN),
        "errors": len(failing),
    }
    if focus is not None:
        props = focus.properties
        detail: dict[str, Any] = {
            "kind": focus.name.removeprefix(AI_PREFIX),
            "name": props.get(AI_SPAN_NAME),
            "model": props.get(AI_MODEL),
            "provider": props.get(AI_PROVIDER),
            "is_error": bool(props.get(AI_IS_ERROR)),
        }
        error = props.get(AI_ERROR)
        if error:
            detail["error"] = str(error)[:MAX_ERROR_CHARS]
        summary["failing" if failing else "last"] = {
            k: v for k, v in detail.items() if v is not None
        }
    return summary
