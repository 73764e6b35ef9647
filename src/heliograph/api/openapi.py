"""The OpenAPI 3.1 description of the JSON API, served at ``/api/openapi.json``.

Written by hand next to the routes (and checked against them by a test), so
the schema says what each endpoint really answers, errors included.
"""

from __future__ import annotations

from typing import Any

_ERROR = {"$ref": "#/components/schemas/Error"}


def _error_responses(*statuses: int) -> dict[str, Any]:
    reasons = {
        400: "Bad request",
        401: "Authentication required",
        403: "Forbidden",
        404: "Not found",
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


_PROJECT_PARAMS = [
    {"name": "organization_slug", "in": "path", "required": True, "schema": {"type": "string"}},
    {"name": "project_slug", "in": "path", "required": True, "schema": {"type": "string"}},
]
_ISSUE_PARAM = [{"name": "issue_id", "in": "path", "required": True, "schema": {"type": "integer"}}]
_PAGING = [
    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
]


def openapi_schema(base_url: str) -> dict[str, Any]:
    issue = {"$ref": "#/components/schemas/Issue"}
    event = {"$ref": "#/components/schemas/Event"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Heliograph API", "version": "0"},
        "servers": [{"url": base_url}],
        "security": [{"bearer": []}],
        "paths": {
            "/api/0/projects/": {
                "get": {
                    "summary": "Projects you can see",
                    "responses": {
                        "200": _ok(
                            {"type": "array", "items": {"$ref": "#/components/schemas/Project"}}
                        ),
                        **_error_responses(401),
                    },
                }
            },
            "/api/0/projects/{organization_slug}/{project_slug}/issues/": {
                "get": {
                    "summary": "List a project's issues",
                    "parameters": [
                        *_PROJECT_PARAMS,
                        *_PAGING,
                        {
                            "name": "query",
                            "in": "query",
                            "schema": {"type": "string"},
                            "description": "is:unresolved level:error environment:x release:y text",
                        },
                        {
                            "name": "status",
                            "in": "query",
                            "schema": {
                                "type": "string",
                                "enum": ["unresolved", "resolved", "ignored", "all"],
                            },
                        },
                        {"name": "level", "in": "query", "schema": {"type": "string"}},
                        {"name": "environment", "in": "query", "schema": {"type": "string"}},
                        {"name": "release", "in": "query", "schema": {"type": "string"}},
                        {
                            "name": "sort",
                            "in": "query",
                            "schema": {
                                "type": "string",
                                "enum": ["date", "new", "freq", "last_seen", "first_seen", "count"],
                            },
                        },
                    ],
                    "responses": {
                        "200": _ok({"type": "array", "items": issue}),
                        **_error_responses(400, 401, 404),
                    },
                }
            },
            "/api/0/projects/{organization_slug}/{project_slug}/events/{event_id}/": {
                "get": {
                    "summary": "One event's full JSON",
                    "parameters": [
                        *_PROJECT_PARAMS,
                        {
                            "name": "event_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                    ],
                    "responses": {"200": _ok(event), **_error_responses(401, 404)},
                }
            },
            "/api/0/issues/{issue_id}/": {
                "get": {
                    "summary": "Issue detail with its tag breakdown",
                    "parameters": _ISSUE_PARAM,
                    "responses": {"200": _ok(issue), **_error_responses(401, 404)},
                },
                "put": {
                    "summary": "Change an issue's status",
                    "parameters": _ISSUE_PARAM,
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["status"],
                                    "properties": {
                                        "status": {
                                            "type": "string",
                                            "enum": [
                                                "unresolved",
                                                "resolved",
                                                "ignored",
                                                "resolvedInNextRelease",
                                            ],
                                        },
                                        "statusDetails": {
                                            "type": "object",
                                            "properties": {"inNextRelease": {"type": "boolean"}},
                                        },
                                    },
                                }
                            }
                        },
                    },
                    "responses": {"200": _ok(issue), **_error_responses(400, 401, 403, 404)},
                },
            },
            "/api/0/issues/{issue_id}/events/": {
                "get": {
                    "summary": "An issue's events, newest first",
                    "parameters": [
                        *_ISSUE_PARAM,
                        *_PAGING,
                        {"name": "full", "in": "query", "schema": {"type": "boolean"}},
                    ],
                    "responses": {
                        "200": _ok({"type": "array", "items": event}),
                        **_error_responses(400, 401, 404),
                    },
                }
            },
            "/api/0/issues/{issue_id}/events/latest/": {
                "get": {
                    "summary": "An issue's latest event",
                    "parameters": _ISSUE_PARAM,
                    "responses": {"200": _ok(event), **_error_responses(401, 404)},
                }
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["detail"],
                    "properties": {"detail": {"type": "string"}},
                },
                "Project": {
                    "type": "object",
                    "required": ["id", "slug", "name"],
                    "properties": {
                        "id": {"type": "string"},
                        "slug": {"type": "string"},
                        "name": {"type": "string"},
                        "platform": {"type": "string"},
                        "organization": {"type": "object"},
                    },
                },
                "Issue": {
                    "type": "object",
                    "required": ["id", "title", "status", "count", "firstSeen", "lastSeen"],
                    "properties": {
                        "id": {"type": "string"},
                        "shortId": {"type": "string"},
                        "title": {"type": "string"},
                        "culprit": {"type": "string"},
                        "level": {"type": "string"},
                        "status": {"type": "string"},
                        "substatus": {"type": "string"},
                        "count": {"type": "string"},
                        "userCount": {"type": "integer"},
                        "firstSeen": {"type": "string", "format": "date-time"},
                        "lastSeen": {"type": "string", "format": "date-time"},
                        "tags": {"type": "array", "items": {"type": "object"}},
                        "stats": {"type": "object"},
                    },
                },
                "Event": {
                    "type": "object",
                    "required": ["id", "eventID", "entries"],
                    "properties": {
                        "id": {"type": "string"},
                        "eventID": {"type": "string"},
                        "groupID": {"type": ["string", "null"]},
                        "title": {"type": "string"},
                        "message": {"type": "string"},
                        "dateCreated": {"type": "string", "format": "date-time"},
                        "entries": {"type": "array", "items": {"type": "object"}},
                        "tags": {"type": "array", "items": {"type": "object"}},
                        "user": {"type": ["object", "null"]},
                        "contexts": {"type": "object"},
                    },
                },
            },
        },
    }
