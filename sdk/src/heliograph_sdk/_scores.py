"""``score()``: how good an LLM answer was, as an ``$ai_score`` event.

Sent like every other capture (queued, batched, retried by the sender
thread: the call returns at once), so a score goes through Heliograph's
durable queue and digest, which stores it as a score row. A score names a
trace, a generation (its span id) or a session; with none given, the
current trace (the innermost open span's). Property names are those the
server reads (``src/heliograph/digest/scores.py``).
"""

from __future__ import annotations

import logging
import math
import uuid

from heliograph_sdk import _hub
from heliograph_sdk._scope import _current, global_scope
from heliograph_sdk._tracing import current_span

logger = logging.getLogger("heliograph_sdk")

_DATA_TYPES = ("numeric", "boolean", "categorical")
_SOURCES = ("sdk", "evaluator")


def _checked(value: object, data_type: str | None) -> str | None:
    """Why ``value`` cannot be a score of ``data_type``, or None when it can."""
    if data_type is not None and data_type not in _DATA_TYPES:
        return f"data_type must be one of {', '.join(_DATA_TYPES)}"
    if isinstance(value, (bool, str)):
        return None
    if isinstance(value, (int, float)):
        return None if math.isfinite(value) else "a score's value must be a finite number"
    return "a score's value must be a number, a bool or a label (str)"


def score(
    name: str,
    value: float | bool | str,
    *,
    trace_id: str | None = None,
    generation_id: str | None = None,
    session_id: str | None = None,
    data_type: str | None = None,
    comment: str | None = None,
    id: str | None = None,
    source: str = "sdk",
) -> str | None:
    """Score a trace, a generation or a session; returns the score's id (None when off).

    ``value``: a number (numeric), a bool (boolean) or a label (categorical);
    ``data_type`` says so explicitly (``"numeric"``, ``"boolean"``,
    ``"categorical"``). Without a target, the current trace is scored.
    Sending again with the same ``id`` replaces the score (a correction).
    ``source``: ``"sdk"``, or ``"evaluator"`` for automated judges. Never
    raises: a score that cannot be sent is logged (``heliograph_sdk`` logger).
    """
    client = _hub.current()
    if client is None:
        return None
    try:
        kind = data_type.lower() if isinstance(data_type, str) else None
        problem = _checked(value, kind)
        if not isinstance(name, str) or not name.strip():
            problem = "a score needs a name"
        if source not in _SOURCES:
            problem = f"source must be one of {', '.join(_SOURCES)}"
        span = current_span()
        if trace_id is None and generation_id is None and session_id is None and span:
            trace_id, session_id = span.trace_id, span.session_id
        if trace_id is None and generation_id is None and session_id is None:
            problem = "a score needs a trace, a generation or a session (none is open here)"
        if problem:
            logger.warning("heliograph_sdk: score %r not sent: %s", name, problem)
            return None
        score_id = id or uuid.uuid4().hex
        properties = {
            "$ai_score_id": score_id,
            "$ai_score_name": name,
            "$ai_score_value": value,
            "$ai_score_data_type": kind,
            "$ai_score_comment": comment,
            "$ai_score_source": source,
            "$ai_trace_id": trace_id,
            "$ai_span_id": generation_id,
            "$ai_session_id": session_id,
        }
        scope = (span.scope if span else None) or _current.get() or global_scope
        # The flag values of the scorer's scope: a variant's scores compare by them.
        for key, flag in scope.flags.items():
            properties.setdefault(f"$feature/{key}", flag)
        client.capture(
            "$ai_score", {k: v for k, v in properties.items() if v is not None}, scope=scope
        )
        return score_id
    except Exception:
        logger.debug("heliograph_sdk: could not record a score", exc_info=True)
        return None
