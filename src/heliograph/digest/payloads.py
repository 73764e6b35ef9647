"""LLM payload privacy: prompts and completions are stored only when a project says so.

Off (the default for a project): the payload properties are removed before
anything is written and ``$ai_payloads_dropped: true`` says so. On: every
string inside them longer than ``max_chars`` is clipped, however deeply it
sits in a message list, and ends with a visible ``…[truncated N chars]``
marker, N being the number of characters removed. A clipped string, marker
included, is at most ``max_chars`` long.
"""

from __future__ import annotations

import json
import re
from typing import Any

from heliograph.llm_vocabulary import AI_PAYLOADS_DROPPED, PAYLOAD_KEYS
from heliograph.model import Event

__all__ = ["DEFAULT_MAX_CHARS", "PAYLOAD_KEYS", "apply_payload_policy", "clip_text"]

DEFAULT_MAX_CHARS = 30_000
# The marker an earlier clip (the SDK's, or ours) left at the end of a text.
_MARKER = re.compile(r"…\[truncated (\d{1,15}) chars\]\Z")
_MARKER_MAX = len("…[truncated 999999999999999 chars]")
_MAX_DEPTH = 64


def apply_payload_policy(
    event: Event, *, keep_payloads: bool, max_chars: int = DEFAULT_MAX_CHARS
) -> None:
    """Drop (``keep_payloads=False``) or clip the LLM payload properties of ``event``, in place."""
    properties = event.properties
    present = [key for key in PAYLOAD_KEYS if key in properties]
    if not keep_payloads:
        for key in present:
            del properties[key]
        if present:
            properties[AI_PAYLOADS_DROPPED] = True
        return
    for key in present:
        properties[key] = _clip(properties[key], max_chars, 0)


def clip_text(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """``text`` cut to at most ``max_chars`` characters, ending ``…[truncated N chars]``.

    Text that an SDK clipped already ends with its own marker: that marker is
    replaced, and N counts what both removed, so the stored text always
    states how much of the original is missing.
    """
    if len(text) <= max_chars:
        return text
    earlier = 0
    marker = _MARKER.search(text, max(0, len(text) - _MARKER_MAX))
    if marker:
        earlier = int(marker.group(1))
        text = text[: marker.start()]
    removed = len(text) - max_chars + earlier
    # The marker's own length depends on N: settle N (it converges in a step or two).
    while True:
        keep = max(max_chars - len(f"…[truncated {removed} chars]"), 0)
        if len(text) - keep + earlier == removed:
            break
        removed = len(text) - keep + earlier
    return text[:keep] + f"…[truncated {removed} chars]"


def _clip(value: Any, max_chars: int, depth: int) -> Any:
    if isinstance(value, str):
        return clip_text(value, max_chars)
    if depth >= _MAX_DEPTH and isinstance(value, dict | list):
        # Pathologically deep: keep it as (clipped) JSON text rather than recurse.
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except (RecursionError, ValueError):
            text = "[too deeply nested to store]"
        return clip_text(text, max_chars)
    if isinstance(value, list):
        return [_clip(item, max_chars, depth + 1) for item in value]
    if isinstance(value, dict):
        return {key: _clip(item, max_chars, depth + 1) for key, item in value.items()}
    return value
