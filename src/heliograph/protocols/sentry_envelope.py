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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from heliograph import budget
from heliograph.budget import joined
from heliograph.protocols.bodies import (
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
from heliograph.protocols.errors import BadRequest, EnvelopeParseError, PayloadTooLarge
from heliograph.protocols.json_depth import MAX_JSON_DEPTH, depth_exceeds

__all__ = [
    "ITEM_SIZE_LIMITS",
    "JSON_ITEM_TYPES",
    "MAX_ITEMS",
    "Envelope",
    "EnvelopeReader",
    "Item",
    "parse_envelope",
    "serialize_envelope",
    "validate_items",
]

# Per-item byte limits (Relay defaults). Every JSON item type has one. Types
# not listed are bounded only by the whole envelope's limit; that includes
# ``log`` / ``trace_metric`` containers, which carry many records in one item.
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
    # Not Relay's (it counts sessions instead) but ours: a JSON item is parsed
    # whole at ingest, and 100 MiB of "[{},{},...]" would be gigabytes of
    # objects. A real session update is a few hundred bytes.
    "session": MAX_EVENT_ITEM,
    "sessions": MAX_EVENT_ITEM,
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

# EnvelopeReader's states: where the next byte belongs.
_HEADER = 0  # the envelope header line
_ITEM_HEADER = 1  # an item header line (blank lines before it are skipped)
_PAYLOAD = 2  # a payload of declared length
_AFTER_PAYLOAD = 3  # the newline (or end of body) that must follow it
_LINE_PAYLOAD = 4  # a payload without length: up to the next newline


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


class EnvelopeReader:
    """Parse an envelope from its decoded bytes as they stream in, in pieces of any size.

    :func:`parse_envelope` is this reader fed everything at once. At ingest,
    the body is decoded piece by piece and fed here, so that nothing needs
    the whole decoded envelope in memory:

    * ``keep(item_type)`` says whose payloads are kept; the others are
      framed, counted and dropped (their :class:`Item` has ``b""`` as
      payload) and :attr:`complete` becomes False;
    * ``validate=True`` applies :func:`validate_items`' checks as items
      stream by, the size limits as soon as they are exceeded (so an
      oversized item is refused without decoding the rest);
    * ``on_header(headers)`` is called once the envelope header is read,
      before any item (ingest authenticates there by the ``dsn`` header);
    * ``header_limit`` bounds the envelope header line (413 past it);
    * every byte kept (line buffers, payloads) is charged to the running
      request's memory reservation (:func:`heliograph.budget.charge`).

    ``feed`` raises as soon as something is wrong; ``finish`` at the end of
    the body returns the :class:`Envelope`. With several problems, the
    first one in stream order is reported.
    """

    def __init__(
        self,
        *,
        keep: Callable[[str], bool] | None = None,
        validate: bool = False,
        on_header: Callable[[dict[str, Any]], None] | None = None,
        header_limit: int | None = None,
    ) -> None:
        self.envelope = Envelope()
        # True while every item's payload has been kept.
        self.complete = True
        # The payload bytes of all items so far, kept or not.
        self.payload_bytes = 0
        self._keep = keep
        self._checks = _ItemChecks() if validate else None
        self._on_header = on_header
        self._header_limit = header_limit
        self._state = _HEADER
        self._seen = False
        self._line: list[bytes] = []
        self._line_size = 0
        self._number = 0
        self._item = Item(headers={}, payload=b"")
        self._length: int | None = None
        self._remaining = 0
        self._payload: list[bytes] | None = None
        self._payload_size = 0

    def feed(self, data: bytes) -> None:
        end = len(data)
        if not end:
            return
        self._seen = True
        pos = 0
        while pos < end:
            state = self._state
            if state in (_HEADER, _ITEM_HEADER):
                if state == _ITEM_HEADER and not self._line_size:
                    blank = _BLANK_LINES.match(data, pos)  # always matches, maybe empty
                    pos = blank.end() if blank else pos
                    if pos >= end:
                        break
                    self._start_item()
                eol = data.find(b"\n", pos)
                stop = end if eol < 0 else eol
                self._add_line(data, pos, stop)
                if eol < 0:
                    break
                pos = eol + 1
                self._line_done()
            elif state == _PAYLOAD:
                take = min(self._remaining, end - pos)
                self._add_payload(data, pos, pos + take)
                pos += take
                self._remaining -= take
                if not self._remaining:
                    self._state = _AFTER_PAYLOAD
            elif state == _AFTER_PAYLOAD:
                if data[pos] != 0x0A:
                    raise EnvelopeParseError(
                        f"item {self._number} ({self._item.type}): payload of length "
                        f"{self._length} is followed by {data[pos : pos + 1]!r}, not a newline "
                        "(wrong length header?)"
                    )
                pos += 1
                self._item_done()
            else:  # _LINE_PAYLOAD: the payload runs to the next newline
                eol = data.find(b"\n", pos)
                stop = end if eol < 0 else eol
                self._add_payload(data, pos, stop)
                if eol < 0:
                    break
                pos = eol + 1
                self._item_done()

    def finish(self) -> Envelope:
        """The end of the body: complete what is pending, raise if it cannot be."""
        if not self._seen:
            raise EnvelopeParseError("empty envelope: missing envelope header")
        if self._state in (_HEADER, _ITEM_HEADER) and (self._line_size or self._state == _HEADER):
            self._line_done()  # a header line that ends at the end of the body
        if self._state == _PAYLOAD:
            raise EnvelopeParseError(
                f"item {self._number}: length {self._length} exceeds remaining "
                f"{self._payload_size} bytes"
            )
        if self._state in (_AFTER_PAYLOAD, _LINE_PAYLOAD):
            self._item_done()
        return self.envelope

    # -- internals ---------------------------------------------------------------------

    def _add_line(self, data: bytes, start: int, stop: int) -> None:
        size = stop - start
        limit = self._header_limit if self._state == _HEADER else None
        if limit is not None and self._line_size + size > limit:
            raise PayloadTooLarge(f"envelope header line exceeds {limit} bytes")
        if size:
            budget.charge(size)
            self._line.append(data[start:stop])
            self._line_size += size

    def _take_line(self) -> bytes:
        line = joined(self._line, self._line_size, budget.current())
        budget.discharge(self._line_size)  # let go of once parsed, below
        self._line, self._line_size = [], 0
        return line

    def _line_done(self) -> None:
        line = self._take_line()
        if self._state == _HEADER:
            self.envelope.headers = _json_object(line, "envelope header")
            self._state = _ITEM_HEADER
            if self._on_header is not None:
                self._on_header(self.envelope.headers)
            return
        number = self._number
        headers = _json_object(line, f"item {number} header")
        item_type = headers.get("type")
        if item_type is None:
            raise EnvelopeParseError(f"item {number}: item header missing 'type'")
        if not isinstance(item_type, str) or not item_type:
            raise EnvelopeParseError(f"item {number}: 'type' must be a non-empty string")
        length = _item_length(headers, number)
        self._item = Item(headers=headers, payload=b"")
        self._length = length
        keep = self._keep is None or self._keep(item_type)
        self._payload = [] if keep else None
        self.complete = self.complete and keep
        self._payload_size = 0
        if self._checks is not None:
            self._checks.start(number, item_type, length)
        if length is None:
            self._state = _LINE_PAYLOAD
        elif length:
            self._state, self._remaining = _PAYLOAD, length
        else:
            self._state = _AFTER_PAYLOAD

    def _start_item(self) -> None:
        self._number += 1
        if self._number > MAX_ITEMS:
            raise PayloadTooLarge(f"envelope has more than {MAX_ITEMS} items")

    def _add_payload(self, data: bytes, start: int, stop: int) -> None:
        size = stop - start
        if not size:
            return
        self._payload_size += size
        self.payload_bytes += size
        if self._checks is not None:
            self._checks.grow(self._number, self._item.type, self._payload_size)
        if self._payload is not None:
            budget.charge(size)
            self._payload.append(data[start:stop])

    def _item_done(self) -> None:
        item = self._item
        if self._payload is not None and self._payload:
            item.payload = joined(self._payload, self._payload_size, budget.current())
        if self._checks is not None:
            self._checks.done(self._number, item, self._payload_size)
        self.envelope.items.append(item)
        self._payload = None
        self._state = _ITEM_HEADER


def parse_envelope(data: bytes) -> Envelope:
    """Parse an uncompressed envelope; :class:`EnvelopeParseError` says what broke.

    More than :data:`MAX_ITEMS` items is :class:`PayloadTooLarge`. Nothing is
    validated beyond the framing (see :func:`validate_items`).
    """
    reader = EnvelopeReader()
    reader.feed(data)
    return reader.finish()


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


class _ItemChecks:
    """:func:`validate_items`' checks, item by item, as the items stream by.

    ``start`` when an item's header is read (its declared ``length``, if any),
    ``grow`` as its payload arrives (the size so far), ``done`` when the
    payload is complete (``payload`` may be ``b""`` when it was not kept; the
    JSON types always are).
    """

    def __init__(self) -> None:
        self._first_event: int | None = None
        self._sessions = 0
        self._attachments = 0

    def start(self, number: int, item_type: str, length: int | None) -> None:
        label = f"item {number} ({item_type})"
        limit = ITEM_SIZE_LIMITS.get(item_type)
        if limit is not None and length is not None and length > limit:
            raise PayloadTooLarge(
                f"{label}: {length} bytes exceeds the {limit}-byte limit for {item_type} items"
            )
        if item_type in _EVENT_TYPES:
            if self._first_event is not None:
                raise BadRequest(
                    f"{label}: only one event or transaction item is allowed per envelope "
                    f"(item {self._first_event} is one already)"
                )
            self._first_event = number
        if item_type == "session":
            self._sessions += 1
            if self._sessions > MAX_SESSIONS:
                raise PayloadTooLarge(
                    f"{label}: more than {MAX_SESSIONS} session items in one envelope"
                )

    def grow(self, number: int, item_type: str, size: int) -> None:
        limit = ITEM_SIZE_LIMITS.get(item_type)
        if limit is not None and size > limit:
            raise PayloadTooLarge(
                f"item {number} ({item_type}): more than {limit} bytes, over the "
                f"{limit}-byte limit for {item_type} items"
            )
        if item_type == "attachment":
            self._check_attachments(number, self._attachments + size)

    def done(self, number: int, item: Item, size: int) -> None:
        """The item is complete (its size was checked by ``start`` or ``grow``)."""
        item_type = item.type
        label = f"item {number} ({item_type})"
        if item_type in JSON_ITEM_TYPES:
            value = _check_json(item, label)
            aggregates = value.get("aggregates")
            buckets = len(aggregates) if isinstance(aggregates, list) else 0
            if item_type == "sessions" and buckets > MAX_SESSION_BUCKETS:
                raise PayloadTooLarge(
                    f"{label}: {buckets} session buckets exceed the limit of {MAX_SESSION_BUCKETS}"
                )
        if item_type == "attachment":
            self._attachments += size
            self._check_attachments(number, self._attachments)

    def _check_attachments(self, number: int, total: int) -> None:
        if total > MAX_ATTACHMENTS:
            raise PayloadTooLarge(
                f"item {number} (attachment): attachments total {total} bytes, over the "
                f"{MAX_ATTACHMENTS}-byte limit per envelope"
            )


def validate_items(envelope: Envelope) -> None:
    """Ingest-time checks that are cheap and must be answered to the SDK.

    * at most one ``event`` or ``transaction`` item (Relay: "duplicate event
      item") -> 400;
    * per-item byte limits (:data:`ITEM_SIZE_LIMITS`) -> 413 naming the type;
    * JSON item types must hold one JSON object -> 400;
    * at most :data:`MAX_SESSIONS` ``session`` items and
      :data:`MAX_SESSION_BUCKETS` aggregates per ``sessions`` item -> 413;
    * attachments together at most :data:`MAX_ATTACHMENTS` bytes -> 413.

    Unknown item types pass untouched. :class:`EnvelopeReader` applies the
    same checks while the envelope streams in (``validate=True``).
    """
    checks = _ItemChecks()
    for number, item in enumerate(envelope.items, start=1):
        checks.start(number, item.type, len(item.payload))
        checks.done(number, item, len(item.payload))
