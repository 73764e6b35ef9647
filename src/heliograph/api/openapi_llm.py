"""The LLM endpoints' part of the OpenAPI document (:mod:`heliograph.api.llm`).

Apart from ``openapi.py`` because it is long: every filter, and the shapes of
generations, traces and their trees, sessions and the dashboard, as
:mod:`heliograph.query.llm_json` writes them.
"""

from __future__ import annotations

from typing import Any

from heliograph.api.llm_export import GENERATION_COLUMNS, MAX_EXPORT_ROWS, TRACE_COLUMNS
from heliograph.api.llm_params import MAX_TEXT

__all__ = [
    "LLM_SCHEMAS",
    "PAGING",
    "PROJECT",
    "RANGE",
    "SINCE",
    "UNTIL",
    "errors",
    "llm_paths",
    "ok",
    "path_param",
    "query",
    "ref",
]

_ERROR = {"$ref": "#/components/schemas/Error"}
_STRING = {"type": "string"}
_TIME = {"type": "string", "format": "date-time"}
_TEXT_OR_NULL = {"type": ["string", "null"]}
_INT_OR_NULL = {"type": ["integer", "null"]}
_NUMBER_OR_NULL = {"type": ["number", "null"]}
_USD = {"type": ["number", "null"], "description": "USD; null when no call had a known price"}


def _errors(*statuses: int) -> dict[str, Any]:
    reasons = {
        400: "Bad parameter: detail says which and why",
        401: "Authentication required",
        403: "Forbidden: the token lacks the read scope",
        404: "Not found, or a project you cannot see",
    }
    return {
        str(status): {
            "description": reasons[status],
            "content": {"application/json": {"schema": _ERROR}},
        }
        for status in statuses
    }


def _ok(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": description}


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": _STRING}


_PROJECT = [_path("organization_slug"), _path("project_slug")]
_FILTER_TEXT = {"type": "string", "maxLength": MAX_TEXT}
_SINCE = _query(
    "since", _STRING, "from this time on: Unix seconds or ISO 8601 (UTC when no offset)"
)
_UNTIL = _query("until", _STRING, "before this time (exclusive), as since")
_RANGE = _query(
    "range",
    {"type": "string", "pattern": "^[0-9]{1,6}[hd]$"},
    "the last hours or days (24h, 7d, 30d...): instead of since/until",
)
_USER = _query("user", _FILTER_TEXT, "a distinct id")
_SESSION = _query("session", _FILTER_TEXT, "a session id ($ai_session_id)")
_ENVIRONMENT = _query("environment", _FILTER_TEXT, "the events' environment")
_RELEASE = _query("release", _FILTER_TEXT, "the events' release")
_ERRORS = _query("errors", {"type": "boolean"}, "only failed calls (traces: or with an error)")
_PAGING = [
    _query("cursor", _STRING, "from the Link header's rel=next"),
    _query("limit", {"type": "integer", "minimum": 1, "maximum": 100}, "page size (25)"),
]
_COMMON_PARAMS = [_SINCE, _UNTIL, _RANGE, _USER, _SESSION, _ENVIRONMENT, _RELEASE, _ERRORS]
TRACE_PARAMS = [
    *_COMMON_PARAMS,
    _query("model", _FILTER_TEXT, "traces with a call of this model"),
]
GENERATION_PARAMS = [
    *_COMMON_PARAMS,
    _query("model", _FILTER_TEXT, "the model, as reported ($ai_model)"),
    _query("provider", _FILTER_TEXT, "the provider ($ai_provider)"),
    _query("trace", _FILTER_TEXT, "a trace id"),
]
_SINCE_ONLY = [_SINCE, _RANGE]

_GENERATION = {
    "type": "object",
    "required": ["id", "name", "timestamp", "isError"],
    "properties": {
        "id": _STRING,
        "name": {"type": "string", "description": "$ai_generation, $ai_embedding, ..."},
        "timestamp": _TIME,
        "startedAt": _TIME,
        "traceId": _TEXT_OR_NULL,
        "spanId": _TEXT_OR_NULL,
        "parentId": _TEXT_OR_NULL,
        "sessionId": _TEXT_OR_NULL,
        "distinctId": _TEXT_OR_NULL,
        "spanName": _TEXT_OR_NULL,
        "model": _TEXT_OR_NULL,
        "provider": _TEXT_OR_NULL,
        "inputTokens": _INT_OR_NULL,
        "outputTokens": _INT_OR_NULL,
        "cacheReadTokens": _INT_OR_NULL,
        "cacheCreationTokens": _INT_OR_NULL,
        "reasoningTokens": _INT_OR_NULL,
        "totalCostUsd": _USD,
        "costSource": _TEXT_OR_NULL,
        "latency": {"type": ["number", "null"], "description": "seconds"},
        "timeToFirstToken": {"type": ["number", "null"], "description": "seconds"},
        "isError": {"type": "boolean"},
        "error": _TEXT_OR_NULL,
        "httpStatus": _INT_OR_NULL,
        "environment": _TEXT_OR_NULL,
        "release": _TEXT_OR_NULL,
    },
}
_TRACE = {
    "type": "object",
    "required": ["traceId", "startedAt", "endedAt", "events", "generations"],
    "properties": {
        "traceId": _STRING,
        "name": _TEXT_OR_NULL,
        "startedAt": _TIME,
        "endedAt": _TIME,
        "latency": {"type": "number", "description": "seconds"},
        "hasTraceEvent": {"type": "boolean"},
        "events": {"type": "integer"},
        "generations": {"type": "integer"},
        "errors": {"type": "integer"},
        "inputTokens": {"type": "integer"},
        "outputTokens": {"type": "integer"},
        "costUsd": _USD,
        "unpriced": {"type": "integer", "description": "calls without a known price"},
        "sessionId": _TEXT_OR_NULL,
        "distinctId": _TEXT_OR_NULL,
        "environment": _TEXT_OR_NULL,
        "release": _TEXT_OR_NULL,
    },
}
_NODE = {
    "type": "object",
    "required": ["key", "parent", "children", "kind"],
    "properties": {
        "key": _STRING,
        "eventId": _TEXT_OR_NULL,
        "parent": {"type": ["string", "null"], "description": "the parent node's key"},
        "children": {"type": "array", "items": _STRING},
        "depth": {"type": "integer"},
        "kind": {"type": "string", "enum": ["trace", "generation", "embedding", "span", "other"]},
        "label": _STRING,
        "orphan": {"type": "boolean", "description": "its parent span was never received"},
        "startedAt": _TIME,
        "offset": {"type": "number", "description": "seconds after the trace started"},
        "duration": {"type": "number", "description": "seconds"},
        "isError": {"type": "boolean"},
        "error": _TEXT_OR_NULL,
        "model": _TEXT_OR_NULL,
        "provider": _TEXT_OR_NULL,
        "generations": {"type": "integer", "description": "in the node and under it"},
        "errors": {"type": "integer"},
        "inputTokens": {"type": "integer"},
        "outputTokens": {"type": "integer"},
        "costUsd": _USD,
        "unpriced": {"type": "integer"},
    },
}
_SESSION_SCHEMA = {
    "type": "object",
    "required": ["sessionId", "traces"],
    "properties": {
        "sessionId": _STRING,
        "startedAt": _TIME,
        "endedAt": _TIME,
        "distinctId": _TEXT_OR_NULL,
        "traces": {"type": "integer"},
        "generations": {"type": "integer"},
        "errors": {"type": "integer"},
        "inputTokens": {"type": "integer"},
        "outputTokens": {"type": "integer"},
        "costUsd": _USD,
        "unpriced": {"type": "integer"},
    },
}
_STATS = {
    "type": "object",
    "properties": {
        "requests": {"type": "integer"},
        "errors": {"type": "integer"},
        "errorRate": _NUMBER_OR_NULL,
        "inputTokens": {"type": "integer"},
        "outputTokens": {"type": "integer"},
        "cacheReadTokens": {"type": "integer"},
        "reasoningTokens": {"type": "integer"},
        "costUsd": _USD,
        "unpriced": {"type": "integer"},
        "latencyP50": _NUMBER_OR_NULL,
        "latencyP95": _NUMBER_OR_NULL,
        "latencyAvg": _NUMBER_OR_NULL,
        "timeToFirstTokenAvg": _NUMBER_OR_NULL,
    },
}

LLM_SCHEMAS: dict[str, Any] = {
    "LlmGeneration": _GENERATION,
    "LlmGenerationDetail": {
        "allOf": [
            _ref("LlmGeneration"),
            {
                "type": "object",
                "properties": {
                    "inputCostUsd": _NUMBER_OR_NULL,
                    "outputCostUsd": _NUMBER_OR_NULL,
                    "costModel": _TEXT_OR_NULL,
                    "payloadsDropped": {"type": "boolean"},
                    "properties": {
                        "type": "object",
                        "description": "every property as stored, prompts and completions too",
                    },
                    "trace": {"oneOf": [_ref("LlmTrace"), {"type": "null"}]},
                },
            },
        ]
    },
    "LlmTrace": _TRACE,
    "LlmTraceDetail": {
        "allOf": [
            _ref("LlmTrace"),
            {
                "type": "object",
                "required": ["nodes", "linkedErrors"],
                "properties": {
                    "nodes": {"type": "array", "items": _NODE, "description": "root first"},
                    "orphans": {"type": "integer"},
                    "truncated": {"type": "boolean"},
                    "linkedErrors": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "eventId": _STRING,
                                "issueId": _TEXT_OR_NULL,
                                "timestamp": _TIME,
                                "title": _STRING,
                                "level": _STRING,
                            },
                        },
                    },
                    "scores": {"type": "array", "items": _ref("LlmScore")},
                },
            },
        ]
    },
    "LlmSession": _SESSION_SCHEMA,
    "LlmStats": _STATS,
}


def _list(summary: str, params: list[dict[str, Any]], item: str) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "parameters": [*_PROJECT, *params, *_PAGING],
            "responses": {
                "200": _ok({"type": "array", "items": _ref(item)}),
                **_errors(400, 401, 403, 404),
            },
        }
    }


def _one(
    summary: str, name: str, schema: dict[str, Any], params: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "parameters": [*_PROJECT, _path(name), *(params or [])],
            "responses": {
                "200": _ok(schema),
                **_errors(*((400,) if params else ()), 401, 403, 404),
            },
        }
    }


def _dashboard() -> dict[str, Any]:
    model = {
        "allOf": [
            _ref("LlmStats"),
            {
                "type": "object",
                "properties": {
                    "model": _TEXT_OR_NULL,
                    "provider": _TEXT_OR_NULL,
                    "costShare": {"type": "number", "description": "percent of known cost"},
                },
            },
        ]
    }
    point = {"allOf": [_ref("LlmStats"), {"type": "object", "properties": {"start": _TIME}}]}
    figures = {
        "type": "object",
        "required": ["range", "bucket", "totals", "series", "models"],
        "properties": {
            "range": _STRING,
            "bucket": {"type": "string", "enum": ["hour", "day"]},
            "since": _TIME,
            "until": _TIME,
            "totals": _ref("LlmStats"),
            "series": {"type": "array", "items": point},
            "models": {"type": "array", "items": model},
            "topTraces": {"type": "array", "items": _ref("LlmTrace")},
            "flags": {"type": "array", "items": _STRING},
            "flag": _TEXT_OR_NULL,
            "flagValues": {"type": "array", "items": {"type": "object"}},
        },
    }
    return {
        "get": {
            "summary": "The LLM dashboard's figures: totals, per hour or day, by model",
            "parameters": [
                *_PROJECT,
                _query("range", {"type": "string", "enum": ["24h", "7d", "30d"]}, "(24h)"),
                _query(
                    "bucket",
                    {"type": "string", "enum": ["hour", "day"]},
                    "hour for 24h and 7d, day for 7d and 30d",
                ),
                _query("flag", _FILTER_TEXT, "the feature flag whose values are compared"),
            ],
            "responses": {"200": _ok(figures), **_errors(400, 401, 403, 404)},
        }
    }


def _user() -> dict[str, Any]:
    usage = {
        "type": "object",
        "required": ["distinctId", "requests"],
        "properties": {
            "distinctId": _STRING,
            "since": _TIME,
            "requests": {"type": "integer"},
            "errors": {"type": "integer"},
            "inputTokens": {"type": "integer"},
            "outputTokens": {"type": "integer"},
            "costUsd": _USD,
            "unpriced": {"type": "integer"},
            "models": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "model": _TEXT_OR_NULL,
                        "requests": {"type": "integer"},
                        "knownCostUsd": {"type": "number"},
                    },
                },
            },
        },
    }
    return _one(
        "One distinct id's generations and embeddings since a time (30 days)",
        "distinct_id",
        usage,
        _SINCE_ONLY,
    )


def _groups(summary: str, key: str, extra: list[dict[str, Any]]) -> dict[str, Any]:
    """The users list and the breakdown: groups of calls, the costliest first."""
    group = {
        "type": "object",
        "required": [key, "calls"],
        "properties": {
            key: _TEXT_OR_NULL,
            "calls": {"type": "integer"},
            "errors": {"type": "integer"},
            "inputTokens": {"type": "integer"},
            "outputTokens": {"type": "integer"},
            "costUsd": _USD,
            "unpriced": {"type": "integer"},
            "meanLatency": _NUMBER_OR_NULL,
        },
    }
    return {
        "get": {
            "summary": summary,
            "description": (
                "Over `since`/`until` or `range` (default 7d). `X-Complete: false` when a "
                "property was read from the newest calls only (SQLite and PostgreSQL read "
                "at most 50,000 per request)."
            ),
            "parameters": [
                *_PROJECT,
                _SINCE,
                _UNTIL,
                _RANGE,
                _query("model", _FILTER_TEXT, "only this model's calls"),
                _query("provider", _FILTER_TEXT, "only this provider's calls"),
                _ENVIRONMENT,
                _RELEASE,
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "groups (50)"),
                *extra,
            ],
            "responses": {
                "200": _ok({"type": "array", "items": group}),
                **_errors(400, 401, 403, 404),
            },
        }
    }


def _export() -> dict[str, Any]:
    stream = {"type": "string"}
    return {
        "get": {
            "summary": "Generations or traces of a range, streamed as JSONL or CSV",
            "description": (
                "Newest first, at most `limit` rows. JSONL lines are the list endpoints' "
                "objects; CSV columns are, for generations: "
                + ", ".join(GENERATION_COLUMNS)
                + "; for traces: "
                + ", ".join(TRACE_COLUMNS)
                + ". Text cells starting with = + - @ tab or CR are prefixed with '."
            ),
            "parameters": [
                *_PROJECT,
                _query("format", {"type": "string", "enum": ["jsonl", "csv"]}, "(jsonl)"),
                _query(
                    "kind", {"type": "string", "enum": ["generations", "traces"]}, "(generations)"
                ),
                _query(
                    "limit",
                    {"type": "integer", "minimum": 1, "maximum": MAX_EXPORT_ROWS},
                    f"rows at most ({MAX_EXPORT_ROWS:,})",
                ),
                *GENERATION_PARAMS,
            ],
            "responses": {
                "200": {
                    "description": "The file, as an attachment",
                    "content": {
                        "application/x-ndjson": {"schema": stream},
                        "text/csv": {"schema": stream},
                    },
                },
                **_errors(400, 401, 403, 404),
            },
        }
    }


# For the other LLM parts of the document (api/openapi_scores.py).
errors, ok, ref, query, path_param = _errors, _ok, _ref, _query, _path
PROJECT, SINCE, UNTIL, RANGE, PAGING = _PROJECT, _SINCE, _UNTIL, _RANGE, _PAGING


def llm_paths() -> dict[str, Any]:
    """The paths of :mod:`heliograph.api.llm` (docs/api.md, "LLM analytics")."""
    base = "/api/0/projects/{organization_slug}/{project_slug}/llm/"
    return {
        base + "generations/": _list(
            "Generations and embeddings, newest first", GENERATION_PARAMS, "LlmGeneration"
        ),
        base + "generations/{event_id}/": _one(
            "One LLM event with its properties (payloads as stored)",
            "event_id",
            _ref("LlmGenerationDetail"),
        ),
        base + "traces/": _list("Traces, most recently started first", TRACE_PARAMS, "LlmTrace"),
        base + "traces/{trace_id}/": _one(
            "A trace with its tree and linked error events", "trace_id", _ref("LlmTraceDetail")
        ),
        base + "sessions/": _list(
            "Sessions with a trace started in the range (7 days), most recently active first",
            _SINCE_ONLY,
            "LlmSession",
        ),
        base + "sessions/{session_id}/": _one(
            "A session's sums and its traces",
            "session_id",
            {
                "allOf": [
                    _ref("LlmSession"),
                    {
                        "type": "object",
                        "properties": {
                            "truncated": {"type": "boolean"},
                            "traceList": {"type": "array", "items": _ref("LlmTrace")},
                        },
                    },
                ]
            },
        ),
        base + "users/": _groups("Spend per distinct id, the costliest first", "distinctId", []),
        base + "breakdown/": _groups(
            "Calls grouped by a column or any property, the costliest first",
            "value",
            [
                _query(
                    "by",
                    {
                        "type": "string",
                        "enum": ["user", "model", "provider", "environment", "release", "session"],
                    },
                    "group by this column (model when neither by nor prop is given)",
                ),
                _query("prop", _FILTER_TEXT, "group by this property of the calls"),
            ],
        ),
        base + "users/{distinct_id}/": _user(),
        base + "dashboard/": _dashboard(),
        base + "export/": _export(),
    }
