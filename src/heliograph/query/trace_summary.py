"""A short summary of the LLM trace an error happened in, for the AI-fix prompt.

When an error carries a trace id that LLM generations or spans share, the
model is told which models ran and what the failing (or last) generation
was, so a fix can reason about what the LLM was doing.
"""

from __future__ import annotations

from typing import Any

from heliograph.store.base import StoredEvent

LLM_EVENTS = frozenset({"$ai_generation", "$ai_span", "$ai_trace", "$ai_embedding"})
MAX_ERROR_CHARS = 300


def summarize_trace(trace_id: str, events: list[StoredEvent]) -> dict[str, Any] | None:
    """None when no LLM event shares the trace id."""
    llm = [e.event for e in events if e.event.name in LLM_EVENTS]
    if not llm:
        return None
    generations = [e for e in llm if e.name == "$ai_generation"]
    models = sorted(
        {str(g.properties.get("$ai_model")) for g in generations if g.properties.get("$ai_model")}
    )
    failing = [e for e in llm if e.properties.get("$ai_is_error")]
    focus = failing[-1] if failing else (generations[-1] if generations else None)
    summary: dict[str, Any] = {
        "trace_id": trace_id,
        "models": models,
        "generations": len(generations),
        "spans": sum(1 for e in llm if e.name == "$ai_span"),
        "errors": len(failing),
    }
    if focus is not None:
        props = focus.properties
        detail: dict[str, Any] = {
            "kind": focus.name.removeprefix("$ai_"),
            "name": props.get("$ai_span_name"),
            "model": props.get("$ai_model"),
            "provider": props.get("$ai_provider"),
            "is_error": bool(props.get("$ai_is_error")),
        }
        error = props.get("$ai_error")
        if error:
            detail["error"] = str(error)[:MAX_ERROR_CHARS]
        summary["failing" if failing else "last"] = {
            k: v for k, v in detail.items() if v is not None
        }
    return summary
