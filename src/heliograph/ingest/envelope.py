"""Sentry envelope parsing, serialising and ingest-time validation.

The format (Sentry develop docs, "Envelopes / Serialization Format")::

    Envelope = Headers { "\\n" Item } [ "\\n" ] ;
    Item = Headers "\\n" Payload ;
    Payload = { * } ;

The rules this parser applies, quoted from that page:

* Headers are JSON objects that "must be declared in a single line; no
  newlines" and are "always followed by a newline (``\\n``) or the end of the
  file". "Empty headers ``{}`` are technically valid."
* ``length``: "The length of the payload in bytes. If no ``length`` is
  specified, the payload implicitly goes to the next newline."
* "Length-prefixed payloads must terminate with ``\\n`` or EOF. The newline is
  not considered part of the payload. Any other character, including
  whitespace, means the Envelope is malformed." -- this is what catches an
  item header whose ``length`` lies.
* "If ``length`` cannot be consumed, that is, the Envelope is EOF before the
  number of bytes has been consumed, then the Envelope is malformed."
* "Implementations must gracefully skip and retain Items of unknown type,
  along with their payload", and "unknown attributes are allowed and should
  be retained": every header key is kept as sent.
* "Envelopes should be terminated with a trailing newline. This newline is
  optional." We are laxer than "after the final newline, no whitespace is
  allowed": blank lines where an item header is expected are skipped, as the
  SDKs' own readers do.

Item numbers in error details are 1-based, in the order items appear.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from heliograph.ingest.bodies import (
    MAX_ATTACHMENT,
    MAX_ATTACHMENTS,
    MAX_CHECK_IN,
    MAX_CLIENT_REPORT,
    MAX_EVENT_ITEM,
    MAX_PROFILE,
    MAX_REPLAY_RECORDING,
    MAX_SESSION_BUCKETS,
    MAX_SESSIONS,
)
from heliograph.ingest.errors import BadRequest, EnvelopeParseError, PayloadTooLarge
from heliograph.ingest.json_depth import MAX_JSON_DEPTH, depth_exceeds

__all__ = [
    "ITEM_SIZE_LIMITS",
    "JSON_ITEM_TYPES",
    "MAX_ITEMS",
    "Envelope",
    "Item",
    "parse_envelope",
    "serialize_envelope",
    "validate_items",
]

# Per-item byte limits (Relay defaults). Types not listed are bounded only by
# the whole envelope's limit; that includes ``log`` / ``trace_metric``
# containers, which carry many records in one item.
ITEM_SIZE_LIMITS: dict[str, int] = {
    "event": MAX_EVENT_ITEM,
    "transaction": MAX_EVENT_ITEM,
    "span": MAX_EVENT_ITEM,
    "feedback": MAX_EVENT_ITEM,
    "user_report": MAX_EVENT_ITEM,
    "replay_event": MAX_EVENT_ITEM,
    "statsd": MAX_EVENT_ITEM,
    "metric_buckets": MAX_EVENT_ITEM,
    "check_in": MAX_CHECK_IN,
    "client_report": MAX_CLIENT_REPORT,
    "attachment": MAX_ATTACHMENT,
    "profile": MAX_PROFILE,
    "profile_chunk": MAX_PROFILE,
    "replay_recording": MAX_REPLAY_RECORDING,
}

# Item types whose payload must be one JSON object; checked at ingest so that
# a broken event is refused with a 400 the SDK can see, not lost in digest.
JSON_ITEM_TYPES = frozenset(
    {
        "event",
        "transaction",
        "feedback",
        "user_report",
        "check_in",
        "session",
        "sessions",
        "client_report",
    }
)

# Not a Relay limit but ours: real SDKs send a handful of items (at most 100
# sessions), while 100 MiB of tiny items would cost gigabytes as objects.
MAX_ITEMS = 1000

_EVENT_TYPES = ("event", "transaction")
_BLANK_LINES = re.compile(rb"\n*")


@dataclass(slots=True)
class Item:
    """One envelope item: its header object (all keys kept) and raw payload."""

    headers: dict[str, Any]
    payload: bytes

    @property
    def type(self) -> str:
        """The ``type`` header ("" if a hand-built item has none)."""
        value = self.headers.get("type")
        return value if isinstance(value, str) else ""


@dataclass(slots=True)
class Envelope:
    """A parsed envelope: the envelope header object and the items in order."""

    headers: dict[str, Any] = field(default_factory=dict)
    items: list[Item] = field(default_factory=list)


def _json_object(line: bytes, what: str) -> dict[str, Any]:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise EnvelopeParseError(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise EnvelopeParseError(f"{what} is not a JSON object")
    if depth_exceeds(value):
        raise EnvelopeParseError(f"{what} is nested deeper than {MAX_JSON_DEPTH} levels")
    return value


def _item_length(headers: dict[str, Any], number: int) -> int | None:
    length = headers.get("length")
    if length is None:
        return None
    # bool is an int in Python; ``"length": true`` is junk, not 1.
    if not isinstance(length, int) or isinstance(length, bool) or length < 0:
        raise EnvelopeParseError(
            f"item {number}: length must be a non-negative integer, got {length!r:.40}"
        )
    return length


def parse_envelope(data: bytes) -> Envelope:
    """Parse an uncompressed envelope; :class:`EnvelopeParseError` says what broke.

    More than :data:`MAX_ITEMS` items is :class:`PayloadTooLarge`.
    """
    if not data:
        raise EnvelopeParseError("empty envelope: missing envelope header")
    end = len(data)
    eol = data.find(b"\n")
    header_end = end if eol < 0 else eol
    envelope = Envelope(headers=_json_object(data[:header_end], "envelope header"))
    pos = header_end + 1
    number = 0
    while True:
        blank = _BLANK_LINES.match(data, pos)  # always matches, maybe empty
        pos = blank.end() if blank else pos
        if pos >= end:
            break
        number += 1
        if number > MAX_ITEMS:
            raise PayloadTooLarge(f"envelope has more than {MAX_ITEMS} items")
        eol = data.find(b"\n", pos)
        line_end = end if eol < 0 else eol
        headers = _json_object(data[pos:line_end], f"item {number} header")
        item_type = headers.get("type")
        if item_type is None:
            raise EnvelopeParseError(f"item {number}: item header missing 'type'")
        if not isinstance(item_type, str) or not item_type:
            raise EnvelopeParseError(f"item {number}: 'type' must be a non-empty string")
        length = _item_length(headers, number)
        pos = min(line_end + 1, end)
        if length is None:
            eol = data.find(b"\n", pos)
            payload_end = end if eol < 0 else eol
            payload = data[pos:payload_end]
            pos = payload_end + 1
        else:
            remaining = end - pos
            if length > remaining:
                raise EnvelopeParseError(
                    f"item {number}: length {length} exceeds remaining {remaining} bytes"
                )
            payload = data[pos : pos + length]
            pos += length
            if pos < end:
                if data[pos] != 0x0A:
                    raise EnvelopeParseError(
                        f"item {number} ({item_type}): payload of length {length} is followed "
                        f"by {data[pos : pos + 1]!r}, not a newline (wrong length header?)"
                    )
                pos += 1
        envelope.items.append(Item(headers=headers, payload=payload))
    return envelope


def serialize_envelope(envelope: Envelope) -> bytes:
    """Write an envelope back out; every item gets an exact ``length`` header.

    Explicit lengths make the output safe for any payload (including ones
    with newlines) and match what the SDKs send. Other headers are kept.
    """
    parts = [orjson.dumps(envelope.headers), b"\n"]
    for item in envelope.items:
        headers = {**item.headers, "length": len(item.payload)}
        parts += [orjson.dumps(headers), b"\n", item.payload, b"\n"]
    return b"".join(parts)


def _check_json(item: Item, label: str) -> Any:
    try:
        value = orjson.loads(item.payload)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"{label}: invalid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise BadRequest(f"{label}: payload must be a JSON object, not {type(value).__name__}")
    if depth_exceeds(value):
        raise BadRequest(f"{label}: JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return value


def validate_items(envelope: Envelope) -> None:
    """Ingest-time checks that are cheap and must be answered to the SDK.

    * at most one ``event`` or ``transaction`` item (Relay: "duplicate event
      item") -> 400;
    * per-item byte limits (:data:`ITEM_SIZE_LIMITS`) -> 413 naming the type;
    * JSON item types must hold one JSON object, nested at most
      :data:`~heliograph.ingest.json_depth.MAX_JSON_DEPTH` levels -> 400;
    * at most :data:`MAX_SESSIONS` ``session`` items and
      :data:`MAX_SESSION_BUCKETS` aggregates per ``sessions`` item -> 413;
    * attachments together at most :data:`MAX_ATTACHMENTS` bytes -> 413.

    Unknown item types pass untouched.
    """
    first_event: int | None = None
    sessions = 0
    attachments = 0
    for number, item in enumerate(envelope.items, start=1):
        item_type = item.type
        label = f"item {number} ({item_type})"
        limit = ITEM_SIZE_LIMITS.get(item_type)
        if limit is not None and len(item.payload) > limit:
            raise PayloadTooLarge(
                f"{label}: {len(item.payload)} bytes exceeds the {limit}-byte limit "
                f"for {item_type} items"
            )
        if item_type in _EVENT_TYPES:
            if first_event is not None:
                raise BadRequest(
                    f"{label}: only one event or transaction item is allowed per envelope "
                    f"(item {first_event} is one already)"
                )
            first_event = number
        if item_type in JSON_ITEM_TYPES:
            value = _check_json(item, label)
            aggregates = value.get("aggregates")
            buckets = len(aggregates) if isinstance(aggregates, list) else 0
            if item_type == "sessions" and buckets > MAX_SESSION_BUCKETS:
                raise PayloadTooLarge(
                    f"{label}: {buckets} session buckets exceed the limit of {MAX_SESSION_BUCKETS}"
                )
        if item_type == "session":
            sessions += 1
            if sessions > MAX_SESSIONS:
                raise PayloadTooLarge(
                    f"{label}: more than {MAX_SESSIONS} session items in one envelope"
                )
        elif item_type == "attachment":
            attachments += len(item.payload)
            if attachments > MAX_ATTACHMENTS:
                raise PayloadTooLarge(
                    f"{label}: attachments total {attachments} bytes, over the "
                    f"{MAX_ATTACHMENTS}-byte limit per envelope"
                )
