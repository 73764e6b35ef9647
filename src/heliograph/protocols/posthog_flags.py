"""PostHog's feature-flag and remote-config wire formats: requests read, answers written.

What the SDKs send to ``/flags`` and ``/decide`` (who is asking, with which
person properties), the answer in each client's dialect, and the definitions
served for local evaluation. The values themselves come from
:mod:`heliograph.flags.evaluation`. See ``docs/flags.md`` and
``docs/protocols.md``, "Flags, decide and remote config".
"""

from __future__ import annotations

import uuid as _uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from heliograph.flags.definition import FeatureFlag
from heliograph.flags.evaluation import FlagValue, evaluate, payload_for
from heliograph.protocols.errors import BadRequest

__all__ = [
    "FlagsQuery",
    "evaluate_flags",
    "flag_definitions_response",
    "flags_response",
    "parse_flags_query",
    "remote_config",
    "remote_config_js",
]

_MAX_ID_CHARS = 400


@dataclass(frozen=True, slots=True)
class FlagsQuery:
    """Who asks ``/flags`` for their values, as the SDKs say it."""

    token: str
    distinct_id: str
    person_properties: dict[str, Any] = field(default_factory=dict)
    # heliograph-sdk names its environment; PostHog's SDKs may as $environment.
    environment: str | None = None
    # Only these flags (posthog's flag_keys_to_evaluate); None: all.
    only: frozenset[str] | None = None


def parse_flags_query(data: Any, query: Mapping[str, str]) -> FlagsQuery:
    """A ``/flags`` request body (already decoded JSON), or :class:`BadRequest` saying why."""
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    token = data.get("token") or data.get("api_key") or query.get("token") or ""
    if not isinstance(token, str) or not token:
        raise BadRequest("no project API key: send 'token' (or 'api_key')")
    distinct_id = data.get("distinct_id")
    if isinstance(distinct_id, int | float) and not isinstance(distinct_id, bool):
        distinct_id = str(distinct_id)
    if not isinstance(distinct_id, str) or not distinct_id:
        raise BadRequest("no distinct_id: flags are evaluated for one person")
    if len(distinct_id) > _MAX_ID_CHARS:
        raise BadRequest(f"distinct_id is over {_MAX_ID_CHARS} characters")
    properties = data.get("person_properties") or {}
    if not isinstance(properties, dict):
        raise BadRequest("person_properties must be an object")
    properties = {"distinct_id": distinct_id, **properties}
    environment = data.get("environment", properties.get("$environment"))
    only = data.get("flag_keys_to_evaluate") or data.get("flag_keys")
    if only is not None and not (isinstance(only, list) and all(isinstance(k, str) for k in only)):
        raise BadRequest("flag_keys_to_evaluate must be a list of flag keys")
    return FlagsQuery(
        token=token,
        distinct_id=distinct_id,
        person_properties=properties,
        environment=environment if isinstance(environment, str) and environment else None,
        only=frozenset(only) if only is not None else None,
    )


@dataclass(frozen=True, slots=True)
class FlagResult:
    flag: FeatureFlag
    value: FlagValue
    payload: str | None


def evaluate_flags(flags: Sequence[FeatureFlag], query: FlagsQuery) -> list[FlagResult]:
    """Every flag's value for the person asking (those asked for, when they say)."""
    results = []
    for flag in flags:
        if query.only is not None and flag.key not in query.only:
            continue
        value = evaluate(
            flag, query.distinct_id, query.person_properties, environment=query.environment
        )
        results.append(FlagResult(flag, value, payload_for(flag, value)))
    return results


def _reason(result: FlagResult, environment: str | None) -> dict[str, Any]:
    if not result.flag.is_on(environment):
        return {"code": "disabled", "description": "Flag is disabled"}
    if result.value is False:
        return {"code": "no_condition_match", "description": "No matching condition"}
    return {"code": "condition_match", "description": "Matched a condition"}


def flags_response(
    results: Sequence[FlagResult] = (),
    *,
    legacy: bool = False,
    request_id: str | None = None,
    environment: str | None = None,
    recording: dict[str, Any] | bool = False,
) -> dict[str, Any]:
    """The answer to ``POST /flags`` (``legacy=True``: ``/decide``), in every dialect.

    Current clients (``/flags?v=2``) read ``flags``: per key, ``enabled``,
    ``variant``, the reason and ``metadata.payload`` (JSON text). Older ones
    read ``featureFlags`` (values) and ``featureFlagPayloads``; both are sent.
    ``/decide`` clients also take their remote config from the answer, so
    the legacy answer carries :func:`remote_config`'s keys too.
    """
    flags = {
        r.flag.key: {
            "key": r.flag.key,
            "enabled": r.value is not False,
            "variant": r.value if isinstance(r.value, str) else None,
            "reason": _reason(r, environment),
            "metadata": {
                "id": r.flag.id,
                "version": r.flag.version,
                "payload": r.payload,
                "description": r.flag.name or None,
            },
        }
        for r in results
    }
    response: dict[str, Any] = {
        "flags": flags,
        "featureFlags": {r.flag.key: r.value for r in results},
        "featureFlagPayloads": {r.flag.key: r.payload for r in results if r.payload is not None},
        "errorsWhileComputingFlags": False,
        "quotaLimited": [],
        "requestId": request_id or str(_uuid.uuid4()),
    }
    if legacy:
        response = {**remote_config(has_flags=bool(results), recording=recording), **response}
    return response


def flag_definition(flag: FeatureFlag) -> dict[str, Any]:
    """A flag as PostHog's SDKs read it for local evaluation."""
    return {
        "id": flag.id,
        "team_id": flag.project_id,
        "name": flag.name,
        "key": flag.key,
        "filters": flag.filters,
        "deleted": False,
        "active": flag.active,
        "ensure_experience_continuity": False,
        "version": flag.version,
        "environments": flag.environments,
    }


def flag_definitions_response(flags: Sequence[FeatureFlag] = ()) -> dict[str, Any]:
    """The answer to ``GET /flags/definitions`` (and the older
    ``/api/feature_flag/local_evaluation/``): every flag, for local evaluation."""
    return {
        "flags": [flag_definition(flag) for flag in flags],
        "group_type_mapping": {},
        "cohorts": {},
    }


def remote_config(
    token: str = "",
    *,
    autocapture: bool = False,
    capture_exceptions: bool = False,
    has_flags: bool = False,
    recording: dict[str, Any] | bool = False,
) -> dict[str, Any]:
    """The posthog-js ``GET /array/{token}/config`` answer: minimal and safe.

    Session recording as the project's settings say (``recording``, from
    :func:`heliograph.replay.client_config.session_recording`); no surveys,
    heatmaps, site apps or toolbar;
    ``hasFeatureFlags`` says whether the project has flags to load (without,
    posthog-js spares the ``/flags`` round trip).
    ``autocapture_opt_out`` switches DOM autocapture off on the server side
    even when the page enabled it, unless the project allows it
    (``autocapture=True``). Exception autocapture stays whatever the page
    configured (``capture_exceptions`` turns it on from the server).
    """
    config: dict[str, Any] = {
        "supportedCompression": ["gzip", "gzip-js"],
        "autocapture_opt_out": not autocapture,
        "autocaptureExceptions": capture_exceptions,
        "errorTracking": {
            "autocaptureExceptions": capture_exceptions,
            "suppressionRules": [],
        },
        "capturePerformance": False,
        "captureDeadClicks": False,
        "heatmaps": False,
        "sessionRecording": recording,
        "surveys": False,
        "productTours": False,
        "conversations": False,
        "logs": {"captureConsoleLogs": False},
        "elementsChainAsString": True,
        "hasFeatureFlags": has_flags,
        "defaultIdentifiedOnly": True,
        "siteApps": [],
        "toolbarParams": {},
        "isAuthenticated": False,
        "config": {"enable_collect_everything": autocapture},
    }
    if token:
        config = {"token": token, **config}
    return config


def remote_config_js(
    token: str,
    *,
    autocapture: bool = False,
    capture_exceptions: bool = False,
    has_flags: bool = False,
    recording: dict[str, Any] | bool = False,
) -> str:
    """``GET /array/{token}/config.js``: the same config, registered the way posthog-js
    looks for it (``window._POSTHOG_REMOTE_CONFIG[token].config``)."""
    config = remote_config(
        token,
        autocapture=autocapture,
        capture_exceptions=capture_exceptions,
        has_flags=has_flags,
        recording=recording,
    )
    payload = orjson.dumps({"config": config, "siteApps": []}).decode()
    # Escape "<" so a token can never close the <script> element this may be inlined in.
    payload = payload.replace("<", "\\u003c")
    key = orjson.dumps(token).decode().replace("<", "\\u003c")
    return (
        "(function() {\n"
        "  window._POSTHOG_REMOTE_CONFIG = window._POSTHOG_REMOTE_CONFIG || {};\n"
        f"  window._POSTHOG_REMOTE_CONFIG[{key}] = {payload};\n"
        "})();\n"
    )
