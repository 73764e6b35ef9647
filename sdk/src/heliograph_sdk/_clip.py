"""LLM payloads made JSON-safe and clipped to a character budget.

Prompts and completions can be huge and are often mutated after the call (a
chat history list grows), so they are copied on the calling thread — only
when payload capture is on — and every string beyond the budget is cut with a
visible ``…[truncated N chars]`` marker, N being the number of characters
removed. The budget is shared across the whole payload, so a thousand
messages cannot add up to a thousand times the limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_DEPTH = 20
# Structural fields are short and tell what a message is: they never spend the budget.
_STRUCTURAL = frozenset({"role", "type", "name", "id", "tool_call_id", "tool_use_id"})


def truncation_marker(removed: int) -> str:
    return f"…[truncated {removed} chars]"


def clip_text(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters plus the marker (unchanged when short)."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit)] + truncation_marker(len(text) - max(0, limit))


def to_jsonable(value: Any, depth: int = 0) -> Any:
    """Plain dicts/lists/scalars; pydantic-style models through ``model_dump()``."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if depth >= MAX_DEPTH:
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, depth + 1) for v in value]
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return to_jsonable(dump(exclude_none=True), depth + 1)
        except Exception:
            pass
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    try:
        return str(value)
    except Exception:
        return f"<{type(value).__name__}>"


class _Budget:
    __slots__ = ("left",)

    def __init__(self, left: int) -> None:
        self.left = left

    def take(self, text: str) -> str:
        if len(text) <= self.left:
            self.left -= len(text)
            return text
        keep = self.left
        self.left = 0
        return clip_text(text, keep)


def _clip(value: Any, budget: _Budget) -> Any:
    if isinstance(value, str):
        return budget.take(value)
    if isinstance(value, dict):
        return {
            k: v if k in _STRUCTURAL and isinstance(v, str) else _clip(v, budget)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_clip(v, budget) for v in value]
    return value


def clip_payload(value: Any, max_chars: int) -> Any:
    """A JSON-safe copy of ``value`` whose strings total at most ``max_chars`` characters."""
    return _clip(to_jsonable(value), _Budget(max_chars))
