"""The LLM endpoints' query parameters, read strictly: every bad value is a 400 saying why.

The pages (:mod:`heliograph.query.llm`) forgive a hand-edited URL by
falling back to defaults; a script should rather hear that ``since=yesterday``
or ``errors=maybe`` meant nothing than get a list it did not ask for. So here
each value is checked and a mistake raises :class:`ApiError` (400), and a
filter the endpoint cannot apply (``model`` on traces, ``until`` on
sessions) is refused rather than ignored.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

from heliograph.api.errors import ApiError
from heliograph.bounds import MAX_TIMESTAMP
from heliograph.store.llm_records import LlmEventFilter, TraceFilter

__all__ = [
    "FILTERS",
    "GENERATION_FILTERS",
    "SESSION_FILTERS",
    "TRACE_FILTERS",
    "TimeBounds",
    "boolean",
    "check_filters",
    "generation_filter",
    "text",
    "time_bounds",
    "trace_filter",
    "whole_number",
]

MAX_TEXT = 200  # what the store keeps of an id or a name (longer values never match)
MAX_RANGE_HOURS = 3650 * 24
_RANGE = re.compile(r"([0-9]{1,6})([hd])")
_NUMBER = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,9})?")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")

# Every filter an LLM endpoint knows, and which ones each list applies.
FILTERS = (
    "since",
    "until",
    "range",
    "model",
    "provider",
    "user",
    "trace",
    "session",
    "environment",
    "release",
    "errors",
)
GENERATION_FILTERS = frozenset(FILTERS)
# Traces: by model means "with a call of that model".
TRACE_FILTERS = frozenset(FILTERS) - {"provider", "trace"}
SESSION_FILTERS = frozenset({"since", "range"})


@dataclass(frozen=True, slots=True)
class TimeBounds:
    """``[since, until)`` in Unix seconds; None: unbounded on that side."""

    since: float | None
    until: float | None


def check_filters(params: Mapping[str, str], allowed: Collection[str], what: str) -> None:
    """400 for a known filter that ``what`` cannot apply (other names are ignored)."""
    for name in FILTERS:
        if name in params and name not in allowed:
            raise ApiError(400, f"{name} does not filter {what}")


def text(params: Mapping[str, str], name: str) -> str | None:
    """A text filter: None when absent or empty."""
    value = params.get(name, "").strip()
    if len(value) > MAX_TEXT:
        raise ApiError(400, f"{name} is longer than {MAX_TEXT} characters")
    return value or None


def boolean(params: Mapping[str, str], name: str) -> bool:
    value = params.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ApiError(400, f"{name} must be true or false (1 or 0), got {value[:50]!r}")


def whole_number(params: Mapping[str, str], name: str, low: int, high: int, default: int) -> int:
    raw = params.get(name)
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12 or not low <= int(raw) <= high:
        raise ApiError(400, f"{name} must be a whole number from {low} to {high}")
    return int(raw)


def _moment(params: Mapping[str, str], name: str) -> float | None:
    """``since``/``until``: Unix seconds, or ISO 8601 (a date, or a time; UTC if no offset)."""
    raw = params.get(name, "").strip()
    if not raw:
        return None
    reason = f"{name} must be Unix seconds or an ISO 8601 time such as 2026-11-01T12:00:00Z"
    if _NUMBER.fullmatch(raw):
        value = float(raw)
    else:
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            raise ApiError(400, f"{reason}, got {raw[:50]!r}") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        try:
            value = moment.timestamp()
        except (OverflowError, ValueError):
            raise ApiError(400, f"{reason}, got {raw[:50]!r}") from None
    if not (math.isfinite(value) and 0 <= value <= MAX_TIMESTAMP):
        raise ApiError(400, f"{name} must be between 1970 and 9999")
    return value


def time_bounds(
    params: Mapping[str, str], now: float, *, default_range: str | None = None
) -> TimeBounds:
    """``since`` and ``until``, or ``range`` (the last ``<n>h`` or ``<n>d``), not both.

    ``default_range`` applies when none of them is given.
    """
    since, until = _moment(params, "since"), _moment(params, "until")
    range_key = params.get("range", "").strip()
    if range_key and (since is not None or until is not None):
        raise ApiError(400, "give range, or since and/or until, not both")
    range_key = range_key or ("" if since is not None or until is not None else default_range or "")
    if range_key:
        found = _RANGE.fullmatch(range_key)
        hours = int(found[1]) * (24 if found[2] == "d" else 1) if found else 0
        if not 1 <= hours <= MAX_RANGE_HOURS:
            raise ApiError(
                400, f"range must be hours or days such as 24h or 30d (at most 3650d), got "
                f"{range_key[:50]!r}"
            )  # fmt: skip
        since = now - hours * 3600.0
    if since is not None and until is not None and since >= until:
        raise ApiError(400, "since must be before until")
    return TimeBounds(since, until)


def generation_filter(project_id: int, params: Mapping[str, str], now: float) -> LlmEventFilter:
    """The generations (and embeddings) the parameters ask for."""
    check_filters(params, GENERATION_FILTERS, "generations")
    bounds = time_bounds(params, now)
    return LlmEventFilter(
        project_id=project_id,
        since=bounds.since,
        until=bounds.until,
        model=text(params, "model"),
        provider=text(params, "provider"),
        distinct_id=text(params, "user"),
        trace_id=text(params, "trace"),
        session_id=text(params, "session"),
        environment=text(params, "environment"),
        release=text(params, "release"),
        errors_only=boolean(params, "errors"),
    )


def trace_filter(project_id: int, params: Mapping[str, str], now: float) -> TraceFilter:
    """The traces the parameters ask for (by their start time)."""
    check_filters(params, TRACE_FILTERS, "traces")
    bounds = time_bounds(params, now)
    return TraceFilter(
        project_id=project_id,
        since=bounds.since,
        until=bounds.until,
        session_id=text(params, "session"),
        distinct_id=text(params, "user"),
        environment=text(params, "environment"),
        release=text(params, "release"),
        errors_only=boolean(params, "errors"),
        model=text(params, "model"),
    )
