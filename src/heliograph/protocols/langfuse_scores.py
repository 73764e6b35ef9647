"""Langfuse's score shape (``POST /api/public/scores``) to a checked score, and a score
to the ``$ai_score`` event digest turns back into it.

Langfuse's body: ``name``, ``value`` (a number, or a label for a categorical
score), and optionally ``dataType`` (``NUMERIC``, ``BOOLEAN``,
``CATEGORICAL``), ``id`` (upserts: the same id again replaces the score),
``traceId``, ``observationId``, ``sessionId``, ``comment``,
``environment``. Fields Heliograph has no use for (``metadata``,
``configId``, ``datasetRunId``, ``queueId``) are accepted and ignored, as
Langfuse's SDKs may send them. A score is checked here, so a caller learns
at once what is wrong (:func:`heliograph.store.score_records.make_score`).
"""

from __future__ import annotations

import uuid
from typing import Any

from heliograph.protocols.errors import BadRequest
from heliograph.store.score_records import Score, ScoreError, make_score

__all__ = ["SCORE_DISTINCT_ID", "parse_score", "score_event"]

# The distinct id of score events that name no user (the API's).
SCORE_DISTINCT_ID = "$heliograph_scores_api"


def parse_score(body: Any, project_id: int, now: float) -> Score:
    """A Langfuse score body, checked; raises :class:`BadRequest` saying why not."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object (a Langfuse score)")
    data_type = body.get("dataType")
    if data_type is not None and not isinstance(data_type, str):
        raise BadRequest("dataType must be NUMERIC, BOOLEAN or CATEGORICAL")
    if "value" not in body or body["value"] is None:
        raise BadRequest("value is required")
    try:
        return make_score(
            project_id,
            id=body.get("id"),
            name=body.get("name"),
            value=body.get("value"),
            data_type=data_type,
            trace_id=body.get("traceId"),
            observation_id=body.get("observationId"),
            session_id=body.get("sessionId"),
            comment=body.get("comment"),
            environment=body.get("environment"),
            source="api",
            timestamp=now,
        )
    except ScoreError as exc:
        raise BadRequest(str(exc)) from None


def score_event(score: Score) -> dict[str, Any]:
    """The PostHog-shaped ``$ai_score`` event that digest turns into ``score`` again
    (:mod:`heliograph.digest.scores`): queued like any captured event."""
    value: Any = score.string_value if score.data_type == "categorical" else score.value
    properties: dict[str, Any] = {
        "$ai_score_id": score.id,
        "$ai_score_name": score.name,
        "$ai_score_value": value,
        "$ai_score_data_type": score.data_type,
        "$ai_score_source": score.source,
        "$ai_score_comment": score.comment,
        "$ai_trace_id": score.trace_id,
        "$ai_span_id": score.observation_id,
        "$ai_session_id": score.session_id,
        "$environment": score.environment,
    }
    return {
        "event": "$ai_score",
        "distinct_id": score.distinct_id or SCORE_DISTINCT_ID,
        # Each request its own event (a corrected score reuses its id, not its event).
        "uuid": str(uuid.uuid4()),
        "timestamp": int(score.timestamp * 1000),  # PostHog: milliseconds
        "properties": {k: v for k, v in properties.items() if v is not None},
    }
