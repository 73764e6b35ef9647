"""Heliograph watches itself, in its own ``heliograph-internal`` project.

Every AI-fix call becomes an ``$ai_generation`` event there, appended to the
local ingest queue like any PostHog event (no network involved), so the
platform's own LLM spend shows up in its own LLM dashboard.

With ``HELIOGRAPH_SELF_MONITORING=on`` and heliograph-sdk installed, the
server's own unhandled errors are reported there too, through the SDK,
exactly as a customer's app would report them: dogfood, and a test of the
SDK against the server on every error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import orjson

from heliograph.ai.fix import GenerationRecord
from heliograph.bootstrap import ensure_internal_project
from heliograph.protocols.posthog_capture import normalize_event
from heliograph.store.contract import Store
from heliograph.store.queue import PayloadQueue


def generation_properties(record: GenerationRecord) -> dict[str, object]:
    properties: dict[str, object] = {
        "$ai_trace_id": f"ai-fix-{record.issue_key}",
        "$ai_span_name": "ai-fix",
        "$ai_provider": record.provider,
        "$ai_model": record.model,
        "$ai_base_url": record.base_url,
        "$ai_input_tokens": record.input_tokens,
        "$ai_output_tokens": record.output_tokens,
        "$ai_latency": record.latency_seconds,
        "$ai_http_status": record.http_status,
        "$ai_is_error": record.is_error,
        "issue": record.issue_key,
        "prompt_version": record.prompt_version,
    }
    if record.time_to_first_token is not None:
        properties["$ai_time_to_first_token"] = record.time_to_first_token
    if record.error:
        properties["$ai_error"] = record.error
    return properties


def generation_recorder(queue: PayloadQueue, store: Store) -> Callable[[GenerationRecord], None]:
    """A ``FixService.on_generation`` callback writing into the internal project."""

    def record(generation: GenerationRecord) -> None:
        project_id = ensure_internal_project(store).id
        event = normalize_event(
            {
                "event": "$ai_generation",
                "distinct_id": "heliograph",
                "properties": {
                    **generation_properties(generation),
                    "$process_person_profile": False,
                },
            },
            now=time.time(),
        )
        queue.append_nowait(project_id, "posthog", time.time(), orjson.dumps([event]))

    return record


logger = logging.getLogger(__name__)


def start_error_reporting(store: Store, base_url: str, version: str) -> bool:
    """Point heliograph-sdk at this server's internal project; False when unavailable."""
    try:
        import heliograph_sdk
    except ImportError:
        logger.warning(
            "HELIOGRAPH_SELF_MONITORING is on but heliograph-sdk is not installed "
            "(pip install ./sdk); the server's own errors are not reported"
        )
        return False
    project = ensure_internal_project(store)
    keys = [k for k in store.project_keys(project.id) if k.revoked_at is None]
    key = keys[0] if keys else store.create_key(project.id, "self-monitoring")
    return heliograph_sdk.init(
        key.public_key,
        host=base_url,
        environment="self-monitoring",
        release=f"heliograph@{version}",
        install_hooks=False,
    )


def report_error(exc: BaseException) -> None:
    """Send one of the server's own errors, if error reporting was started."""
    try:
        import heliograph_sdk
    except ImportError:
        return
    heliograph_sdk.capture_exception(exc)
