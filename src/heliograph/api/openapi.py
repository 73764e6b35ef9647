"""The OpenAPI 3.1 description of the JSON API, served at ``/api/openapi.json``.

Written by hand next to the routes (and checked against them by a test), so
the schema says what each endpoint really answers, errors included.
"""

from __future__ import annotations

from typing import Any

from heliograph.ai.policy import POLICY_STATES
from heliograph.api.openapi_datasets import DATASET_SCHEMAS, dataset_paths
from heliograph.api.openapi_evaluators import EVALUATOR_SCHEMAS, evaluator_paths
from heliograph.api.openapi_llm import LLM_SCHEMAS, llm_paths
from heliograph.api.openapi_prompts import PROMPT_SCHEMAS, prompt_paths
from heliograph.api.openapi_scores import SCORE_SCHEMAS, score_paths

_ERROR = {"$ref": "#/components/schemas/Error"}


def _error_responses(*statuses: int) -> dict[str, Any]:
    reasons = {
        400: "Bad request",
        401: "Authentication required",
        403: "Forbidden: the token lacks the scope, or the role does not allow it",
        404: "Not found",
        409: "Conflict: it exists already",
        413: "Too large",
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
_KEY_PARAM = [{"name": "key_id", "in": "path", "required": True, "schema": {"type": "string"}}]
_LIMIT = {
    "oneOf": [
        {"type": "integer", "minimum": 0, "maximum": 1_000_000},
        {
            "type": "object",
            "properties": {
                "count": {"type": ["integer", "null"], "minimum": 0},
                "window": {"type": "integer", "minimum": 1},
            },
        },
        {"type": "null"},
    ],
    "description": "events per second, or Sentry's {count, window}; null or 0: no key limit",
}
_KEY_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 100},
                    "rateLimit": _LIMIT,
                },
            }
        }
    },
}
_PROJECT_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 100},
                    "retentionDays": {"type": "integer", "minimum": 1, "maximum": 3650},
                    "keepLlmPayloads": {"type": "boolean"},
                    "payloadMaxChars": {"type": "integer", "minimum": 100, "maximum": 1_000_000},
                    "aiPolicy": {
                        "type": "string",
                        "enum": [
                            "allowed",
                            "consent_required",
                            "pii_certification_required",
                            "disabled",
                        ],
                    },
                    "rateLimit": {
                        "type": ["integer", "null"],
                        "minimum": 0,
                        "maximum": 1_000_000,
                        "description": "events per second; null: the server default; 0: none",
                    },
                    "sensitiveFields": {"type": "array", "items": {"type": "string"}},
                    "safeFields": {"type": "array", "items": {"type": "string"}},
                    "replayEnabled": {"type": "boolean"},
                    "replaySamplePercent": {"type": "integer", "minimum": 0, "maximum": 100},
                    "replayMinSeconds": {"type": "integer", "minimum": 0, "maximum": 3600},
                    "replayUnmaskText": {"type": "boolean"},
                    "replayRecordMedia": {"type": "boolean"},
                    "storeIpAddresses": {"type": "boolean"},
                },
            }
        }
    },
}
_PAGING = [
    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
]


_FLAG_PROJECT = [
    {"name": "project_id", "in": "path", "required": True, "schema": {"type": "integer"}}
]
_FLAG_PARAMS = [
    *_FLAG_PROJECT,
    {"name": "flag_id", "in": "path", "required": True, "schema": {"type": "integer"}},
]
_FLAG_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "key": {"type": "string"},
                    "name": {"type": "string"},
                    "active": {"type": "boolean"},
                    "deleted": {"type": "boolean"},
                    "filters": {
                        "type": "object",
                        "properties": {
                            "groups": {"type": "array", "items": {"type": "object"}},
                            "multivariate": {"type": "object"},
                            "payloads": {"type": "object"},
                        },
                    },
                    "environments": {
                        "type": "object",
                        "additionalProperties": {"type": "boolean"},
                    },
                },
            }
        }
    },
}


def _flag_paths() -> dict[str, Any]:
    flag = {"$ref": "#/components/schemas/FeatureFlag"}
    page = {
        "type": "object",
        "required": ["count", "results"],
        "properties": {"count": {"type": "integer"}, "results": {"type": "array", "items": flag}},
    }
    return {
        "/api/projects/{project_id}/feature_flags/": {
            "get": {
                "summary": "A project's feature flags (PostHog's shape)",
                "parameters": _FLAG_PROJECT,
                "responses": {"200": _ok(page), **_error_responses(401, 403, 404)},
            },
            "post": {
                "summary": "Create a feature flag (admin scope; owner or admin)",
                "parameters": _FLAG_PROJECT,
                "requestBody": _FLAG_BODY,
                "responses": {
                    "201": _ok(flag, "Created"),
                    **_error_responses(400, 401, 403, 404),
                },
            },
        },
        "/api/projects/{project_id}/feature_flags/{flag_id}/": {
            "get": {
                "summary": "One feature flag",
                "parameters": _FLAG_PARAMS,
                "responses": {"200": _ok(flag), **_error_responses(401, 403, 404)},
            },
            "patch": {
                "summary": "Change a flag; {deleted: true} deletes it (admin scope)",
                "parameters": _FLAG_PARAMS,
                "requestBody": _FLAG_BODY,
                "responses": {
                    "200": _ok(flag),
                    "204": {"description": "Deleted"},
                    **_error_responses(400, 401, 403, 404),
                },
            },
            "delete": {
                "summary": "Delete a flag (admin scope); its audit log stays",
                "parameters": _FLAG_PARAMS,
                "responses": {
                    "204": {"description": "Deleted"},
                    **_error_responses(401, 403, 404),
                },
            },
        },
        "/api/projects/{project_id}/feature_flags/{flag_id}/activity/": {
            "get": {
                "summary": "A flag's audit log: who changed what, newest first",
                "parameters": _FLAG_PARAMS,
                "responses": {
                    "200": _ok({"type": "object", "properties": {"results": {"type": "array"}}}),
                    **_error_responses(401, 403, 404),
                },
            }
        },
    }


_REPLAY_PARAMS = [
    *_PROJECT_PARAMS,
    {"name": "replay_id", "in": "path", "required": True, "schema": {"type": "string"}},
]
_REPLAY = {
    "type": "object",
    "required": ["id", "project_id", "started_at", "finished_at", "duration"],
    "properties": {
        "id": {"type": "string"},
        "project_id": {"type": "string"},
        "started_at": {"type": "string", "format": "date-time"},
        "finished_at": {"type": "string", "format": "date-time"},
        "duration": {"type": "integer", "description": "seconds"},
        "count_errors": {"type": "integer"},
        "count_segments": {"type": "integer"},
        "urls": {"type": "array", "items": {"type": "string"}},
        "user": {"type": "object"},
        "browser": {"type": "object"},
        "os": {"type": "object"},
        "error_ids": {"type": "array", "items": {"type": "string"}},
    },
}


def _replay_paths() -> dict[str, Any]:
    """Session replays, in Sentry's shapes (docs/replay.md)."""
    data = {"type": "object", "properties": {"data": _REPLAY}}
    events = {"type": "array", "items": {"type": "object"}}
    return {
        "/api/0/organizations/{organization_slug}/replays/": {
            "get": {
                "summary": "Replays of the organization's projects you may see, newest first",
                "parameters": [
                    _PROJECT_PARAMS[0],
                    {"name": "project", "in": "query", "schema": {"type": "string"}},
                    {"name": "per_page", "in": "query", "schema": {"type": "integer"}},
                    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                    {"name": "query", "in": "query", "schema": {"type": "string"}},
                    {"name": "user", "in": "query", "schema": {"type": "string"}},
                    {"name": "errors", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": _ok({"type": "object", "properties": {"data": {"type": "array"}}}),
                    **_error_responses(400, 401, 403, 404),
                },
            }
        },
        "/api/0/projects/{organization_slug}/{project_slug}/replays/{replay_id}/": {
            "get": {
                "summary": "One replay, with the error events linked to it",
                "parameters": _REPLAY_PARAMS,
                "responses": {"200": _ok(data), **_error_responses(401, 403, 404)},
            },
            "delete": {
                "summary": "Delete a replay and its recording (write scope)",
                "parameters": _REPLAY_PARAMS,
                "responses": {
                    "204": {"description": "Deleted"},
                    **_error_responses(401, 403, 404),
                },
            },
        },
        "/api/0/projects/{organization_slug}/{project_slug}/replays/{replay_id}/"
        "recording-segments/": {
            "get": {
                "summary": "The replay's segments; with ?download, their rrweb events",
                "parameters": [
                    *_REPLAY_PARAMS,
                    {"name": "download", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": _ok({"oneOf": [{"type": "object"}, {"type": "array"}]}),
                    **_error_responses(401, 403, 404),
                },
            }
        },
        "/api/0/projects/{organization_slug}/{project_slug}/replays/{replay_id}/"
        "recording-segments/{segment_id}/": {
            "get": {
                "summary": "One segment; with ?download, its rrweb events",
                "parameters": [
                    *_REPLAY_PARAMS,
                    {
                        "name": "segment_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                    {"name": "download", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": _ok({"oneOf": [{"type": "object"}, events]}),
                    **_error_responses(401, 403, 404),
                },
            }
        },
    }


_RULE = {
    "type": "object",
    "required": ["name", "trigger", "actions"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "trigger": {
            "type": "string",
            "enum": [
                "new_issue",
                "regression",
                "issue_events",
                "issue_users",
                "llm_cost",
                "llm_error_rate",
                "llm_p95_latency",
                "heartbeat",
            ],
        },
        "threshold": {"type": ["number", "null"]},
        "window": {"type": "integer", "description": "seconds"},
        "interval": {"type": "integer", "description": "seconds between two alerts"},
        "filters": {"type": "object"},
        "actions": {"type": "array", "items": {"type": "object"}},
        "enabled": {"type": "boolean"},
        "snoozed_until": {"type": ["number", "null"]},
    },
}
_RULE_PARAMS = [
    *_PROJECT_PARAMS,
    {"name": "rule_id", "in": "path", "required": True, "schema": {"type": "integer"}},
]


def _organization_paths() -> dict[str, Any]:
    """Organizations, and creating projects in one (api/organizations.py)."""
    org_param = [_PROJECT_PARAMS[0]]
    team_param = {"name": "team_slug", "in": "path", "required": True, "schema": {"type": "string"}}
    organization = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "slug": {"type": "string"},
            "name": {"type": "string"},
            "aiPolicy": {"type": "string", "enum": list(POLICY_STATES)},
            "role": {"type": ["string", "null"]},
        },
    }
    slug = {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,49}$"}
    new_org = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"slug": slug, "name": {"type": "string", "maxLength": 100}},
                }
            }
        },
    }
    new_project = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "slug": slug,
                        "name": {"type": "string", "maxLength": 100},
                        "platform": {"type": "string", "examples": ["python", "javascript"]},
                    },
                    "description": "slug or name (the slug is made from the name when missing)",
                }
            }
        },
    }
    created = _ok({"$ref": "#/components/schemas/ProjectDetail"}, "Created, with its first key")
    return {
        "/api/0/organizations/": {
            "get": {
                "summary": "The organizations the caller is a member of (superusers: all)",
                "responses": {
                    "200": _ok({"type": "array", "items": organization}),
                    **_error_responses(401, 403),
                },
            },
            "post": {
                "summary": "Create an organization (superusers; admin scope)",
                "requestBody": new_org,
                "responses": {
                    "201": _ok(organization, "Created"),
                    **_error_responses(400, 401, 403),
                },
            },
        },
        "/api/0/organizations/{organization_slug}/": {
            "get": {
                "summary": "An organization",
                "parameters": org_param,
                "responses": {"200": _ok(organization), **_error_responses(401, 403, 404)},
            },
            "put": {
                "summary": "Rename an organization or set its AI policy (owner or admin)",
                "parameters": org_param,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "name": {"type": "string", "minLength": 1, "maxLength": 100},
                                    "aiPolicy": {"type": "string", "enum": list(POLICY_STATES)},
                                },
                            }
                        }
                    },
                },
                "responses": {"200": _ok(organization), **_error_responses(400, 401, 403, 404)},
            },
        },
        "/api/0/organizations/{organization_slug}/projects/": {
            "get": {
                "summary": "The organization's projects the caller may see",
                "parameters": org_param,
                "responses": {
                    "200": _ok({"type": "array", "items": {"type": "object"}}),
                    **_error_responses(401, 403, 404),
                },
            },
            "post": {
                "summary": "Create a project in no team: the whole organization sees it "
                "(owner or admin)",
                "parameters": org_param,
                "requestBody": new_project,
                "responses": {"201": created, **_error_responses(400, 401, 403, 404)},
            },
        },
        "/api/0/teams/{organization_slug}/{team_slug}/projects/": {
            "post": {
                "summary": "Create a project in a team, as Sentry does (owner or admin)",
                "parameters": [*org_param, team_param],
                "requestBody": new_project,
                "responses": {"201": created, **_error_responses(400, 401, 403, 404)},
            }
        },
    }


def _alert_paths() -> dict[str, Any]:
    """Alert rules, their history and issue mutes (docs/alerts.md)."""
    body = {"required": True, "content": {"application/json": {"schema": _RULE}}}
    rules = "/api/0/projects/{organization_slug}/{project_slug}/alert-rules/"
    mute = {
        "type": "object",
        "properties": {"muted": {"type": "boolean"}, "until": {"type": ["number", "null"]}},
    }
    return {
        rules: {
            "get": {
                "summary": "The project's alert rules",
                "parameters": _PROJECT_PARAMS,
                "responses": {"200": _ok({"type": "array", "items": _RULE}),
                              **_error_responses(401, 403, 404)},
            },
            "post": {
                "summary": "Create an alert rule (write scope)",
                "parameters": _PROJECT_PARAMS,
                "requestBody": body,
                "responses": {"201": _ok(_RULE, "Created"),
                              **_error_responses(400, 401, 403, 404)},
            },
        },
        rules + "{rule_id}/": {
            "get": {
                "summary": "One alert rule (webhook secrets masked)",
                "parameters": _RULE_PARAMS,
                "responses": {"200": _ok(_RULE), **_error_responses(401, 403, 404)},
            },
            "put": {
                "summary": "Change a rule; absent fields stay (write scope)",
                "parameters": _RULE_PARAMS,
                "requestBody": body,
                "responses": {"200": _ok(_RULE), **_error_responses(400, 401, 403, 404)},
            },
            "delete": {
                "summary": "Delete a rule (write scope)",
                "parameters": _RULE_PARAMS,
                "responses": {"204": {"description": "Deleted"},
                              **_error_responses(401, 403, 404)},
            },
        },
        rules + "{rule_id}/test/": {
            "post": {
                "summary": "Send a test notification through the rule's actions",
                "parameters": _RULE_PARAMS,
                "responses": {"202": _ok({"type": "object"}, "Queued"),
                              **_error_responses(401, 403, 404)},
            }
        },
        "/api/0/projects/{organization_slug}/{project_slug}/alert-history/": {
            "get": {
                "summary": "The latest notifications and how each delivery went",
                "parameters": _PROJECT_PARAMS,
                "responses": {"200": _ok({"type": "array"}), **_error_responses(401, 403, 404)},
            }
        },
        "/api/0/issues/{issue_id}/alert-mute/": {
            "get": {
                "summary": "Whether alerts about the issue are muted",
                "parameters": _ISSUE_PARAM,
                "responses": {"200": _ok(mute), **_error_responses(401, 403, 404)},
            },
            "put": {
                "summary": "Mute alerts about the issue ({until}: a unix time; absent: for good)",
                "parameters": _ISSUE_PARAM,
                "requestBody": {"required": False, "content": {"application/json": {
                    "schema": {"type": "object", "properties": {"until": {"type": "number"}}}}}},
                "responses": {"200": _ok(mute), **_error_responses(400, 401, 403, 404)},
            },
            "delete": {
                "summary": "Unmute alerts about the issue",
                "parameters": _ISSUE_PARAM,
                "responses": {"200": _ok(mute), **_error_responses(401, 403, 404)},
            },
        },
        "/api/0/users/me/alert-emails/": {
            "get": {
                "summary": "Whether I receive alert emails",
                "responses": {"200": _ok({"type": "object"}), **_error_responses(401, 403)},
            },
            "put": {
                "summary": "Receive alert emails, or not ({enabled: bool})",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["enabled"],
                    "properties": {"enabled": {"type": "boolean"}}}}}},
                "responses": {"200": _ok({"type": "object"}),
                              **_error_responses(400, 401, 403)},
            },
        },
    }  # fmt: skip


def _sourcemap_paths() -> dict[str, Any]:
    """What sentry-cli uploads source maps through, in Sentry's shapes (docs/sourcemaps.md)."""
    org = [_PROJECT_PARAMS[0]]
    version = {"name": "version", "in": "path", "required": True, "schema": {"type": "string"}}
    bundle = {"name": "bundle_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    release = {"type": "object", "properties": {"version": {"type": "string"}}}
    assemble = {
        "type": "object",
        "properties": {
            "state": {"type": "string", "enum": ["ok", "not_found", "error"]},
            "missingChunks": {"type": "array", "items": {"type": "string"}},
            "detail": {"type": ["string", "null"]},
        },
    }
    json_body = {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}
    releases = "/api/0/projects/{organization_slug}/{project_slug}/releases/"
    org_releases = "/api/0/organizations/{organization_slug}/releases/"
    bundles = "/api/0/projects/{organization_slug}/{project_slug}/artifact-bundles/"
    return {
        **_release_file_paths(),
        org_releases: {
            "post": {
                "summary": "Create a release without a project (answered as asked)",
                "parameters": org,
                "requestBody": json_body,
                "responses": {
                    "201": _ok(release, "Created"),
                    **_error_responses(400, 401, 403, 404),
                },
            }
        },
        org_releases + "{version}/": {
            "get": {
                "summary": "A release (the organization's)",
                "parameters": [*org, version],
                "responses": {"200": _ok(release), **_error_responses(400, 401, 403, 404)},
            },
            "put": {
                "summary": "Update (finalize) a release without a project",
                "parameters": [*org, version],
                "requestBody": json_body,
                "responses": {"200": _ok(release), **_error_responses(400, 401, 403, 404)},
            },
        },
        org_releases + "{version}/assemble/": {
            "post": {
                "summary": "Assemble a release bundle (older sentry-cli) for the projects "
                "of the organization the caller may change",
                "parameters": [*org, version],
                "requestBody": json_body,
                "responses": {"200": _ok(assemble), **_error_responses(400, 401, 403, 404)},
            }
        },
        "/api/0/organizations/{organization_slug}/chunk-upload/": {
            "get": {
                "summary": "Chunk upload options (sizes, concurrency, accepted kinds)",
                "parameters": org,
                "responses": {"200": _ok({"type": "object"}), **_error_responses(401, 403, 404)},
            },
            "post": {
                "summary": "Upload chunks: multipart parts 'file' or 'file_gzip' named by SHA-1",
                "parameters": org,
                "requestBody": {
                    "required": True,
                    "content": {"multipart/form-data": {"schema": {"type": "object"}}},
                },
                "responses": {
                    "200": {"description": "Stored"},
                    **_error_responses(400, 401, 403, 404),
                },
            },
        },
        "/api/0/organizations/{organization_slug}/artifactbundle/assemble/": {
            "post": {
                "summary": "Assemble uploaded chunks into an artifact bundle for projects",
                "parameters": org,
                "requestBody": json_body,
                "responses": {"200": _ok(assemble), **_error_responses(400, 401, 403, 404)},
            }
        },
        releases: {
            "post": {
                "summary": "Create a release (answered as asked; releases come from events)",
                "parameters": _PROJECT_PARAMS,
                "requestBody": json_body,
                "responses": {
                    "201": _ok(release, "Created"),
                    **_error_responses(400, 401, 403, 404),
                },
            }
        },
        releases + "{version}/": {
            "get": {
                "summary": "A release",
                "parameters": [*_PROJECT_PARAMS, version],
                "responses": {"200": _ok(release), **_error_responses(401, 403, 404)},
            },
            "put": {
                "summary": "Update (finalize) a release",
                "parameters": [*_PROJECT_PARAMS, version],
                "requestBody": json_body,
                "responses": {"200": _ok(release), **_error_responses(400, 401, 403, 404)},
            },
        },
        bundles: {
            "get": {
                "summary": "The project's artifact bundles, newest first",
                "parameters": _PROJECT_PARAMS,
                "responses": {
                    "200": _ok({"type": "array", "items": {"type": "object"}}),
                    **_error_responses(401, 403, 404),
                },
            }
        },
        bundles + "{bundle_id}/": {
            "delete": {
                "summary": "Delete an artifact bundle and its files (write scope)",
                "parameters": [*_PROJECT_PARAMS, bundle],
                "responses": {
                    "204": {"description": "Deleted"},
                    **_error_responses(401, 403, 404),
                },
            }
        },
    }


def _release_file_paths() -> dict[str, Any]:
    """Sentry's older release files, under a project and under the organization."""
    version = {"name": "version", "in": "path", "required": True, "schema": {"type": "string"}}
    file_id = {"name": "file_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    release_file = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "dist": {"type": ["string", "null"]},
            "headers": {"type": "object"},
            "size": {"type": "integer"},
            "sha1": {"type": "string"},
            "dateCreated": {"type": "string", "format": "date-time"},
        },
    }
    upload = {
        "type": "object",
        "required": ["file", "name"],
        "properties": {
            "file": {"type": "string", "format": "binary"},
            "name": {"type": "string", "description": "the URL, e.g. ~/static/app.min.js"},
            "dist": {"type": "string"},
            "header": {"type": "array", "items": {"type": "string"}},
        },
    }
    paging = [
        {"name": "cursor", "in": "query", "schema": {"type": "string"}},
        {"name": "per_page", "in": "query", "schema": {"type": "integer"}},
    ]
    found: dict[str, Any] = {}
    for base, params in (
        ("/api/0/projects/{organization_slug}/{project_slug}", _PROJECT_PARAMS),
        ("/api/0/organizations/{organization_slug}", [_PROJECT_PARAMS[0]]),
    ):
        files = f"{base}/releases/{{version}}/files/"
        found[files] = {
            "get": {
                "summary": "The release's files, newest first (Link header for more)",
                "parameters": [*params, version, *paging],
                "responses": {
                    "200": _ok({"type": "array", "items": release_file}),
                    **_error_responses(400, 401, 403, 404),
                },
            },
            "post": {
                "summary": "Upload one file of the release (write scope)",
                "parameters": [*params, version],
                "requestBody": {
                    "required": True,
                    "content": {"multipart/form-data": {"schema": upload}},
                },
                "responses": {
                    "201": _ok(release_file, "Created"),
                    **_error_responses(400, 401, 403, 404, 409, 413),
                },
            },
        }
        found[files + "{file_id}/"] = {
            "get": {
                "summary": "One file of the release (?download=1: its contents)",
                "parameters": [
                    *params,
                    version,
                    file_id,
                    {"name": "download", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {"200": _ok(release_file), **_error_responses(400, 401, 403, 404)},
            },
            "delete": {
                "summary": "Delete one file of the release (write scope)",
                "parameters": [*params, version, file_id],
                "responses": {
                    "204": {"description": "Deleted"},
                    **_error_responses(400, 401, 403, 404),
                },
            },
        }
        found[f"{base}/files/source-maps/"] = {
            "delete": {
                "summary": "Delete every file of the release named by ?name= (write scope)",
                "parameters": [
                    *params,
                    {"name": "name", "in": "query", "required": True, "schema": {"type": "string"}},
                ],
                "responses": {
                    "204": {"description": "Deleted"},
                    **_error_responses(400, 401, 403, 404),
                },
            }
        }
    return found


def _issue_work_paths() -> dict[str, Any]:
    """Comments and the activity log of an issue (Sentry's shapes)."""
    entry = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "type": {"type": "string", "description": "note, set_resolved, set_regression, ..."},
            "data": {"type": "object"},
            "dateCreated": {"type": "string", "format": "date-time"},
            "user": {"type": ["object", "null"]},
        },
    }
    entries = {"type": "array", "items": entry}
    comment = {
        "type": "object",
        "required": ["text"],
        "properties": {"text": {"type": "string", "maxLength": 10000}},
    }
    return {
        "/api/0/issues/{issue_id}/comments/": {
            "get": {
                "summary": "The issue's comments, newest first",
                "parameters": _ISSUE_PARAM,
                "responses": {
                    "200": _ok({"type": "array", "items": entry}),
                    **_error_responses(401, 403, 404),
                },
            },
            "post": {
                "summary": "Comment on the issue (plain text)",
                "parameters": _ISSUE_PARAM,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": comment}},
                },
                "responses": {
                    "201": _ok(entry, "Created"),
                    **_error_responses(400, 401, 403, 404),
                },
            },
        },
        "/api/0/issues/{issue_id}/activities/": {
            "get": {
                "summary": "The issue's log: status changes, regressions, assignments, comments",
                "parameters": _ISSUE_PARAM,
                "responses": {
                    "200": _ok({"type": "object", "properties": {"activity": entries}}),
                    **_error_responses(401, 403, 404),
                },
            },
        },
    }


def openapi_schema(base_url: str) -> dict[str, Any]:
    issue = {"$ref": "#/components/schemas/Issue"}
    event = {"$ref": "#/components/schemas/Event"}
    issue_put = {
        "summary": "Change an issue's status and/or assignee",
        "parameters": _ISSUE_PARAM,
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "assignedTo": {
                                "type": ["string", "null"],
                                "description": '"user:<id>", "team:<id>", an email, or null',
                            },
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
    }
    project = {"$ref": "#/components/schemas/ProjectDetail"}
    key = {"$ref": "#/components/schemas/ProjectKey"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Heliograph API", "version": "0"},
        "servers": [{"url": base_url}],
        "security": [{"bearer": []}],
        "paths": {
            "/api/0/": {
                "get": {
                    "summary": "Who the token belongs to, and which Heliograph this is",
                    "description": "Sentry's API root (sentry-cli info reads it): auth and "
                    "user are null without a valid token.",
                    "security": [{}, {"bearer": []}],
                    "responses": {"200": _ok({"$ref": "#/components/schemas/ApiRoot"})},
                }
            },
            "/api/0/projects/": {
                "get": {
                    "summary": "Projects you can see",
                    "responses": {
                        "200": _ok(
                            {"type": "array", "items": {"$ref": "#/components/schemas/Project"}}
                        ),
                        **_error_responses(401, 403),
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
                        **_error_responses(400, 401, 403, 404),
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
                    "responses": {"200": _ok(event), **_error_responses(401, 403, 404)},
                }
            },
            "/api/0/issues/{issue_id}/": {
                "get": {
                    "summary": "Issue detail with its tag breakdown",
                    "parameters": _ISSUE_PARAM,
                    "responses": {"200": _ok(issue), **_error_responses(401, 403, 404)},
                },
                "put": issue_put,
            },
            "/api/0/issues/{issue_id}/events/": {
                "get": {
                    "summary": "An issue's events, newest first",
                    "parameters": [
                        *_ISSUE_PARAM,
                        *_PAGING,
                        {
                            "name": "query",
                            "in": "query",
                            "schema": {"type": "string"},
                            "description": "level:error environment:x release:y tag:value "
                            "user.email:a@b.c timestamp:-24h text (docs/ui.md, Search)",
                        },
                        {"name": "full", "in": "query", "schema": {"type": "boolean"}},
                    ],
                    "responses": {
                        "200": _ok({"type": "array", "items": event}),
                        **_error_responses(400, 401, 403, 404),
                    },
                }
            },
            "/api/0/projects/{organization_slug}/{project_slug}/events/{event_id}/ai-fix/": {
                "get": {
                    "summary": "A suggested fix for an error event (see docs/ai-fixes.md)",
                    "parameters": [
                        *_PROJECT_PARAMS,
                        {
                            "name": "event_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                        *[
                            {"name": flag, "in": "query", "schema": {"type": "string"}}
                            for flag in ("consent", "pii_certified", "refresh", "stream")
                        ],
                    ],
                    "responses": {
                        "200": _ok({"type": "object"}),
                        **_error_responses(400, 401, 403, 404),
                    },
                }
            },
            "/api/0/projects/{organization_slug}/{project_slug}/": {
                "get": {
                    "summary": "A project and its settings",
                    "parameters": _PROJECT_PARAMS,
                    "responses": {"200": _ok(project), **_error_responses(401, 403, 404)},
                },
                "put": {
                    "summary": "Change a project's settings (admin scope; owner or admin)",
                    "parameters": _PROJECT_PARAMS,
                    "requestBody": _PROJECT_BODY,
                    "responses": {"200": _ok(project), **_error_responses(400, 401, 403, 404)},
                },
                "delete": {
                    "summary": "Delete a project: keys revoked, hidden at once, data removed by "
                    "the next retention pass (admin scope; owner or admin)",
                    "parameters": _PROJECT_PARAMS,
                    "responses": {
                        "204": {"description": "Deleted"},
                        **_error_responses(400, 401, 403, 404),
                    },
                },
            },
            "/api/0/projects/{organization_slug}/{project_slug}/keys/": {
                "get": {
                    "summary": "A project's ingest keys (DSNs), revoked ones included",
                    "parameters": _PROJECT_PARAMS,
                    "responses": {
                        "200": _ok({"type": "array", "items": key}),
                        **_error_responses(401, 403, 404),
                    },
                },
                "post": {
                    "summary": "Create an ingest key (admin scope; owner or admin)",
                    "parameters": _PROJECT_PARAMS,
                    "requestBody": _KEY_BODY,
                    "responses": {
                        "201": _ok(key, "Created"),
                        **_error_responses(400, 401, 403, 404),
                    },
                },
            },
            "/api/0/projects/{organization_slug}/{project_slug}/keys/{key_id}/": {
                "get": {
                    "summary": "One ingest key",
                    "parameters": [*_PROJECT_PARAMS, *_KEY_PARAM],
                    "responses": {"200": _ok(key), **_error_responses(401, 403, 404)},
                },
                "put": {
                    "summary": "Rename a key or change its rate limit (admin scope)",
                    "parameters": [*_PROJECT_PARAMS, *_KEY_PARAM],
                    "requestBody": _KEY_BODY,
                    "responses": {"200": _ok(key), **_error_responses(400, 401, 403, 404)},
                },
                "delete": {
                    "summary": "Revoke a key for good (admin scope)",
                    "parameters": [*_PROJECT_PARAMS, *_KEY_PARAM],
                    "responses": {
                        "204": {"description": "Revoked"},
                        **_error_responses(401, 403, 404),
                    },
                },
            },
            "/api/0/organizations/{organization_slug}/issues/{issue_id}/": {
                "get": {
                    "summary": "Issue detail (alias scoped to the issue's organization)",
                    "parameters": [_PROJECT_PARAMS[0], *_ISSUE_PARAM],
                    "responses": {"200": _ok(issue), **_error_responses(401, 403, 404)},
                },
                "put": {**issue_put, "parameters": [_PROJECT_PARAMS[0], *_ISSUE_PARAM]},
            },
            "/api/0/issues/{issue_id}/events/latest/": {
                "get": {
                    "summary": "An issue's latest event",
                    "parameters": _ISSUE_PARAM,
                    "responses": {"200": _ok(event), **_error_responses(401, 403, 404)},
                }
            },
            **_flag_paths(),
            **prompt_paths(),
            **_replay_paths(),
            **llm_paths(),
            **score_paths(),
            **dataset_paths(),
            **evaluator_paths(),
            **_alert_paths(),
            **_issue_work_paths(),
            **_organization_paths(),
            **_sourcemap_paths(),
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                # The SDK prompt fetch: project key as user, API token as password.
                "basic": {"type": "http", "scheme": "basic"},
            },
            "schemas": {
                "ApiRoot": {
                    "type": "object",
                    "required": ["version", "auth", "user", "heliograph"],
                    "properties": {
                        "version": {"type": "string", "description": 'The API\'s, "0"'},
                        "auth": {
                            "type": ["object", "null"],
                            "properties": {
                                "scopes": {"type": "array", "items": {"type": "string"}}
                            },
                        },
                        "user": {
                            "type": ["object", "null"],
                            "properties": {
                                "id": {"type": "string"},
                                "email": {"type": "string"},
                                "username": {"type": "string"},
                                "name": {"type": "string"},
                            },
                        },
                        "heliograph": {
                            "type": "object",
                            "required": ["version"],
                            "properties": {
                                "version": {
                                    "type": "string",
                                    "description": "This server's Heliograph release",
                                }
                            },
                        },
                    },
                },
                "Error": {
                    "type": "object",
                    "required": ["detail"],
                    "properties": {"detail": {"type": "string"}},
                },
                "FeatureFlag": {
                    "type": "object",
                    "required": ["id", "key", "name", "filters", "active", "version"],
                    "properties": {
                        "id": {"type": "integer"},
                        "key": {"type": "string"},
                        "name": {"type": "string"},
                        "filters": {"type": "object"},
                        "active": {"type": "boolean"},
                        "environments": {"type": "object"},
                        "version": {"type": "integer"},
                    },
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
                "ProjectDetail": {
                    "type": "object",
                    "required": ["id", "slug", "name", "retentionDays", "aiPolicy"],
                    "properties": {
                        "id": {"type": "string"},
                        "slug": {"type": "string"},
                        "name": {"type": "string"},
                        "platform": {"type": "string"},
                        "organization": {"type": "object"},
                        "retentionDays": {"type": "integer"},
                        "keepLlmPayloads": {"type": "boolean"},
                        "payloadMaxChars": {"type": "integer"},
                        "aiPolicy": {"type": "string"},
                        "rateLimit": {"type": ["integer", "null"]},
                        "effectiveRateLimit": {"type": "integer"},
                        "sensitiveFields": {"type": "array", "items": {"type": "string"}},
                        "safeFields": {"type": "array", "items": {"type": "string"}},
                        "replayEnabled": {"type": "boolean"},
                        "replaySamplePercent": {"type": "integer", "minimum": 0, "maximum": 100},
                        "replayMinSeconds": {"type": "integer", "minimum": 0, "maximum": 3600},
                        "replayUnmaskText": {"type": "boolean"},
                        "replayRecordMedia": {"type": "boolean"},
                        "storeIpAddresses": {"type": "boolean"},
                    },
                },
                "ProjectKey": {
                    "type": "object",
                    "required": ["id", "name", "public", "isActive", "dsn"],
                    "properties": {
                        "id": {"type": "string"},
                        "name": {"type": "string"},
                        "label": {"type": "string"},
                        "public": {"type": "string"},
                        "projectId": {"type": "integer"},
                        "isActive": {"type": "boolean"},
                        "dateCreated": {"type": "string", "format": "date-time"},
                        "dateRevoked": {"type": ["string", "null"], "format": "date-time"},
                        "dsn": {"type": "object", "properties": {"public": {"type": "string"}}},
                        "rateLimit": {"type": ["object", "null"]},
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
                        "name": {
                            "type": "string",
                            "description": "analytics events: the event's name",
                        },
                        "properties": {
                            "type": "object",
                            "description": "analytics events: their properties as stored",
                        },
                        "llm": {
                            "oneOf": [
                                {"$ref": "#/components/schemas/LlmGeneration"},
                                {"type": "null"},
                            ],
                            "description": "$ai_* events: what was read from the properties",
                        },
                    },
                },
                **LLM_SCHEMAS,
                **PROMPT_SCHEMAS,
                **SCORE_SCHEMAS,
                **DATASET_SCHEMAS,
                **EVALUATOR_SCHEMAS,
            },
        },
    }
