"""Scores that analytics events give: ``$ai_score``, ``$ai_metric`` and ``$ai_feedback``.

Each is stored as an event like any other, and becomes a score row besides,
in the same transaction (``DigestBatch.scores``), so that the SDK's
``score()``, PostHog's metric and feedback events, and the API all end in one
place that summaries read (:mod:`heliograph.store.score_store`).

* ``$ai_score`` (heliograph-sdk's ``score()``): ``$ai_score_name``,
  ``$ai_score_value``, and optionally ``$ai_score_data_type``,
  ``$ai_score_id``, ``$ai_score_comment``, ``$ai_score_source``
  (``sdk``, ``api`` (the Langfuse-shaped endpoint) or ``evaluator``).
* ``$ai_metric``: ``$ai_metric_name`` = ``$ai_metric_value``; the type follows
  the value (a number: numeric, true/false: boolean, text: categorical).
* ``$ai_feedback``: a score named ``$ai_feedback_name`` (default
  ``feedback``), source ``feedback``. With ``$ai_feedback_value`` (a thumbs
  up as true, a rating, a label) its type follows that value; without one it
  is a categorical score labelled ``comment``. The text a user wrote
  (``$ai_feedback_text``) is the score's comment either way.

All name the trace (``$ai_trace_id``), optionally the call (``$ai_span_id``
or ``$ai_parent_id``) and the session (``$ai_session_id``). A score's id is
``$ai_score_id`` when given, else the event's own id, so a replayed event
replaces its score rather than adding one. An event whose score is not
valid (no name, no target, a value of the wrong type) is still stored as an
event; it gives no score.
"""

from __future__ import annotations

import logging
from typing import Any

from heliograph.llm_vocabulary import AI_PARENT_ID, AI_SESSION_ID, AI_SPAN_ID, AI_TRACE_ID
from heliograph.model import Event
from heliograph.store.llm_flags import event_flags
from heliograph.store.score_records import Score, ScoreContext, ScoreError, make_score

__all__ = ["AI_FEEDBACK", "AI_METRIC", "AI_SCORE", "FEEDBACK_LABEL", "event_score"]

logger = logging.getLogger(__name__)

AI_SCORE = "$ai_score"
AI_METRIC = "$ai_metric"
AI_FEEDBACK = "$ai_feedback"
# The label of a feedback that carries text but no value.
FEEDBACK_LABEL = "comment"
_EVENTS = frozenset({AI_SCORE, AI_METRIC, AI_FEEDBACK})


def _fields(event: Event) -> dict[str, Any] | None:
    """``make_score``'s fields that differ by event, None for other events."""
    props = event.properties
    if event.name == AI_SCORE:
        source = props.get("$ai_score_source")
        return {
            "name": props.get("$ai_score_name"),
            "value": props.get("$ai_score_value"),
            "data_type": props.get("$ai_score_data_type"),
            "comment": props.get("$ai_score_comment"),
            "id": props.get("$ai_score_id") or event.event_id,
            "source": source if source in ("sdk", "api", "evaluator") else "sdk",
        }
    if event.name == AI_METRIC:
        return {
            "name": props.get("$ai_metric_name") or "metric",
            "value": props.get("$ai_metric_value"),
            "id": event.event_id,
            "source": "sdk",
        }
    if event.name == AI_FEEDBACK:
        value = props.get("$ai_feedback_value")
        text = props.get("$ai_feedback_text")
        return {
            "name": props.get("$ai_feedback_name") or "feedback",
            "value": FEEDBACK_LABEL if value is None else value,
            "data_type": "categorical" if value is None else None,
            "comment": text[:2000] if isinstance(text, str) else None,
            "id": event.event_id,
            "source": "feedback",
        }
    return None


def event_score(event: Event) -> Score | None:
    """The score an analytics event gives, if it is one of the score events and valid."""
    if event.name not in _EVENTS:
        return None
    fields = _fields(event)
    if fields is None:
        return None
    props = event.properties
    trace = props.get(AI_TRACE_ID) or event.trace_id
    observation = props.get(AI_SPAN_ID) or props.get(AI_PARENT_ID)
    try:
        return make_score(
            event.project_id,
            trace_id=trace,
            # A parent that is the trace itself scores the trace.
            observation_id=None if observation == trace else observation,
            session_id=props.get(AI_SESSION_ID),
            timestamp=event.timestamp,
            distinct_id=event.distinct_id,
            environment=event.environment,
            # The flags the sender had when it scored: a variant is the scorer's too.
            context=ScoreContext(flags=tuple(event_flags(event))),
            **fields,
        )
    except ScoreError as exc:
        logger.info("event %s of project %d gives no score: %s", event.name, event.project_id, exc)
        return None
