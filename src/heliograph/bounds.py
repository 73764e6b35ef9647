"""The stored range: limits every canonical event is brought within before it is stored.

Clients send what they like: objects nested hundreds of levels deep, token
counts of ``1e300``, timestamps in the year 300,000. Each is harmless to parse
and fatal to store (the JSON writer refuses depth over 254, SQLite refuses
integers beyond 64 bits, an hour bucket of ``1e300 // 3600`` is such an
integer). Decoders clamp the typed values they read (:func:`clamp_count`);
digest then passes every event through :func:`bound_event`, one walk over its
free-form data and timestamps. Values are
trimmed or clamped, never refused: the rest of the event is kept.

The limits are documented in ``docs/ingest.md`` ("Limits on stored data").
"""

from __future__ import annotations

import math
from typing import Any

from heliograph.model import Event

__all__ = [
    "DEPTH_MARKER",
    "MAX_COUNT",
    "MAX_DEPTH",
    "MAX_ROW_ID",
    "bound_event",
    "clamp_count",
    "parse_row_id",
]

MAX_DEPTH = 20
"""Levels of nesting kept in free-form data (contexts, extra, request, properties,
frame variables, breadcrumb and user data); anything deeper becomes :data:`DEPTH_MARKER`."""

DEPTH_MARKER = "[nested too deep]"

MAX_COUNT = 10**12
"""Largest count stored (tokens, quantities, line numbers): a million times any real
call, and small enough that millions of them still sum within 64 bits."""

MAX_TIMESTAMP = 253_402_300_799.0
"""23:59:59 on 31 December 9999 UTC, the last second dates can be shown for."""

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


MAX_ROW_ID = 2**63 - 1
"""Ids of stored rows (projects, issues...) are positive signed 64-bit integers."""


def parse_row_id(text: str) -> int | None:
    """A row id from text (a URL segment, a form field); None when it cannot be one.

    ASCII digits only: ``int()`` would also take ``"+1"``, ``" 1"``, ``"1_0"``
    and ``"١"``. A number past 64 bits cannot name a stored row.
    """
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        return None
    row_id = int(text)
    return row_id if 0 < row_id <= MAX_ROW_ID else None


def clamp_count(value: Any) -> int | None:
    """A count from any JSON number: rounded, clamped to ``0..MAX_COUNT``.

    Booleans, strings and non-finite numbers are not counts (None).
    """
    if type(value) is int and 0 <= value <= MAX_COUNT:
        return value  # nearly always: no further checks
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        value = round(value)
    count: int = value
    return min(max(count, 0), MAX_COUNT)


def bound_timestamp(value: float | None, default: float) -> float:
    """``value`` if it is a finite time between 1970 and 9999, else ``default``."""
    if value is None or not 0.0 <= value <= MAX_TIMESTAMP:  # also false for NaN
        return default
    return value


def bound_value(value: Any, depth: int = 0) -> Any:
    """Free-form JSON-like data, trimmed below :data:`MAX_DEPTH` levels.

    Works in place and returns ``value`` itself when nothing needed changing
    (nearly always), so the walk allocates nothing. Integers beyond 64 bits
    (which no JSON parser here produces, but decoders computing from numbers
    can) become floats; integers too large even for that become their text.
    Types are compared exactly: JSON parsers make no subclasses, and it
    skips booleans and strings without a call.
    """
    if isinstance(value, dict | list):
        if depth >= MAX_DEPTH:
            return DEPTH_MARKER
        # Same keys (or indexes) are assigned: safe while iterating.
        for key, item in value.items() if isinstance(value, dict) else enumerate(value):
            kind = type(item)
            if kind is dict or kind is list:
                bounded = bound_value(item, depth + 1)
                if bounded is not item:
                    value[key] = bounded
            elif kind is int and not _INT64_MIN <= item <= _INT64_MAX:
                value[key] = _narrowed(item)
        return value
    if isinstance(value, int) and not _INT64_MIN <= value <= _INT64_MAX:
        return _narrowed(value)
    return value


def _narrowed(value: int) -> float | str:
    try:
        return float(value)
    except OverflowError:
        return str(value)


def bound_event(event: Event) -> None:
    """Bring one canonical event's timestamps and free-form data within the stored range.

    Typed counts (line numbers, ids) are the decoders' to clamp as they read them.
    """
    event.timestamp = bound_timestamp(event.timestamp, event.received_at)
    event.contexts = bound_value(event.contexts)
    event.extra = bound_value(event.extra)
    event.properties = bound_value(event.properties)
    if event.request is not None:
        event.request = bound_value(event.request)
    for exception in event.exceptions:
        for frame in exception.frames:
            if frame.vars:
                frame.vars = bound_value(frame.vars)
    for frame in event.stacktrace:
        if frame.vars:
            frame.vars = bound_value(frame.vars)
    for crumb in event.breadcrumbs:
        if crumb.timestamp is not None:
            crumb.timestamp = bound_timestamp(crumb.timestamp, event.timestamp)
        if crumb.data:
            crumb.data = bound_value(crumb.data)
    if event.user is not None and event.user.data:
        event.user.data = bound_value(event.user.data)
