"""The evaluators endpoints' part of the OpenAPI document (:mod:`heliograph.api.evaluators`)."""

from __future__ import annotations

from typing import Any

from heliograph.api.openapi_llm import PROJECT, errors, ok, ref
from heliograph.evals.definition import KINDS, MAX_NAME, OUTPUT_TYPES
from heliograph.evals.records import MAX_RUN_LIMIT, RUN_STATES

__all__ = ["EVALUATOR_SCHEMAS", "evaluator_paths"]

_TEXT_OR_NULL = {"type": ["string", "null"]}
_USAGE = {
    "type": "object",
    "properties": {
        "scored": {"type": "integer"},
        "passed": {"type": "integer"},
        "failed": {"type": "integer"},
        "skipped": {"type": "integer"},
        "errors": {"type": "integer"},
        "cost_usd": {"type": "number"},
    },
}
_FILTER = {
    "type": "object",
    "description": "which generations it judges: every field given must match",
    "properties": {
        "model": {"type": "string"},
        "prompt_name": {"type": "string"},
        "property_key": {"type": "string"},
        "property_value": {"type": "string"},
    },
}
_OUTPUT = {
    "type": "object",
    "description": "what a judge's score must be (deterministic kinds: boolean)",
    "properties": {
        "type": {"type": "string", "enum": list(OUTPUT_TYPES)},
        "min": {"type": "number"},
        "max": {"type": "number"},
        "categories": {"type": "array", "items": {"type": "string"}},
        "passing": {"type": "array", "items": {"type": "string"}},
    },
}
_FIELDS: dict[str, Any] = {
    "name": {"type": "string", "maxLength": MAX_NAME, "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]*$"},
    "kind": {"type": "string", "enum": list(KINDS)},
    "config": {
        "type": "object",
        "description": "llm_judge: template, max_tokens, input_token_price, "
        "output_token_price; regex: pattern, target, must_match; json_schema: schema; "
        "length: min, max, unit, target; contains: values, mode, case_sensitive, target",
    },
    "output": _OUTPUT,
    "model": {"type": "string", "description": "the judge model; empty: the server's"},
    "sampling_rate": {"type": "number", "minimum": 0, "maximum": 1},
    "daily_budget_usd": {"type": "number", "minimum": 0},
    "filter": _FILTER,
    "threshold": {"type": ["number", "null"], "description": "below it: a failure"},
    "window": {"type": "integer", "minimum": 1, "description": "scores whose mean regresses"},
    "enabled": {"type": "boolean"},
}

EVALUATOR_SCHEMAS: dict[str, Any] = {
    "Evaluator": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            **_FIELDS,
            "created_at": {"type": "number"},
            "updated_at": {"type": "number"},
            "today": {**_USAGE, "description": "what it did today (UTC)"},
        },
    },
    "EvaluatorRun": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "evaluator_id": {"type": "integer"},
            "filters": {"type": "object"},
            "limit": {"type": "integer"},
            "state": {"type": "string", "enum": list(RUN_STATES)},
            "requested_by": {"type": ["integer", "null"]},
            "created_at": {"type": "number"},
            "finished_at": {"type": ["number", "null"]},
            "usage": _USAGE,
            "message": {"type": "string"},
        },
    },
}


def _body(required: list[str]) -> dict[str, Any]:
    schema = {"type": "object", "required": required, "properties": _FIELDS}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


_RUN_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "since": {"type": ["string", "number"]},
                    "until": {"type": ["string", "number"]},
                    "range": {"type": "string", "description": "such as 24h or 7d"},
                    "model": {"type": "string", "maxLength": 200},
                    "prompt_name": {"type": "string", "maxLength": 200},
                    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_RUN_LIMIT},
                },
            }
        }
    },
}
_CONFLICT = {
    "409": {
        "description": "Another evaluator of the project has that name",
        "content": {"application/json": {"schema": ref("Error")}},
    }
}


def evaluator_paths() -> dict[str, Any]:
    """The paths of :mod:`heliograph.api.evaluators` (docs/api.md, "Evaluators")."""
    base = "/api/0/projects/{organization_slug}/{project_slug}/llm/evaluators/"
    one = [
        *PROJECT,
        {"name": "evaluator_id", "in": "path", "required": True, "schema": {"type": "integer"}},
    ]
    return {
        base: {
            "get": {
                "summary": "The project's evaluators, with today's usage",
                "parameters": PROJECT,
                "responses": {
                    "200": ok({"type": "array", "items": ref("Evaluator")}),
                    **errors(401, 403, 404),
                },
            },
            "post": {
                "summary": "Create an evaluator (admin)",
                "parameters": PROJECT,
                "requestBody": _body(["name", "kind"]),
                "responses": {
                    "201": ok(ref("Evaluator"), "Created"),
                    **errors(400, 401, 403, 404),
                    **_CONFLICT,
                },
            },
        },
        base + "{evaluator_id}/": {
            "get": {
                "summary": "One evaluator",
                "parameters": one,
                "responses": {"200": ok(ref("Evaluator")), **errors(401, 403, 404)},
            },
            "put": {
                "summary": "Change an evaluator's fields (admin); the others stay",
                "parameters": one,
                "requestBody": _body([]),
                "responses": {
                    "200": ok(ref("Evaluator")),
                    **errors(400, 401, 403, 404),
                    **_CONFLICT,
                },
            },
            "delete": {
                "summary": "Delete an evaluator with its usage and runs (admin); scores stay",
                "parameters": one,
                "responses": {"204": {"description": "Deleted"}, **errors(401, 403, 404)},
            },
        },
        base + "{evaluator_id}/runs/": {
            "get": {
                "summary": "On-demand runs, newest first",
                "parameters": one,
                "responses": {
                    "200": ok({"type": "array", "items": ref("EvaluatorRun")}),
                    **errors(401, 403, 404),
                },
            },
            "post": {
                "summary": "Queue a run over a filter (write scope), within the daily budget",
                "parameters": one,
                "requestBody": _RUN_BODY,
                "responses": {
                    "202": ok(ref("EvaluatorRun"), "Queued"),
                    **errors(400, 401, 403, 404),
                },
            },
        },
    }
