"""The prompt endpoints' part of the OpenAPI document (``api/prompts.py``, ``api/prompt_fetch.py``).

Apart from ``openapi.py`` to keep that file about the rest; the shapes are
:mod:`heliograph.api.prompt_json`'s.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PROMPT_SCHEMAS", "prompt_paths"]

_ERROR = {"$ref": "#/components/schemas/Error"}
_PROMPT = {"$ref": "#/components/schemas/Prompt"}
_REASONS = {
    400: "Bad request: detail says what is wrong",
    401: "Authentication required",
    403: "Forbidden: the token lacks the scope, or the role does not allow it",
    404: "No such project, prompt, version or label",
}


def _errors(*statuses: int) -> dict[str, Any]:
    return {
        str(status): {
            "description": _REASONS[status],
            "content": {"application/json": {"schema": _ERROR}},
        }
        for status in statuses
    }


def _ok(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _path(name: str, kind: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": kind}}


def _query(name: str, kind: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": {"type": kind}, "description": description}


_PROJECT = [_path("organization_slug"), _path("project_slug")]
_NAMED = [*_PROJECT, _path("name")]
_WHICH = [
    _query("label", "string", "a label, or 'latest' (the newest version)"),
    _query("version", "integer", "a version number (not with label)"),
]
_MESSAGE = {
    "type": "object",
    "required": ["role", "content"],
    "properties": {"role": {"type": "string"}, "content": {"type": "string"}},
}
_CONTENT = {
    "oneOf": [{"type": "string"}, {"type": "array", "items": _MESSAGE}],
    "description": "text, or chat messages; {{variable}} placeholders",
}
_NEW_VERSION = {
    "type": "object",
    "required": ["prompt"],
    "properties": {
        "name": {"type": "string", "description": "required unless the URL names the prompt"},
        "prompt": _CONTENT,
        "type": {"type": "string", "enum": ["text", "chat"]},
        "config": {"type": "object", "description": "model, temperature... as you like"},
        "labels": {"type": "array", "items": {"type": "string"}},
        "commitMessage": {"type": ["string", "null"]},
    },
}
_BODY = {"required": True, "content": {"application/json": {"schema": _NEW_VERSION}}}
_LABELS_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["newLabels"],
                "properties": {"newLabels": {"type": "array", "items": {"type": "string"}}},
            }
        }
    },
}
_RESULTS = {"type": "object", "properties": {"results": {"type": "array", "items": _PROMPT}}}
_BASIC: list[dict[str, list[str]]] = [{"basic": []}]

PROMPT_SCHEMAS: dict[str, Any] = {
    "Prompt": {
        "type": "object",
        "required": ["name", "version", "type", "prompt", "config", "labels"],
        "properties": {
            "name": {"type": "string"},
            "version": {"type": "integer"},
            "type": {"type": "string", "enum": ["text", "chat"]},
            "prompt": _CONTENT,
            "config": {"type": "object"},
            "labels": {"type": "array", "items": {"type": "string"}},
            "tags": {"type": "array", "items": {"type": "string"}},
            "commitMessage": {"type": ["string", "null"]},
            "variables": {"type": "array", "items": {"type": "string"}},
            "createdAt": {"type": "string", "format": "date-time"},
            "createdBy": {"type": ["object", "null"]},
        },
    },
    "PromptSummary": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "latestVersion": {"type": "integer"},
            "labels": {"type": "object", "additionalProperties": {"type": "integer"}},
            "createdAt": {"type": "string", "format": "date-time"},
            "updatedAt": {"type": "string", "format": "date-time"},
        },
    },
}


def prompt_paths() -> dict[str, Any]:
    base = "/api/0/projects/{organization_slug}/{project_slug}/prompts"
    summaries = {
        "type": "object",
        "properties": {
            "results": {"type": "array", "items": {"$ref": "#/components/schemas/PromptSummary"}}
        },
    }
    write_errors = _errors(400, 401, 403, 404)
    return {
        f"{base}/": {
            "get": {
                "summary": "A project's prompts, with where each label points",
                "parameters": _PROJECT,
                "responses": {"200": _ok(summaries), **_errors(401, 403, 404)},
            },
            "post": {
                "summary": "Create a prompt's next version (write scope; member or above)",
                "parameters": _PROJECT,
                "requestBody": _BODY,
                "responses": {"201": _ok(_PROMPT, "Created"), **write_errors},
            },
        },
        f"{base}/{{name}}/": {
            "get": {
                "summary": "One version of a prompt (latest unless a label or version is asked)",
                "parameters": [*_NAMED, *_WHICH],
                "responses": {"200": _ok(_PROMPT), **_errors(400, 401, 403, 404)},
            }
        },
        f"{base}/{{name}}/versions/": {
            "get": {
                "summary": "Every version of a prompt, newest first",
                "parameters": _NAMED,
                "responses": {"200": _ok(_RESULTS), **_errors(401, 403, 404)},
            },
            "post": {
                "summary": "Create the prompt's next version (write scope)",
                "parameters": _NAMED,
                "requestBody": _BODY,
                "responses": {"201": _ok(_PROMPT, "Created"), **write_errors},
            },
        },
        f"{base}/{{name}}/versions/{{version}}/": {
            "get": {
                "summary": "One version",
                "parameters": [*_NAMED, _path("version", "integer")],
                "responses": {"200": _ok(_PROMPT), **_errors(400, 401, 403, 404)},
            },
            "patch": {
                "summary": "Point labels at this version (write scope)",
                "parameters": [*_NAMED, _path("version", "integer")],
                "requestBody": _LABELS_BODY,
                "responses": {"200": _ok(_PROMPT), **write_errors},
            },
        },
        f"{base}/{{name}}/labels/{{label}}/": {
            "delete": {
                "summary": "Remove a label from the prompt (write scope)",
                "parameters": [*_NAMED, _path("label")],
                "responses": {"204": {"description": "Removed"}, **write_errors},
            }
        },
        f"{base}/{{name}}/comparison/": {
            "get": {
                "summary": "Calls, cost, latency and error rate of each version's linked calls",
                "parameters": [*_NAMED, _query("days", "integer", "1 to 90 (default 7)")],
                "responses": {
                    "200": _ok({"type": "object", "properties": {"results": {"type": "array"}}}),
                    **_errors(400, 401, 403, 404),
                },
            }
        },
        "/api/public/v2/prompts": {
            "post": {
                "summary": "Create a version, as Langfuse's SDKs do (Basic: project key, token)",
                "security": _BASIC,
                "requestBody": _BODY,
                "responses": {"201": _ok(_PROMPT, "Created"), **write_errors},
            }
        },
        "/api/public/v2/prompts/{name}": {
            "get": {
                "summary": "Fetch a prompt for an SDK (production unless asked; Basic auth)",
                "security": _BASIC,
                "parameters": [_path("name"), *_WHICH],
                "responses": {"200": _ok(_PROMPT), **_errors(400, 401, 403, 404)},
            }
        },
        "/api/public/v2/prompts/{name}/versions/{version}": {
            "patch": {
                "summary": "Point labels at a version, as Langfuse's update_prompt does",
                "security": _BASIC,
                "parameters": [_path("name"), _path("version", "integer")],
                "requestBody": _LABELS_BODY,
                "responses": {"200": _ok(_PROMPT), **write_errors},
            }
        },
    }
