"""Project settings and ingest keys over the API, in Sentry's shapes.

``GET/PUT /api/0/projects/{org}/{project}/`` (settings: Sentry's field names
where Sentry has one -- ``sensitiveFields``, ``safeFields`` -- and ours
elsewhere) and ``/keys/`` (list, create) and ``/keys/{key_id}/`` (read,
update, revoke), a key's id being its public key as in Sentry. Reading
needs the ``read`` scope and any role; changing needs the ``admin`` scope and
an owner or admin role. Validation is :mod:`heliograph.project_settings`'s,
the same as the settings page's.
"""

from __future__ import annotations

import math
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from heliograph.api import common
from heliograph.api.errors import ApiError
from heliograph.bootstrap import INTERNAL_PROJECT, dsn_for
from heliograph.project_settings import SettingsError, parse_key, parse_settings
from heliograph.query.serialize import iso, project_json
from heliograph.store.base import Project, ProjectKey

# API field -> settings field.
_SETTINGS_FIELDS = {
    "name": "name",
    "retentionDays": "retention_days",
    "keepLlmPayloads": "keep_llm_payloads",
    "payloadMaxChars": "payload_max_chars",
    "aiPolicy": "ai_policy",
    "rateLimit": "rate_limit",
    "sensitiveFields": "scrub_extra_keys",
    "safeFields": "scrub_safe_fields",
    "replayEnabled": "replay_enabled",
    "replaySamplePercent": "replay_sample_percent",
    "replayMinSeconds": "replay_min_seconds",
    "replayUnmaskText": "replay_unmask_text",
    "replayRecordMedia": "replay_record_media",
    "storeIpAddresses": "store_ip_addresses",
}


def project_detail_json(project: Project, default_rate: int) -> dict[str, Any]:
    return {
        **project_json(project),
        "retentionDays": project.retention_days,
        "keepLlmPayloads": project.keep_llm_payloads,
        "payloadMaxChars": project.payload_max_chars,
        "aiPolicy": project.ai_policy,
        "rateLimit": project.rate_limit,
        "effectiveRateLimit": default_rate if project.rate_limit is None else project.rate_limit,
        "sensitiveFields": list(project.scrub_extra_keys),
        "safeFields": list(project.scrub_safe_fields),
        "replayEnabled": project.replay_enabled,
        "replaySamplePercent": project.replay_sample_percent,
        "replayMinSeconds": project.replay_min_seconds,
        "replayUnmaskText": project.replay_unmask_text,
        "replayRecordMedia": project.replay_record_media,
        "storeIpAddresses": project.store_ip_addresses,
    }


def key_json(key: ProjectKey, base_url: str) -> dict[str, Any]:
    dsn = dsn_for(base_url, key.public_key, key.project_id)
    return {
        "id": key.public_key,
        "name": key.label,
        "label": key.label,
        "public": key.public_key,
        "projectId": key.project_id,
        "isActive": key.revoked_at is None,
        "dateCreated": iso(key.created_at),
        "dateRevoked": iso(key.revoked_at),
        "dsn": {"public": dsn},
        "rateLimit": {"window": 1, "count": key.rate_limit} if key.rate_limit else None,
    }


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, "expected a JSON object")
    return body


def _key_changes(body: dict[str, Any], *, creating: bool) -> dict[str, object]:
    """Sentry's ``name`` and ``rateLimit`` (``{"count", "window"}`` or events/s) -> ours."""
    raw: dict[str, Any] = {}
    if "name" in body or "label" in body:
        raw["label"] = body.get("name", body.get("label"))
    if "rateLimit" in body:
        limit = body["rateLimit"]
        if isinstance(limit, dict):
            count, window = limit.get("count"), limit.get("window", 1)
            if count is None:
                limit = None
            elif (
                isinstance(count, int)
                and isinstance(window, int)
                and not isinstance(count, bool)
                and not isinstance(window, bool)
                and window > 0
                and count >= 0
            ):
                limit = math.ceil(count / window)
            else:
                raise ApiError(400, "rateLimit needs whole numbers count >= 0 and window > 0")
        raw["rate_limit"] = limit
    try:
        return parse_key(raw, creating=creating)
    except SettingsError as exc:
        raise ApiError(400, str(exc)) from None


async def project_detail(request: Request) -> Response:
    caller = common.principal(request)
    project, role = common.find_project(request, caller)
    runtime = common.runtime(request)
    if request.method == "DELETE":
        common.check_admin(request, caller, role)
        if project.slug == INTERNAL_PROJECT:
            raise ApiError(400, "Heliograph reports into this project: it cannot be deleted")
        runtime.store.delete_project(project.id)
        runtime.keys.changed()
        return Response(status_code=204)
    if request.method == "PUT":
        common.check_admin(request, caller, role)
        body = _object(await common.json_body(request))
        raw = {ours: body[theirs] for theirs, ours in _SETTINGS_FIELDS.items() if theirs in body}
        try:
            changes = parse_settings(raw)
        except SettingsError as exc:
            raise ApiError(400, str(exc)) from None
        runtime.store.update_project(project.id, **changes)
        runtime.keys.changed()
        project = runtime.store.get_project_by_id(project.id) or project
    return JSONResponse(project_detail_json(project, runtime.settings.project_rate_limit))


async def project_keys(request: Request) -> Response:
    caller = common.principal(request)
    project, role = common.find_project(request, caller)
    runtime = common.runtime(request)
    base_url = runtime.settings.base_url
    if request.method == "POST":
        common.check_admin(request, caller, role)
        changes = _key_changes(_object(await common.json_body(request)), creating=True)
        rate = changes.get("rate_limit")
        key = runtime.store.create_key(
            project.id, str(changes["label"]), rate if isinstance(rate, int) else None
        )
        runtime.keys.changed()
        return JSONResponse(key_json(key, base_url), status_code=201)
    keys = runtime.store.project_keys(project.id)
    return JSONResponse([key_json(key, base_url) for key in keys])


async def project_key(request: Request) -> Response:
    caller = common.principal(request)
    project, role = common.find_project(request, caller)
    runtime = common.runtime(request)
    key = runtime.store.get_key(project.id, request.path_params["key_id"])
    if key is None:
        raise ApiError(404, "key not found")
    if request.method == "GET":
        return JSONResponse(key_json(key, runtime.settings.base_url))
    common.check_admin(request, caller, role)
    if request.method == "DELETE":
        runtime.store.revoke_key(project.id, key.public_key)
        runtime.keys.changed()
        return Response(status_code=204)
    changes = _key_changes(_object(await common.json_body(request)), creating=False)
    runtime.store.update_key(project.id, key.public_key, **changes)
    runtime.keys.changed()
    updated = runtime.store.get_key(project.id, key.public_key) or key
    return JSONResponse(key_json(updated, runtime.settings.base_url))


PROJECT = "/api/0/projects/{organization_slug}/{project_slug}"

routes = [
    Route(f"{PROJECT}/", project_detail, methods=["GET", "PUT", "DELETE"]),
    Route(f"{PROJECT}/keys/", project_keys, methods=["GET", "POST"]),
    Route(f"{PROJECT}/keys/{{key_id}}/", project_key, methods=["GET", "PUT", "DELETE"]),
]
