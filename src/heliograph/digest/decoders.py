"""Turn a queued payload into canonical events: the one door from ingest to digest.

The digest worker calls :func:`decode_payload` and never looks at a protocol
itself: each payload kind an ingest endpoint queues has its decoder in
:data:`DECODERS`, built from the wire-format modules in
:mod:`heliograph.protocols`. Adding a protocol: ``docs/extending.md``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from heliograph.bounds import clamp_count
from heliograph.llm_messages import GenerationMessages
from heliograph.model import Event
from heliograph.protocols import (
    bodies,
    genai,
    genai_logs,
    otlp,
    otlp_logs,
    posthog_event,
    sentry_event,
)
from heliograph.protocols import sentry_envelope as envelopes
from heliograph.protocols.errors import IngestError
from heliograph.replay import recording, rrweb
from heliograph.replay.recording import RecordingPart
from heliograph.store.base import Outcome

# Sentry item types and the data category they are counted under (Relay's names).
ITEM_CATEGORIES = {
    "event": "error",
    "transaction": "transaction",
    "attachment": "attachment",
    "session": "session",
    "sessions": "session",
    "check_in": "monitor",
    "feedback": "feedback",
    "user_report": "user_report_v2",
    "replay_event": "replay",
    "replay_recording": "replay",
    "replay_video": "replay",
    "profile": "profile",
    "profile_chunk": "profile_chunk",
    "log": "log_item",
    "otel_log": "log_item",
    "span": "span",
    "otel_span": "span",
    "trace_metric": "trace_metric",
    "statsd": "metric_bucket",
    "metric_buckets": "metric_bucket",
}


# posthog-js's (and the Heliograph snippet's) recording event.
SNAPSHOT = "$snapshot"
# Sentry's recording items, decoded together into one segment.
REPLAY_ITEMS = ("replay_event", "replay_recording")


@dataclass(slots=True)
class Decoded:
    events: list[Event] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    recordings: list[RecordingPart] = field(default_factory=list)
    # Messages of generations, from OTLP logs: joined to their events by digest or the store.
    messages: list[GenerationMessages] = field(default_factory=list)


# Decodes one payload's (decompressed) body for a project, at a receive time.
Decoder = Callable[[bytes, int, float], Decoded]


def decode_payload(
    kind: str, body: bytes, *, encoding: str | None, project_id: int, received_at: float
) -> Decoded:
    """Decode one queued payload. Raises :class:`IngestError` when it is malformed.

    ``encoding`` is the request's Content-Encoding, still to be undone: ingest
    queues bodies as they arrived (after checking that they decode).
    """
    decoder = DECODERS.get(kind)
    if decoder is None:
        raise IngestError(f"unknown payload kind {kind!r}")
    if encoding:
        body = bodies.decompress(body, encoding, bodies.MAX_ENVELOPE)
    return decoder(body, project_id, received_at)


def _decode_store(body: bytes, project_id: int, received_at: float) -> Decoded:
    payload = _json_object(body)
    event = sentry_event.to_event(
        payload, project_id=project_id, event_id=None, received_at=received_at
    )
    return Decoded(events=[event])


def _otlp_decoder(content_type: str) -> Decoder:
    def decode(body: bytes, project_id: int, received_at: float) -> Decoded:
        spans = otlp.decode_traces(body, content_type)
        genai.inherit_identity(spans)
        return Decoded(
            events=[
                genai.span_to_event(span, project_id=project_id, received_at=received_at)
                for span in spans
            ]
        )

    return decode


def _otlp_logs_decoder(content_type: str) -> Decoder:
    def decode(body: bytes, project_id: int, received_at: float) -> Decoded:
        records = otlp_logs.decode_logs(body, content_type)
        found = genai_logs.messages_of(records, project_id=project_id, received_at=received_at)
        return Decoded(
            messages=found.groups,
            outcomes=[
                Outcome(project_id, "analytics", "filtered", reason, count)
                for reason, count in sorted(found.dropped.items())
            ],
        )

    return decode


def _decode_posthog_body(body: bytes, project_id: int, received_at: float) -> Decoded:
    return _decode_posthog(orjson.loads(body), project_id, received_at)


def _decode_posthog(raw_events: list[Any], project_id: int, received_at: float) -> Decoded:
    decoded = Decoded()
    counts: Counter[tuple[str, str, str]] = Counter()
    # What all the payload's recordings together may unpack to.
    budget = rrweb.UnpackBudget(rrweb.MAX_UNPACKED_BYTES)
    for raw in raw_events:
        if raw.get("event") == "$client_report":
            _sdk_drops(raw.get("properties") or {}, counts)
        elif raw.get("event") == SNAPSHOT:
            # A recording: one bad snapshot is counted and dropped, not the payload.
            try:
                decoded.recordings.append(
                    recording.from_posthog(
                        raw, project_id=project_id, received_at=received_at, budget=budget
                    )
                )
            except IngestError as exc:
                counts[("replay", "invalid", str(exc.detail)[:64])] += 1
        else:
            decoded.events.append(
                posthog_event.to_event(raw, project_id=project_id, received_at=received_at)
            )
    decoded.outcomes = _outcomes(project_id, counts)
    return decoded


def _sdk_drops(properties: dict[str, Any], counts: Counter[tuple[str, str, str]]) -> None:
    """heliograph-sdk's ``$client_report``: ``$dropped_events`` = {reason: count}."""
    dropped = properties.get("$dropped_events")
    if not isinstance(dropped, dict):
        return
    for reason, quantity in dropped.items():
        count = _quantity(quantity)
        if count:
            counts[("default", "client_discard", str(reason)[:64])] += count


def _quantity(value: Any) -> int | None:
    """A count an SDK reports: an integer (not a float or text), clamped to the stored range."""
    return clamp_count(value) if isinstance(value, int) else None


def _outcomes(project_id: int, counts: Counter[tuple[str, str, str]]) -> list[Outcome]:
    return [
        Outcome(project_id, category, outcome, reason, quantity)
        for (category, outcome, reason), quantity in counts.items()
    ]


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise IngestError(f"invalid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise IngestError("expected a JSON object")
    return value


def _decode_envelope(body: bytes, project_id: int, received_at: float) -> Decoded:
    envelope = envelopes.parse_envelope(body)
    decoded = Decoded()
    header_event_id = envelope.headers.get("event_id")
    counts: Counter[tuple[str, str, str]] = Counter()
    replay_items: dict[str, bytes] = {}
    for item in envelope.items:
        item_type = item.type
        if item_type in REPLAY_ITEMS:
            replay_items[item_type] = item.payload
        elif item_type == "event":
            payload = _json_object(item.payload)
            event = sentry_event.to_event(
                payload,
                project_id=project_id,
                event_id=header_event_id if isinstance(header_event_id, str) else None,
                received_at=received_at,
            )
            decoded.events.append(event)
        elif item_type == "client_report":
            _client_report(item.payload, counts)
        else:
            category = ITEM_CATEGORIES.get(item_type, "default")
            quantity = item.headers.get("item_count", 1)
            count = _quantity(quantity)
            counts[(category, "accepted", item_type)] += count or 1
    if replay_items:
        try:
            decoded.recordings.append(
                _sentry_replay(replay_items, header_event_id, project_id, received_at)
            )
        except IngestError as exc:
            counts[("replay", "invalid", str(exc.detail)[:64])] += 1
    decoded.outcomes = _outcomes(project_id, counts)
    return decoded


def _sentry_replay(
    items: dict[str, bytes], envelope_id: Any, project_id: int, received_at: float
) -> RecordingPart:
    meta = items.get("replay_event")
    replay_event = _json_object(meta) if meta is not None else None
    return recording.from_sentry(
        replay_event,
        items.get("replay_recording"),
        envelope_id=envelope_id if isinstance(envelope_id, str) else None,
        project_id=project_id,
        received_at=received_at,
    )


def _client_report(payload: bytes, counts: Counter[tuple[str, str, str]]) -> None:
    """Count what SDKs report they dropped on their side (``discarded_events``)."""
    try:
        report = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return
    if not isinstance(report, dict):
        return
    entries = report.get("discarded_events")
    if not isinstance(entries, list):
        return
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        quantity = entry.get("quantity")
        count = _quantity(quantity)
        if count:
            category = str(entry.get("category", "default"))[:64]
            reason = str(entry.get("reason", ""))[:64]
            counts[(category, "client_discard", reason)] += count


DECODERS: dict[str, Decoder] = {
    "sentry_envelope": _decode_envelope,
    "sentry_store": _decode_store,
    "posthog": _decode_posthog_body,
    "otlp_proto": _otlp_decoder(otlp.PROTOBUF),
    "otlp_json": _otlp_decoder(otlp.JSON),
    "otlp_logs_proto": _otlp_logs_decoder(otlp.PROTOBUF),
    "otlp_logs_json": _otlp_logs_decoder(otlp.JSON),
}
"""The decoder of each payload kind an ingest endpoint queues (one entry per adapter)."""
