"""The scores endpoints' part of the OpenAPI document (:mod:`heliograph.api.llm_scores`)."""

from __future__ import annotations

from typing import Any

from heliograph.api.openapi_llm import (
    PAGING,
    PROJECT,
    RANGE,
    SINCE,
    UNTIL,
    errors,
    ok,
    path_param,
    query,
    ref,
)
from heliograph.store.score_records import (
    DATA_TYPES,
    GROUP_BYS,
    MAX_COMMENT,
    MAX_ID,
    MAX_NAME,
    MAX_TARGET,
    SOURCES,
)

__all__ = ["SCORE_SCHEMAS", "score_paths"]

_TEXT_OR_NULL = {"type": ["string", "null"]}
_NUMBER_OR_NULL = {"type": ["number", "null"]}
_DATA_TYPE = {"type": "string", "enum": [kind.upper() for kind in DATA_TYPES]}

SCORE_SCHEMAS: dict[str, Any] = {
    "LlmScore": {
        "type": "object",
        "description": "A score; model, provider, prompt and flags are the scored generation's",
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "dataType": _DATA_TYPE,
            "value": {**_NUMBER_OR_NULL, "description": "boolean: 1 or 0"},
            "stringValue": {**_TEXT_OR_NULL, "description": "a categorical score's label"},
            "comment": _TEXT_OR_NULL,
            "source": {"type": "string", "enum": list(SOURCES)},
            "traceId": _TEXT_OR_NULL,
            "observationId": _TEXT_OR_NULL,
            "sessionId": _TEXT_OR_NULL,
            "authorUserId": {"type": ["integer", "null"]},
            "distinctId": _TEXT_OR_NULL,
            "environment": _TEXT_OR_NULL,
            "timestamp": {"type": "string", "format": "date-time"},
            "model": _TEXT_OR_NULL,
            "provider": _TEXT_OR_NULL,
            "promptName": _TEXT_OR_NULL,
            "promptVersion": _TEXT_OR_NULL,
            "flags": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    },
}

_CREATE = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "description": "Langfuse's score body; one of traceId, observationId, sessionId",
                "required": ["name", "value"],
                "properties": {
                    "id": {"type": "string", "maxLength": MAX_ID},
                    "name": {"type": "string", "maxLength": MAX_NAME},
                    "value": {"type": ["number", "string", "boolean"]},
                    "dataType": _DATA_TYPE,
                    "traceId": {"type": "string", "maxLength": MAX_TARGET},
                    "observationId": {"type": "string", "maxLength": MAX_TARGET},
                    "sessionId": {"type": "string", "maxLength": MAX_TARGET},
                    "comment": {"type": "string", "maxLength": MAX_COMMENT},
                    "environment": {"type": "string", "maxLength": MAX_TARGET},
                    "source": {"type": "string", "enum": ["api", "evaluator"]},
                },
            }
        }
    },
}

_TEXT = {"type": "string", "maxLength": 200}
_LIST_PARAMS = [
    SINCE,
    UNTIL,
    RANGE,
    query("trace", _TEXT, "scores of this trace (and of its calls)"),
    query("observation", _TEXT, "scores of this call (its span id)"),
    query("session", _TEXT, "scores of this session"),
    query("name", _TEXT, "scores of this name"),
    query("source", {"type": "string", "enum": list(SOURCES)}, "scores from this source"),
    query("dataType", _DATA_TYPE, "scores of this type"),
]

_SUMMARY = {
    "type": "object",
    "properties": {
        "since": {"type": "string", "format": "date-time"},
        "until": {"type": "string", "format": "date-time"},
        "groupBy": _TEXT_OR_NULL,
        "flag": _TEXT_OR_NULL,
        "bucket": {"type": "string", "enum": ["hour", "day"]},
        "scores": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "dataType": _DATA_TYPE,
                    "group": {**_TEXT_OR_NULL, "description": "the model, prompt, variant..."},
                    "count": {"type": "integer"},
                    "numbers": {"type": "integer"},
                    "mean": _NUMBER_OR_NULL,
                    "min": _NUMBER_OR_NULL,
                    "max": _NUMBER_OR_NULL,
                    "categories": {"type": "object", "additionalProperties": {"type": "integer"}},
                },
            },
        },
        "series": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "start": {"type": "string", "format": "date-time"},
                    "count": {"type": "integer"},
                    "mean": _NUMBER_OR_NULL,
                },
            },
        },
    },
}


def score_paths() -> dict[str, Any]:
    """The paths of :mod:`heliograph.api.llm_scores` (docs/api.md, "Scores")."""
    base = "/api/0/projects/{organization_slug}/{project_slug}/llm/"
    one = [*PROJECT, path_param("score_id")]
    return {
        base + "scores/": {
            "get": {
                "summary": "Scores, newest first",
                "parameters": [*PROJECT, *_LIST_PARAMS, *PAGING],
                "responses": {
                    "200": ok({"type": "array", "items": ref("LlmScore")}),
                    **errors(400, 401, 403, 404),
                },
            },
            "post": {
                "summary": "Create a score, or replace the one with the same id (write scope)",
                "parameters": PROJECT,
                "requestBody": _CREATE,
                "responses": {
                    "201": ok(ref("LlmScore"), "Created"),
                    **errors(400, 401, 403, 404),
                },
            },
        },
        base + "scores/{score_id}/": {
            "get": {
                "summary": "One score",
                "parameters": one,
                "responses": {"200": ok(ref("LlmScore")), **errors(401, 403, 404)},
            },
            "delete": {
                "summary": "Delete a score (write scope)",
                "parameters": one,
                "responses": {"204": {"description": "Deleted"}, **errors(401, 403, 404)},
            },
        },
        base + "score-summary/": {
            "get": {
                "summary": "Scores of a range per name: count, mean, labels; grouped; over time",
                "parameters": [
                    *PROJECT,
                    SINCE,
                    UNTIL,
                    RANGE,
                    query("name", _TEXT, "only this score name"),
                    query("groupBy", {"type": "string", "enum": list(GROUP_BYS)}, "grouping"),
                    query("flag", _TEXT, "the flag whose variants groupBy=flag compares"),
                    query("bucket", {"type": "string", "enum": ["hour", "day"]}, "series unit"),
                ],
                "responses": {"200": ok(_SUMMARY), **errors(400, 401, 403, 404)},
            }
        },
    }
