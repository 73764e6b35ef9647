"""PostHog capture decoding: every body shape the official clients send.

Framework-free: the HTTP layer hands over the raw body, the query string, the
form fields (when it parsed any) and two headers, and gets back a
:class:`CaptureBatch` of normalised events, or an
:class:`~heliograph.protocols.errors.IngestError` carrying PostHog's status code:

* 400 (:class:`BadRequest`): the body does not decode or parse, an event has
  no name or no distinct id, a timestamp or uuid is malformed. One bad event
  rejects the whole batch, as PostHog does, and the detail names its index.
* 401 (:class:`AuthError`): no project token, or several tokens in one batch.
* 413 (:class:`PayloadTooLarge`): the body, or what it decompresses to, is
  larger than the route allows (:data:`BATCH_MAX_BYTES` for ``/batch/``,
  :data:`CAPTURE_MAX_BYTES` for the others, see :func:`max_bytes_for_path`).

Body shapes (``docs/protocols.md`` "PostHog capture"):

* a JSON array of events (posthog-js);
* ``{"api_key"|"token": key, "batch": [...], "sent_at": iso,
  "historical_migration": bool}`` (posthog-python, posthog-node);
* a single event carrying ``token`` / ``$token`` / ``api_key``, or
  ``properties.token``;
* any of these gzip-compressed (``compression=gzip-js`` or ``gzip``, or just
  the gzip magic bytes), LZString-compressed (``lz64`` / ``lz-string``) or
  base64-encoded, raw in the body or as a legacy ``data=`` field in the query
  string or a form-encoded body.

The feature-flag and remote-config answers the clients ask for at start-up
live at the end of this module.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import uuid as _uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl

import orjson

from heliograph import budget
from heliograph.protocols import bodies
from heliograph.protocols.errors import AuthError, BadRequest, PayloadTooLarge
from heliograph.protocols.json_depth import MAX_JSON_DEPTH, depth_exceeds

__all__ = [
    "BATCH_MAX_BYTES",
    "CAPTURE_MAX_BYTES",
    "MAX_DISTINCT_ID_CHARS",
    "CaptureBatch",
    "decode_capture",
    "lz_decompress_from_base64",
    "max_bytes_for_path",
    "normalize_event",
    "parse_time_text",
]

BATCH_MAX_BYTES = 20 * 1024 * 1024
"""Largest body, compressed or decompressed, accepted on ``/batch/`` (and the AI batch route)."""
CAPTURE_MAX_BYTES = 2 * 1024 * 1024
"""Largest body on ``/capture/``, ``/e/``, ``/i/v0/e/``, ``/track/``, ``/engage/``."""
MAX_DISTINCT_ID_CHARS = 200
"""PostHog truncates longer distinct ids to this many characters."""

_BATCH_PATHS = ("/batch", "/i/v0/ai/batch", "/s")
# A recording's DOM snapshot nests two levels per DOM level: it may go deeper than
# other properties, up to what orjson writes back out (with room for the envelope).
SNAPSHOT_MAX_DEPTH = 240
_GZIP_MAGIC = b"\x1f\x8b"
# PostHog resets timestamps more than this far in the future to "now".
_MAX_FUTURE_SECONDS = 23 * 3600
# Python datetimes, and so the ISO timestamps we queue, cover the years 1 to 9999.
_MIN_TIME = datetime(1, 1, 1, tzinfo=timezone.utc).timestamp()
_MAX_TIME = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc).timestamp()
# ISO text with a signed, five-digit or zero year: a date, but none of those years.
_FAR_YEAR = re.compile(r"[+-]\d{4,}-\d|\d{5,}-\d|0000-\d")
_GZIP_HINTS = frozenset({"gzip", "gzip-js"})
_LZ_HINTS = frozenset({"lz64", "lz-string", "lzstring"})
_BASE64_HINTS = frozenset({"base64", "b64"})


@dataclass(slots=True)
class CaptureBatch:
    """A decoded capture request: one project token and its normalised events.

    Each event is ``{"event", "distinct_id", "properties", "timestamp", "uuid"}``
    with ``timestamp`` an ISO 8601 UTC string (already corrected for client
    clock skew) and ``uuid`` a canonical UUID string.
    """

    api_key: str
    events: list[dict[str, Any]] = field(default_factory=list)
    # When the client says it sent the request (Unix seconds), if it said.
    sent_at: float | None = None
    historical_migration: bool = False


def max_bytes_for_path(path: str) -> int:
    """The body limit for a capture route: 20 MB for the batch and recording routes,
    2 MB otherwise."""
    trimmed = path.rstrip("/")
    return BATCH_MAX_BYTES if trimmed.endswith(_BATCH_PATHS) else CAPTURE_MAX_BYTES


def decode_capture(
    *,
    body: bytes,
    query: Mapping[str, str],
    content_type: str | None,
    content_encoding: str | None,
    form: Mapping[str, str] | None = None,
    max_bytes: int = CAPTURE_MAX_BYTES,
    received_at: float | None = None,
) -> CaptureBatch:
    """Decode one capture request into a :class:`CaptureBatch`.

    ``body`` is the request body as it arrived (``b""`` for GET) and
    ``content_encoding`` its header; when the HTTP layer has already undone the
    Content-Encoding, pass ``content_encoding=None``. ``form`` holds the form
    fields when the HTTP layer parsed them (a form-encoded body is parsed here
    otherwise). ``max_bytes`` bounds the body and everything decompressed from
    it (pass :func:`max_bytes_for_path`). ``received_at`` (Unix seconds,
    default now) anchors the clock-skew correction.
    """
    now = _now() if received_at is None else received_at
    if len(body) > max_bytes:
        raise PayloadTooLarge(f"body of {len(body)} bytes exceeds the {max_bytes} byte limit")
    payload = _payload_bytes(body, query, content_type, content_encoding, form, max_bytes)
    data = _parse_json(payload)
    return _batch_from_json(data, query, now)


def decode_json(
    *,
    body: bytes,
    query: Mapping[str, str],
    content_type: str | None,
    content_encoding: str | None,
    max_bytes: int = CAPTURE_MAX_BYTES,
) -> Any:
    """Any PostHog request body (``/flags`` too) as JSON: every encoding capture takes."""
    if len(body) > max_bytes:
        raise PayloadTooLarge(f"body of {len(body)} bytes exceeds the {max_bytes} byte limit")
    return _parse_json(_payload_bytes(body, query, content_type, content_encoding, None, max_bytes))


# --- Step 1: bytes on the wire -> JSON text ---------------------------------


def _payload_bytes(
    body: bytes,
    query: Mapping[str, str],
    content_type: str | None,
    content_encoding: str | None,
    form: Mapping[str, str] | None,
    max_bytes: int,
) -> bytes:
    encoding = (content_encoding or "").strip().lower()
    # Some clients name PostHog's own codings in the header: those are hints.
    header_hint = _hint(encoding) if encoding in _LZ_HINTS | _BASE64_HINTS else None
    if encoding and header_hint is None and encoding not in ("identity", "none"):
        if encoding in _GZIP_HINTS:
            encoding = "gzip"
        body = bodies.decompress(body, encoding, max_bytes)

    fields: dict[str, str] = {}
    if form:
        fields.update(form)
    elif body and _is_form(content_type, body):
        fields.update(_parse_form(body))
    hint = _hint(query.get("compression") or fields.get("compression")) or header_hint

    if "data" in fields:
        return _decode_text(fields["data"], hint, max_bytes)
    if not body and "data" in query:
        # Legacy GET: ?data=<base64 or lz64 or JSON>. The query parser already
        # turned '+' into spaces; _decode_text turns them back.
        return _decode_text(query["data"], hint, max_bytes)
    if not body:
        raise BadRequest("empty body: no events")
    if body.startswith(_GZIP_MAGIC):
        return _gunzip(body, max_bytes)
    # compression=gzip-js on a body that is not gzip: the HTTP layer may have
    # decoded it already (Content-Encoding); read it as it is.
    if hint in ("lz", "base64") and body.lstrip()[:1] not in (b"[", b"{"):
        try:
            text = body.decode("ascii")
        except UnicodeDecodeError:
            raise BadRequest(f"compression={hint} but the body is not ASCII") from None
        return _decode_text(text, hint, max_bytes)
    return body


def _is_form(content_type: str | None, body: bytes) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        return True
    # sendBeacon and old snippets post "data=...&compression=..." as text/plain.
    return body.startswith((b"data=", b"compression="))


def _parse_form(body: bytes) -> dict[str, str]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("form body is not UTF-8") from None
    return dict(parse_qsl(text, keep_blank_values=True))


def _hint(value: str | None) -> str | None:
    hint = (value or "").strip().lower()
    if hint in _GZIP_HINTS:
        return "gzip"
    if hint in _LZ_HINTS:
        return "lz"
    if hint in _BASE64_HINTS:
        return "base64"
    return None


def _decode_text(text: str, hint: str | None, max_bytes: int) -> bytes:
    """Decode a legacy ``data`` value: LZString, base64 (of JSON or gzip), or JSON."""
    stripped = text.strip()
    # Neither alphabet (base64, LZString's base64) has a bracket: this is JSON.
    if stripped[:1] in ("[", "{"):
        return stripped.encode("utf-8")
    if hint == "lz":
        return lz_decompress_from_base64(stripped, max_chars=max_bytes).encode("utf-8")
    raw = _b64decode(stripped)
    if raw.startswith(_GZIP_MAGIC):
        return _gunzip(raw, max_bytes)
    return raw


def _b64decode(text: str) -> bytes:
    # Form decoding turns an unescaped '+' into a space: turn it back.
    cleaned = text.replace(" ", "+").replace("\n", "").replace("\r", "")
    cleaned = cleaned.replace("-", "+").replace("_", "/").rstrip("=")
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("data is not valid base64") from None


def _gunzip(data: bytes, max_bytes: int) -> bytes:
    # bodies raises BadEncoding (400) on corrupt data, PayloadTooLarge past the limit.
    return bodies.decompress(data, "gzip", max_bytes)


def _parse_json(payload: bytes) -> Any:
    # Held until the request ends: the parsed events live that long.
    budget.charge(budget.parsed_cost(payload))
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        pass
    # orjson rejects lone surrogates ("\\ud83d" cut in half by a client's string
    # truncation) and NaN. The stdlib parser takes them; replace both so that
    # what we hand on serialises again.
    try:
        lenient = json.loads(
            payload.decode("utf-8", errors="replace"), parse_constant=lambda _name: None
        )
        text = json.dumps(lenient, ensure_ascii=False)
        return orjson.loads(text.encode("utf-8", errors="replace"))
    except (ValueError, RecursionError):
        raise BadRequest("body is not valid JSON") from None


# --- LZString -----------------------------------------------------------------

_LZ_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_LZ_VALUES = {char: index for index, char in enumerate(_LZ_ALPHABET)}


class _LZBits:
    """Reads LZString's bit stream: six bits per base64 character, high bit first."""

    __slots__ = ("_index", "_position", "_symbols", "_value")

    def __init__(self, symbols: list[int]) -> None:
        self._symbols = symbols
        self._value = symbols[0]
        self._position = 32
        self._index = 1

    @property
    def exhausted(self) -> bool:
        return self._index > len(self._symbols)

    def read(self, count: int) -> int:
        result = 0
        for shift in range(count):
            if self._value & self._position:
                result |= 1 << shift
            self._position >>= 1
            if self._position == 0:
                self._position = 32
                self._value = self._symbols[self._index] if self._index < len(self._symbols) else 0
                self._index += 1
        return result


def lz_decompress_from_base64(text: str, *, max_chars: int = CAPTURE_MAX_BYTES) -> str:
    """LZString ``decompressFromBase64``: the inverse of posthog-js's ``lz64`` encoding.

    The compressed stream is a sequence of dictionary codes whose width grows
    from 3 bits; code 0 introduces an 8-bit character, 1 a 16-bit one, 2 ends
    the stream. The output is UTF-16 code units, joined back into text here
    (surrogate pairs included). Raises :class:`PayloadTooLarge` past
    ``max_chars`` output characters and :class:`BadRequest` on a corrupt stream.
    """
    cleaned = text.replace(" ", "+").replace("\n", "").replace("\r", "")
    if not cleaned:
        return ""
    try:
        symbols = [_LZ_VALUES[char] for char in cleaned]
    except KeyError:
        raise BadRequest("data is not valid lz64") from None
    units = _lz_units(_LZBits(symbols), max_chars)
    # A lone surrogate (a pair cut in half by a client) becomes U+FFFD.
    return units.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _lz_units(bits: _LZBits, max_chars: int) -> str:
    dictionary: list[str] = ["", "", ""]
    enlarge_in = 4
    num_bits = 3
    first = bits.read(2)
    if first == 2:
        return ""
    if first not in (0, 1):
        raise BadRequest("lz64 data is corrupt")
    entry = chr(bits.read(8 if first == 0 else 16))
    dictionary.append(entry)
    previous = entry
    result = [entry]
    total = 1
    while True:
        if bits.exhausted:
            raise BadRequest("lz64 data is truncated")
        code = bits.read(num_bits)
        if code in (0, 1):
            dictionary.append(chr(bits.read(8 if code == 0 else 16)))
            code = len(dictionary) - 1
            enlarge_in -= 1
        elif code == 2:
            return "".join(result)
        if enlarge_in == 0:
            enlarge_in = 1 << num_bits
            num_bits += 1
        if code < len(dictionary):
            entry = dictionary[code]
        elif code == len(dictionary):
            entry = previous + previous[0]
        else:
            raise BadRequest("lz64 data is corrupt")
        total += len(entry)
        if total > max_chars:
            raise PayloadTooLarge(f"lz64 data decompresses past {max_chars} characters")
        result.append(entry)
        dictionary.append(previous + entry[0])
        enlarge_in -= 1
        previous = entry
        if enlarge_in == 0:
            enlarge_in = 1 << num_bits
            num_bits += 1


# --- Step 2: JSON -> batch ------------------------------------------------------


def _batch_from_json(data: Any, query: Mapping[str, str], now: float) -> CaptureBatch:
    batch_key: str | None = None
    historical = False
    sent_at_value: Any = None
    if isinstance(data, list):
        raw_events: list[Any] = data
    elif isinstance(data, dict) and "batch" in data:
        raw_events = data["batch"]
        if not isinstance(raw_events, list):
            raise BadRequest("'batch' must be a list of events")
        batch_key = _token(data.get("api_key")) or _token(data.get("token"))
        historical = data.get("historical_migration") is True
        sent_at_value = data.get("sent_at")
    elif isinstance(data, dict):
        raw_events = [data]
    else:
        raise BadRequest("body must be a JSON object or array of events")
    if not raw_events:
        raise BadRequest("no events in the request")
    for index, raw in enumerate(raw_events):
        if not isinstance(raw, dict):
            raise BadRequest(f"event {index}: not a JSON object")

    api_key = batch_key or _single_event_token(raw_events)
    if sent_at_value is None:
        sent_at_value = query.get("_") or query.get("sent_at")
    sent_at = _parse_time(sent_at_value, "sent_at") if sent_at_value not in (None, "") else None
    if sent_at is not None and not representable_time(sent_at):
        sent_at = None  # ignored, as PostHog does: see _event_timestamp
    # One C-speed pass over the whole batch usually shows that no event's
    # properties can be too deep ($set merged into them adds one level), so
    # the exact per-event check runs only when it might matter.
    shallow = not depth_exceeds(raw_events, MAX_JSON_DEPTH + 1)
    events = [
        normalize_event(
            raw,
            index=index,
            sent_at=sent_at,
            now=now,
            historical=historical,
            check_depth=not shallow,
        )
        for index, raw in enumerate(raw_events)
    ]
    return CaptureBatch(
        api_key=api_key, events=events, sent_at=sent_at, historical_migration=historical
    )


def _token(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _event_token(raw: Mapping[str, Any]) -> str | None:
    for key in ("api_key", "token", "$token"):
        if token := _token(raw.get(key)):
            return token
    properties = raw.get("properties")
    if isinstance(properties, dict):
        for key in ("token", "$token"):
            if token := _token(properties.get(key)):
                return token
    return None


def _single_event_token(raw_events: Iterable[Mapping[str, Any]]) -> str:
    tokens = {token for raw in raw_events if (token := _event_token(raw))}
    if not tokens:
        raise AuthError("no project token: send api_key, token or properties.token")
    if len(tokens) > 1:
        raise AuthError("events of one batch carry different project tokens")
    return tokens.pop()


def normalize_event(
    raw: Mapping[str, Any],
    *,
    index: int = 0,
    sent_at: float | None = None,
    now: float | None = None,
    historical: bool = False,
    check_depth: bool = True,
) -> dict[str, Any]:
    """One raw client event -> ``{event, distinct_id, properties, timestamp, uuid}``.

    ``check_depth=False`` when the caller knows the properties cannot nest
    deeper than :data:`MAX_JSON_DEPTH`.

    Raises :class:`BadRequest` naming ``index`` when the event has no name or
    distinct id, or a malformed timestamp or uuid.
    """
    now = _now() if now is None else now
    name = raw.get("event")
    if not isinstance(name, str) or not name:
        raise BadRequest(f"event {index}: missing event name")
    properties_value = raw.get("properties")
    if properties_value is None:
        properties: dict[str, Any] = {}
    elif isinstance(properties_value, dict):
        properties = dict(properties_value)
    else:
        raise BadRequest(f"event {index}: properties must be an object")
    for key in ("$set", "$set_once"):
        if isinstance(raw.get(key), dict) and key not in properties:
            properties[key] = raw[key]
    limit = SNAPSHOT_MAX_DEPTH if name == "$snapshot" else MAX_JSON_DEPTH
    if check_depth and depth_exceeds(properties, limit):
        # Refused here, or queuing the batch (orjson.dumps) would fail past 254 levels.
        raise BadRequest(f"event {index}: properties nested deeper than {limit} levels")

    distinct_id = _distinct_id(raw, properties)
    if distinct_id is None:
        raise BadRequest(f"event {index}: missing distinct_id")

    try:
        timestamp = _event_timestamp(raw, properties, sent_at, now, historical)
    except BadRequest as exc:
        raise BadRequest(f"event {index}: {exc.detail}") from None

    raw_uuid = raw.get("uuid")
    if raw_uuid in (None, ""):
        event_uuid = str(_uuid.uuid4())
    else:
        try:
            event_uuid = str(_uuid.UUID(raw_uuid if isinstance(raw_uuid, str) else ""))
        except ValueError:
            raise BadRequest(f"event {index}: invalid uuid {_shown(raw_uuid)}") from None

    return {
        "event": name,
        "distinct_id": distinct_id,
        "properties": properties,
        "timestamp": _iso(timestamp),
        "uuid": event_uuid,
    }


def _distinct_id(raw: Mapping[str, Any], properties: Mapping[str, Any]) -> str | None:
    for value in (
        raw.get("distinct_id"),
        raw.get("$distinct_id"),
        properties.get("distinct_id"),
        properties.get("$distinct_id"),
    ):
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, str):
            text = value.strip()
        elif isinstance(value, int | float):
            text = (
                str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
            )
        else:
            continue
        if text:
            return text[:MAX_DISTINCT_ID_CHARS]
    return None


def _event_timestamp(
    raw: Mapping[str, Any],
    properties: Mapping[str, Any],
    batch_sent_at: float | None,
    now: float,
    historical: bool,
) -> float:
    """PostHog's rule: shift the client's timestamp by the client's clock skew.

    ``timestamp - sent_at`` is how long before sending the event happened, by
    the client's clock; adding it to the server's ``now`` removes the skew.
    ``offset`` (milliseconds before sending) is the older form of the same.
    Historical migrations and ``$ignore_sent_at`` keep the timestamp as sent.
    """
    raw_timestamp = raw.get("timestamp")
    timestamp = _parse_time(raw_timestamp, "timestamp") if raw_timestamp not in (None, "") else None
    event_sent_at = raw.get("sent_at")
    sent_at = (
        _parse_time(event_sent_at, "sent_at") if event_sent_at not in (None, "") else batch_sent_at
    )
    # PostHog ignores a sent_at it cannot read and puts an event whose timestamp
    # it cannot read at the time it arrived (plugin-server parseEventTimestamp,
    # ingestion warning "ignored_invalid_timestamp"). Times outside the years
    # 1-9999 (2**63 ms, "99999-01-01") are treated so here; text that is no
    # time at all ("yesterday") is a 400, raised by _parse_time above.
    if sent_at is not None and not representable_time(sent_at):
        sent_at = None
    if timestamp is not None and not representable_time(timestamp):
        return now
    offset = raw.get("offset")
    ignore_sent_at = historical or properties.get("$ignore_sent_at") is True
    if timestamp is not None and sent_at is not None and not ignore_sent_at:
        result = now + (timestamp - sent_at)
    elif timestamp is not None:
        result = timestamp
    elif offset is not None and not isinstance(offset, bool) and isinstance(offset, int | float):
        result = now - float(offset) / 1000.0
    else:
        result = now
    if not representable_time(result) or result > now + _MAX_FUTURE_SECONDS:
        return now
    return result


def _parse_time(value: Any, what: str) -> float:
    """ISO 8601 text, or integer milliseconds since the epoch (as a number or text).

    The result may be outside the years 1-9999 (see :func:`representable_time`).
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise BadRequest(f"invalid {what} {value!r}")
        try:
            return float(value) / 1000.0
        except OverflowError:  # an integer past the float range
            return math.inf
    parsed = parse_time_text(value) if isinstance(value, str) else None
    if parsed is None:
        raise BadRequest(f"invalid {what} {_shown(value)}")
    return parsed


def _shown(value: Any) -> str:
    """A client's value in an error detail: short, and never a deep repr."""
    if isinstance(value, str):
        return repr(value[:60])
    if isinstance(value, bool | int | float):
        return repr(value)[:60]
    return f"(a {type(value).__name__})"


def parse_time_text(text: str) -> float | None:
    """Unix seconds from ISO 8601 (zone-less means UTC) or integer-millisecond text.

    None when ``text`` is neither. A time outside the years 1-9999 (a huge
    number, a signed or five-digit year) comes back as a number outside
    that range, possibly infinite: check it with :func:`representable_time`.
    """
    text = text.strip()
    digits = text[1:] if text.startswith("-") else text
    if digits.isascii() and digits.isdigit():
        return float(text) / 1000.0  # inf past the float range, never an error
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        if _FAR_YEAR.match(text):
            return -math.inf if text.startswith("-") else math.inf
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def representable_time(seconds: float) -> bool:
    """Unix ``seconds`` fall within the years 1 to 9999 (and so have an ISO form)."""
    return _MIN_TIME <= seconds <= _MAX_TIME


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat()


def _now() -> float:
    return datetime.now(tz=timezone.utc).timestamp()
