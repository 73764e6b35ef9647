"""Local variables of a frame, as small JSON-safe values (opt-in).

Locals must be read on the calling thread, while the frame still holds them,
so this is the one expensive step of ``capture_exception`` and it is off by
default. Every value is bounded: at most ``MAX_VARS`` names per frame,
containers walked ``MAX_DEPTH`` levels deep with ``MAX_ITEMS`` entries each,
anything else ``repr``-ed and clipped to ``MAX_REPR`` characters. Secret-looking
names are scrubbed before their value is even looked at.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from heliograph_sdk._scrub import FILTERED, is_secret_key, is_secret_value

MAX_VARS = 20
MAX_DEPTH = 3
MAX_ITEMS = 10
MAX_REPR = 200


def clip(text: str, limit: int = MAX_REPR) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + "…"


def safe_repr(value: object) -> str:
    try:
        return clip(repr(value))
    except Exception:
        return f"<{type(value).__name__} object (repr failed)>"


def serialize(value: Any, depth: int = 0) -> Any:
    """A bounded, JSON-safe rendition of ``value``."""
    if value is None or isinstance(value, (bool, float)):
        return value
    if isinstance(value, int):
        return value if -(2**53) <= value <= 2**53 else safe_repr(value)
    if isinstance(value, str):
        return FILTERED if is_secret_value(value) else clip(value)
    if depth >= MAX_DEPTH:
        return safe_repr(value)
    if isinstance(value, Mapping) and type(value).__repr__ is dict.__repr__:
        out: dict[str, Any] = {}
        for i, (key, item) in enumerate(value.items()):
            if i >= MAX_ITEMS:
                out["…"] = f"{len(value) - MAX_ITEMS} more"
                break
            name = key if isinstance(key, str) else safe_repr(key)
            out[name] = FILTERED if is_secret_key(name) else serialize(item, depth + 1)
        return out
    if isinstance(value, (list, tuple, set, frozenset)) and type(value).__repr__ in (
        list.__repr__,
        tuple.__repr__,
        set.__repr__,
        frozenset.__repr__,
    ):
        head = zip(range(MAX_ITEMS), value, strict=False)
        items = [serialize(item, depth + 1) for _, item in head]
        if len(value) > MAX_ITEMS:
            items.append(f"… {len(value) - MAX_ITEMS} more")
        return items
    return safe_repr(value)


def frame_vars(f_locals: Mapping[str, Any]) -> dict[str, Any]:
    """Up to ``MAX_VARS`` locals of one frame, scrubbed and bounded."""
    out: dict[str, Any] = {}
    for name, value in f_locals.items():
        if name.startswith("__"):
            continue
        if len(out) >= MAX_VARS:
            break
        out[name] = FILTERED if is_secret_key(name) else serialize(value)
    return out
