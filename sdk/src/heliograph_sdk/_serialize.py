"""Turning events into JSON bytes on the background thread, never failing loudly.

Whatever an application puts in a property (datetimes, UUIDs, sets, NaN,
objects) must not crash the sender; odd values become strings, non-finite
floats become ``null``, and an event that still cannot be encoded (a cycle)
is reported to the caller as ``None`` so it can be counted and dropped.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime, timezone
from typing import Any


def iso_timestamp(seconds: float) -> str:
    """ISO 8601 UTC with microseconds, the way posthog-python sends it."""
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat()


def _default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    try:
        return str(value)
    except Exception:
        return f"<unserializable {type(value).__name__}>"


def _finite(value: Any, depth: int = 0) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if depth > 50:
        return None
    if isinstance(value, dict):
        return {k: _finite(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v, depth + 1) for v in value]
    return value


def dumps(event: dict[str, Any]) -> bytes | None:
    """Compact UTF-8 JSON for one event, or ``None`` when it cannot be encoded."""
    try:
        text = json.dumps(
            event, default=_default, ensure_ascii=False, separators=(",", ":"), allow_nan=False
        )
    except ValueError:
        try:
            text = json.dumps(
                _finite(event),
                default=_default,
                ensure_ascii=False,
                separators=(",", ":"),
                allow_nan=False,
            )
        except (ValueError, TypeError, RecursionError):
            return None
    except (TypeError, RecursionError):
        return None
    return text.encode("utf-8", "replace")
