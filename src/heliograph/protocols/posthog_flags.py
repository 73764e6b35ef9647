"""PostHog's feature-flag and remote-config answers: what every client expects back.

No flags exist here yet; these answers say so in each client's dialect, so
that posthog-js, posthog-python and the rest carry on. See
``docs/protocols.md``, "Flags, decide and remote config".
"""

from __future__ import annotations

import uuid as _uuid
from typing import Any

import orjson

__all__ = ["flag_definitions_response", "flags_response", "remote_config", "remote_config_js"]


def flags_response(*, legacy: bool = False, request_id: str | None = None) -> dict[str, Any]:
    """The "no flags" answer to ``POST /flags/?v=2`` (``legacy=True``: ``/decide/``).

    ``/flags`` clients read ``flags``; ``/decide`` clients read ``featureFlags``
    and ``featureFlagPayloads``, and older posthog-js builds also take their
    remote config from it, so the legacy answer carries :func:`remote_config`'s
    keys too.
    """
    response: dict[str, Any] = {
        "flags": {},
        "errorsWhileComputingFlags": False,
        "requestId": request_id or str(_uuid.uuid4()),
    }
    if legacy:
        response = {**remote_config(), **response, "featureFlags": {}, "featureFlagPayloads": {}}
    return response


def flag_definitions_response() -> dict[str, Any]:
    """The empty local-evaluation answer to ``GET /flags/definitions`` (and the older
    ``/api/feature_flag/local_evaluation/``)."""
    return {"flags": [], "group_type_mapping": {}, "cohorts": {}}


def remote_config(
    token: str = "",
    *,
    autocapture: bool = False,
    capture_exceptions: bool = False,
) -> dict[str, Any]:
    """The posthog-js ``GET /array/{token}/config`` answer: minimal and safe.

    No session recording, surveys, heatmaps, site apps or toolbar; no flags to
    load (``hasFeatureFlags: false`` spares the ``/flags`` round trip).
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
        "sessionRecording": False,
        "surveys": False,
        "productTours": False,
        "conversations": False,
        "logs": {"captureConsoleLogs": False},
        "elementsChainAsString": True,
        "hasFeatureFlags": False,
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
    token: str, *, autocapture: bool = False, capture_exceptions: bool = False
) -> str:
    """``GET /array/{token}/config.js``: the same config, registered the way posthog-js
    looks for it (``window._POSTHOG_REMOTE_CONFIG[token].config``)."""
    config = remote_config(token, autocapture=autocapture, capture_exceptions=capture_exceptions)
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
