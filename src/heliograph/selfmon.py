"""Heliograph watches itself, in its own ``heliograph-internal`` project.

Every AI-fix call and every evaluator's judge call becomes an ``$ai_generation``
event there, appended to the local ingest queue like any PostHog event (no
network involved), so the platform's own LLM spend shows up in its own LLM
dashboard.

With ``HELIOGRAPH_SELF_MONITORING=on`` and heliograph-sdk installed, the
errors every process of the server logs (the acceptors' unhandled 500s,
digest, retention, alert delivery) are reported there too, through the SDK,
exactly as a customer's app would report them: dogfood, and a test of the
SDK against the server on every error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import orjson

from heliograph.ai.fix import GenerationRecord
from heliograph.bootstrap import ensure_internal_key, ensure_internal_project
from heliograph.evals.definition import Evaluator
from heliograph.evals.engine import JudgeReply
from heliograph.llm_vocabulary import (
    AI_BASE_URL,
    AI_ERROR,
    AI_GENERATION,
    AI_HTTP_STATUS,
    AI_INPUT_TOKEN_PRICE,
    AI_INPUT_TOKENS,
    AI_IS_ERROR,
    AI_LATENCY,
    AI_MODEL,
    AI_OUTPUT_TOKEN_PRICE,
    AI_OUTPUT_TOKENS,
    AI_PROVIDER,
    AI_SPAN_NAME,
    AI_TIME_TO_FIRST_TOKEN,
    AI_TRACE_ID,
)
from heliograph.protocols.posthog_capture import normalize_event
from heliograph.selfmon_forward import install_forwarder, remove_forwarder
from heliograph.store.contract import Store
from heliograph.store.queue import PayloadQueue


def generation_properties(record: GenerationRecord) -> dict[str, object]:
    properties: dict[str, object] = {
        AI_TRACE_ID: f"ai-fix-{record.issue_key}",
        AI_SPAN_NAME: "ai-fix",
        AI_PROVIDER: record.provider,
        AI_MODEL: record.model,
        AI_BASE_URL: record.base_url,
        AI_INPUT_TOKENS: record.input_tokens,
        AI_OUTPUT_TOKENS: record.output_tokens,
        AI_LATENCY: record.latency_seconds,
        AI_HTTP_STATUS: record.http_status,
        AI_IS_ERROR: record.is_error,
        "issue": record.issue_key,
        "prompt_version": record.prompt_version,
    }
    if record.time_to_first_token is not None:
        properties[AI_TIME_TO_FIRST_TOKEN] = record.time_to_first_token
    if record.error:
        properties[AI_ERROR] = record.error
    return properties


def generation_recorder(queue: PayloadQueue, store: Store) -> Callable[[GenerationRecord], None]:
    """A ``FixService.on_generation`` callback writing into the internal project."""

    def record(generation: GenerationRecord) -> None:
        append_internal_generation(queue, store, generation_properties(generation))

    return record


def append_internal_generation(
    queue: PayloadQueue, store: Store, properties: dict[str, object]
) -> None:
    """Queue one ``$ai_generation`` of Heliograph's own in the internal project.

    Through the local queue like any PostHog event, without waiting for its
    commit: these records are best-effort, and no network is involved.
    """
    project_id = ensure_internal_project(store).id
    event = normalize_event(
        {
            "event": AI_GENERATION,
            "distinct_id": "heliograph",
            "properties": {**properties, "$process_person_profile": False},
        },
        now=time.time(),
    )
    queue.append_nowait(project_id, "posthog", time.time(), orjson.dumps([event]))


def judge_properties(
    evaluator: Evaluator, project_id: int, event_id: str, reply: JudgeReply
) -> dict[str, object]:
    """An evaluator's judge call as ``$ai_generation`` properties: the evaluator and the
    generation it judged are named, never the judged text."""
    properties: dict[str, object] = {
        AI_TRACE_ID: f"evaluator-{evaluator.id}-{event_id}",
        AI_SPAN_NAME: "evaluator",
        AI_PROVIDER: reply.provider,
        AI_MODEL: reply.model,
        AI_BASE_URL: reply.base_url,
        AI_INPUT_TOKENS: reply.input_tokens,
        AI_OUTPUT_TOKENS: reply.output_tokens,
        AI_LATENCY: reply.latency_s,
        AI_IS_ERROR: reply.error is not None,
        "evaluator": evaluator.name,
        "evaluator_id": evaluator.id,
        "evaluated_project_id": project_id,
        "evaluated_event_id": event_id,
    }
    for key, name in (
        ("input_token_price", AI_INPUT_TOKEN_PRICE),
        ("output_token_price", AI_OUTPUT_TOKEN_PRICE),
    ):
        if key in evaluator.config:
            properties[name] = evaluator.config[key]
    if reply.http_status is not None:
        properties[AI_HTTP_STATUS] = reply.http_status
    if reply.error:
        properties[AI_ERROR] = reply.error
    return properties


def judge_recorder(
    queue: PayloadQueue, store: Store
) -> Callable[[Evaluator, int, str, JudgeReply], None]:
    """What the evaluation job calls after each judge call: an ``$ai_generation`` in the
    internal project, through the local queue."""

    def record(evaluator: Evaluator, project_id: int, event_id: str, reply: JudgeReply) -> None:
        append_internal_generation(
            queue, store, judge_properties(evaluator, project_id, event_id, reply)
        )

    return record


logger = logging.getLogger(__name__)


def start_error_reporting(store: Store, base_url: str, version: str) -> bool:
    """Point heliograph-sdk at this server's internal project, and send this
    process's logged errors there (:mod:`heliograph.selfmon_forward`).

    Every process of a node calls it: the acceptors, and the digest processes
    (their retention and alert-delivery threads too). False when the SDK is
    not installed or the key cannot be read; the process runs on without.
    """
    try:
        import heliograph_sdk
    except ImportError:
        logger.warning(
            "HELIOGRAPH_SELF_MONITORING is on but heliograph-sdk is not installed "
            "(pip install ./sdk); the server's own errors are not reported"
        )
        return False
    try:
        key = ensure_internal_key(store)
    except Exception:
        # Another process made the project or key at the same moment: read it again.
        try:
            key = ensure_internal_key(store)
        except Exception:
            logger.exception("self-monitoring is off in this process: no internal project key")
            return False
    started = heliograph_sdk.init(
        key.public_key,
        host=base_url,
        environment="self-monitoring",
        release=f"heliograph@{version}",
        install_hooks=False,
    )
    if started:
        install_forwarder(heliograph_sdk)
    return started


def stop_error_reporting(timeout: float = 2.0) -> None:
    """Stop forwarding logged errors and flush the SDK (tests; ``atexit`` does it otherwise)."""
    remove_forwarder()
    try:
        import heliograph_sdk
    except ImportError:
        return
    heliograph_sdk.shutdown(timeout)
