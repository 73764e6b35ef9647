"""Sentry event JSON -> canonical :class:`heliograph.model.Event`.

Accepts what sentry-sdk 2.x (Python), the JavaScript SDKs and other SDKs put
in an ``event`` envelope item, and the body of the legacy ``/store/``
endpoint (including the old ``sentry.interfaces.*`` key aliases).

Robustness: SDKs, proxies and hand-written clients send junk. Every field is
type-checked; a value of the wrong type is dropped, never coerced into
something misleading and never raised about. The only error is a payload
that is not a JSON object at all.

Decisions others rely on:

* ``exceptions`` are reversed: the Sentry docs say of ``exception.values``
  that "multiple values represent chained exceptions and should be sorted
  oldest to newest", i.e. root cause first; the canonical model wants the
  outermost (last raised) exception first. Frames keep Sentry's order
  ("ordered from caller to callee, or oldest to youngest. The last frame is
  the one creating the exception").
* ``in_app``: an explicit boolean wins. When absent, the frame is not in-app
  (the Python SDK leaves it unset for the standard library, which is right).
  But when *no* frame of the event says anything about ``in_app`` (legacy
  clients, hand-written payloads), a path heuristic decides instead --
  ``site-packages``, ``node_modules``, the Python standard library and the
  like are not in-app, everything else is -- because "nothing is in-app"
  would make every app-only view and the app grouping variant empty.
* ``timestamp`` more than 60 s after ``received_at`` (client clock ahead) is
  replaced by ``received_at`` (Relay's ``max_secs_in_future`` default); past
  timestamps are kept (no 30-day clamp: replays of old payloads keep their time).
* The client's address, when the SDK asks the server to fill it in, becomes
  :data:`AUTO_IP` in ``user.ip_address``, which digest replaces with the
  address the payload came from (:mod:`heliograph.digest.addresses`). An SDK
  asks with ``user.ip_address == "{{auto}}"`` or ``sdk.settings.infer_ip ==
  "auto"``; with no ``infer_ip`` at all, browser and Apple SDKs (``javascript``,
  ``cocoa``, ``objc``) that send no address ask too, as they did before the
  setting existed. ``infer_ip == "never"`` (the JavaScript SDK's default since
  v9, unless the app opts in with ``sendDefaultPii``) asks for nothing, and a
  ``{{auto}}`` beside it is dropped.
* ``dist`` has no field of its own and becomes the ``dist`` tag.
"""

from __future__ import annotations

import hashlib
import math
import re
import sys
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from heliograph.bounds import clamp_count
from heliograph.model import Breadcrumb, Event, Exception_, Frame, Mechanism, User
from heliograph.protocols.errors import BadRequest

__all__ = [
    "choose_event_id",
    "derive_event_id",
    "normalize_event_id",
    "parse_timestamp",
    "to_event",
]

MAX_TAG_LENGTH = 200
MAX_FUTURE_SECONDS = 60.0
MAX_DEBUG_IMAGES = 200
# What user.ip_address holds until digest fills in the sender's address.
AUTO_IP = "{{auto}}"
# SDKs that, before sdk.settings.infer_ip existed, let the server fill in the address.
_INFERRING_PLATFORMS = ("javascript", "cocoa", "objc")

_LEVELS = {
    "fatal": "fatal",
    "critical": "fatal",
    "error": "error",
    "warning": "warning",
    "warn": "warning",
    "info": "info",
    "log": "info",
    "debug": "debug",
    "trace": "debug",
}
_LEGACY_ALIASES = {
    "sentry.interfaces.Exception": "exception",
    "sentry.interfaces.Message": "logentry",
    "sentry.interfaces.Stacktrace": "stacktrace",
    "sentry.interfaces.Threads": "threads",
    "sentry.interfaces.User": "user",
    "sentry.interfaces.Http": "request",
    "sentry.interfaces.Breadcrumbs": "breadcrumbs",
}
_USER_FIELDS = ("id", "email", "username", "ip_address", "name", "data")
_NOT_IN_APP = (
    "site-packages",
    "dist-packages",
    "node_modules",
    "/lib/python",
    "\\lib\\",
    "<frozen",
    "/usr/lib/",
    "/system/library/",
)
_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX16 = re.compile(r"[0-9a-f]{16}")
_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?"
)
_PRINTF = re.compile(r"%[sdifr%]")


# -- small coercions: right type or None -----------------------------------


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    """A non-negative integer (line numbers, ids), clamped to the stored range."""
    if isinstance(value, float) and not value.is_integer():
        return None
    return clamp_count(value)


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _dict(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _str_list(value: Any) -> list[str]:
    """Context lines: non-strings become "" so that line numbers stay aligned."""
    if not isinstance(value, list):
        return []
    return [v if isinstance(v, str) else "" for v in value]


def _values(value: Any, single_key: str | None = None) -> list[dict[str, Any]]:
    """``{"values": [...]}``, a bare list, or (legacy) one object -> list of dicts."""
    if isinstance(value, dict):
        if "values" in value:
            value = value["values"]
        elif single_key is not None and single_key in value:
            value = [value]
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, dict)]


def _scalar_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return None


# -- identifiers and time ------------------------------------------------------


def normalize_event_id(value: Any) -> str | None:
    """32 lower-case hex digits (dashes, braces and case removed) or None."""
    if not isinstance(value, str):
        return None
    text = value.strip().strip("{}").replace("-", "").lower()
    return text if _HEX32.fullmatch(text) else None


# The uuid5 namespace of ids derived from ones that are not 32 hex digits.
_DERIVED_ID_NAMESPACE = uuid.UUID("5f0c2a6e-8d1b-4b7e-9a43-2c1d0e6f7b58")


def derive_event_id(value: Any) -> str | None:
    """The event id to store for a client's ``event_id``; None when it gave none.

    A uuid in any usual spelling is normalised (:func:`normalize_event_id`).
    Any other non-empty string ("hello", "../x") becomes a uuid5 of itself:
    stable, so the id ingest answers with is the id digest stores, and a
    resent payload is recognised as the same event. Ingest and digest both
    call this, so they always agree.
    """
    if not isinstance(value, str) or not value:
        return None
    normalized = normalize_event_id(value)
    if normalized is not None:
        return normalized
    # uuid.uuid5 by hand: it takes no bytes before 3.12, and a lone surrogate is no UTF-8.
    digest = hashlib.sha1(
        _DERIVED_ID_NAMESPACE.bytes + value.encode("utf-8", "surrogatepass")
    ).digest()
    return uuid.UUID(bytes=digest[:16], version=5).hex


def choose_event_id(header_id: Any, payload_id: Any) -> str | None:
    """The id of an event from its envelope header's ``event_id`` and its payload's.

    A real id (32 hex digits) wins, the header's first ("Envelope event_id
    takes precedence"); failing both, one derived from the header's, then
    the payload's. None when neither gave a string: the caller mints one.
    Ingest answers with this id and digest stores under it.
    """
    return (
        normalize_event_id(header_id)
        or normalize_event_id(payload_id)
        or derive_event_id(header_id)
        or derive_event_id(payload_id)
    )


# Python 3.11+ parses "Z" and any fraction length itself.
_FAST_ISO = sys.version_info >= (3, 11)


def parse_timestamp(value: Any) -> float | None:
    """Float Unix seconds from a number or an ISO 8601 / RFC 3339 string.

    A string without a zone is UTC (Sentry's reading). Implemented by hand
    because ``datetime.fromisoformat`` only learned ``Z`` and 7+ fractional
    digits (.NET, Go) in Python 3.11 and 3.12.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
        return number if math.isfinite(number) and number >= 0 else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if _FAST_ISO:
        # The common case (SDKs' own timestamps), parsed in C; anything it
        # rejects or reads differently (no zone) takes the careful path.
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            if moment.tzinfo is not None:
                return moment.timestamp()
    match = _ISO.fullmatch(text)
    if match is None:
        try:
            return parse_timestamp(float(text))
        except ValueError:
            return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    offset = timedelta(0)
    if zone and zone not in "Zz":
        digits = zone[1:].replace(":", "")
        sign = -1 if zone[0] == "-" else 1
        offset = sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=timezone(offset),
        )
    except ValueError:  # month 13, offset over 24 h, ...
        return None
    return moment.timestamp() + (float(f"0.{fraction}") if fraction else 0.0)


def _trace_id(value: Any) -> str | None:
    text = _str(value)
    if text is None:
        return None
    text = text.replace("-", "").lower()
    return text if _HEX32.fullmatch(text) else None


def _span_id(value: Any) -> str | None:
    text = _str(value)
    if text is None:
        return None
    text = text.lower()
    return text if _HEX16.fullmatch(text) else None


# -- interfaces ------------------------------------------------------------------


def _level(value: Any) -> str:
    if isinstance(value, str):
        return _LEVELS.get(value.strip().lower(), "error")
    number = _int(value)  # Python logging numbers, sent by old clients
    if number is None:
        return "error"
    for threshold, name in ((50, "fatal"), (40, "error"), (30, "warning"), (20, "info")):
        if number >= threshold:
            return name
    return "debug"


def _format_params(message: str, params: Any) -> str:
    """Substitute ``%s``-style placeholders only (no widths: no ``%999999999s``)."""
    if not isinstance(params, list) or not params:
        return message
    queue = [p if isinstance(p, str) else str(p) for p in params]

    def substitute(match: re.Match[str]) -> str:
        if match.group() == "%%":
            return "%"
        return queue.pop(0) if queue else match.group()

    return _PRINTF.sub(substitute, message)


def _message(payload: dict[str, Any]) -> str | None:
    for value in (payload.get("logentry"), payload.get("message")):
        if isinstance(value, str) and value:
            return value
        entry = _dict(value)
        if entry is None:
            continue
        formatted = _str(entry.get("formatted"))
        if formatted:
            return formatted
        message = _str(entry.get("message"))
        if message:
            return _format_params(message, entry.get("params"))
    return None


def _message_template(payload: dict[str, Any]) -> str | None:
    """``logentry.message`` when it is a template: it has ``params``, or a
    ``formatted`` text that differs from it (``logger.error("%s failed", x)``).

    Events of one log call then group together whatever their arguments.
    """
    for value in (payload.get("logentry"), payload.get("message")):
        entry = _dict(value)
        if entry is None:
            continue
        message = _str(entry.get("message"))
        formatted = _str(entry.get("formatted"))
        params = entry.get("params")
        has_params = bool(params) if isinstance(params, (list, dict)) else False
        if message and (has_params or (formatted and formatted != message)):
            return message
        if message or formatted:
            return None
    return None


def _frame(data: dict[str, Any], in_app: bool) -> Frame:
    vars_ = _dict(data.get("vars"))
    return Frame(
        function=_str(data.get("function")),
        module=_str(data.get("module")),
        filename=_str(data.get("filename")),
        abs_path=_str(data.get("abs_path")),
        lineno=_int(data.get("lineno")),
        colno=_int(data.get("colno")),
        in_app=in_app,
        context_line=_str(data.get("context_line")),
        pre_context=_str_list(data.get("pre_context")),
        post_context=_str_list(data.get("post_context")),
        vars=vars_,
        platform=_str(data.get("platform")),
    )


def _guess_in_app(data: dict[str, Any]) -> bool:
    path = (_str(data.get("abs_path")) or _str(data.get("filename")) or "").lower()
    if not path:
        return False
    return not any(marker in path for marker in _NOT_IN_APP)


def _raw_frames(stacktrace: Any) -> list[dict[str, Any]]:
    container = _dict(stacktrace)
    if container is None:
        return []
    frames = container.get("frames")
    return [f for f in frames if isinstance(f, dict)] if isinstance(frames, list) else []


def _mechanism(value: Any) -> Mechanism | None:
    data = _dict(value)
    if data is None:
        return None
    return Mechanism(
        type=_str(data.get("type")) or "generic",
        handled=_bool(data.get("handled")),
        synthetic=_bool(data.get("synthetic")) or False,
        exception_id=_int(data.get("exception_id")),
        parent_id=_int(data.get("parent_id")),
        is_exception_group=_bool(data.get("is_exception_group")) or False,
        source=_str(data.get("source")),
    )


def _threads(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return _values(payload.get("threads"))


def _thread_frames(threads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The crashed thread's frames, else the current thread's, else the first."""
    with_frames = [(t, _raw_frames(t.get("stacktrace"))) for t in threads]
    with_frames = [(t, frames) for t, frames in with_frames if frames]
    for flag in ("crashed", "current"):
        for thread, frames in with_frames:
            if thread.get(flag) is True:
                return frames
    return with_frames[0][1] if with_frames else []


def _tags(value: Any) -> dict[str, str]:
    pairs: list[Any]
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, list):
        pairs = [p for p in value if isinstance(p, list | tuple) and len(p) == 2]
    else:
        return {}
    tags: dict[str, str] = {}
    for raw_key, raw_value in pairs:
        key, text = _scalar_text(raw_key), _scalar_text(raw_value)
        key = key.strip()[:MAX_TAG_LENGTH] if key else None
        if key and text is not None:
            tags[key] = text[:MAX_TAG_LENGTH]
    return tags


def _infer_ip(payload: dict[str, Any], sdk: dict[str, Any]) -> bool:
    """Whether the SDK asks the server to fill in the client's address (module docstring)."""
    user = _dict(payload.get("user")) or {}
    ip_address = user.get("ip_address")
    setting = (_dict(sdk.get("settings")) or {}).get("infer_ip")
    if setting == "never":
        return False
    if ip_address == AUTO_IP or setting == "auto":
        return ip_address in (None, "", AUTO_IP)
    return setting is None and not ip_address and payload.get("platform") in _INFERRING_PLATFORMS


def _user(value: Any, *, infer_ip: bool = False) -> User | None:
    data = _dict(value) or ({} if infer_ip else None)
    if data is None:
        return None
    user_id = data.get("id")
    ip_address = AUTO_IP if infer_ip else _str(data.get("ip_address"))
    extra = {k: v for k, v in data.items() if k not in _USER_FIELDS and v is not None}
    extra.update(_dict(data.get("data")) or {})
    user = User(
        id=None if isinstance(user_id, bool) else _scalar_text(user_id),
        email=_str(data.get("email")),
        username=_str(data.get("username")),
        ip_address=None if ip_address == AUTO_IP and not infer_ip else ip_address,
        name=_str(data.get("name")),
        data=extra or None,
    )
    if not (user.id or user.email or user.username or user.ip_address or user.name or extra):
        return None
    return user


def _breadcrumb(data: dict[str, Any]) -> Breadcrumb:
    level = data.get("level")
    return Breadcrumb(
        timestamp=parse_timestamp(data.get("timestamp")),
        type=_str(data.get("type")),
        category=_str(data.get("category")),
        level=_level(level) if level is not None else None,
        message=_str(data.get("message")),
        data=_dict(data.get("data")),
    )


def _debug_images(value: Any) -> list[dict[str, Any]]:
    """The source-map images of ``debug_meta`` ({type, code_file, debug_id}), at most
    :data:`MAX_DEBUG_IMAGES`: all that JavaScript resolution reads of it."""
    images = (_dict(value) or {}).get("images")
    if not isinstance(images, list):
        return []
    found = []
    for image in images:
        if not isinstance(image, dict) or image.get("type") != "sourcemap":
            continue
        code_file, debug_id = _str(image.get("code_file")), _str(image.get("debug_id"))
        if code_file and debug_id:
            found.append(
                {"type": "sourcemap", "code_file": code_file[:2000], "debug_id": debug_id[:64]}
            )
        if len(found) >= MAX_DEBUG_IMAGES:
            break
    return found


def _fingerprint(value: Any) -> list[str] | None:
    if not isinstance(value, list):
        return None
    parts = [t for t in (_scalar_text(v) for v in value if not isinstance(v, bool)) if t]
    return parts or None


# -- the adapter -------------------------------------------------------------------


def to_event(
    payload: dict[str, Any],
    *,
    project_id: int,
    event_id: str | None,
    received_at: float,
) -> Event:
    """Translate one Sentry event payload into the canonical model.

    ``event_id`` is the envelope header's, which wins over the payload's
    ("Envelope event_id takes precedence"); ids that are not 32 hex digits
    count only when there is no real one (:func:`choose_event_id`); no id
    at all gets a fresh uuid4.
    Raises :class:`BadRequest` only if ``payload`` is not a dict.
    """
    if not isinstance(payload, dict):
        raise BadRequest(f"event payload must be a JSON object, not {type(payload).__name__}")
    for legacy, key in _LEGACY_ALIASES.items():
        if key not in payload and legacy in payload:
            payload = {**payload, key: payload[legacy]}

    raw_exceptions = _values(payload.get("exception"), single_key="type")
    raw_exceptions = [e for e in raw_exceptions if e.get("type") or e.get("value")]
    threads = _threads(payload)
    threads_by_id = {t.get("id"): t for t in threads if t.get("id") is not None}
    exception_frames: list[list[dict[str, Any]]] = []
    for raw in raw_exceptions:
        frames = _raw_frames(raw.get("stacktrace"))
        thread = threads_by_id.get(raw.get("thread_id")) if not frames else None
        exception_frames.append(_raw_frames(thread.get("stacktrace")) if thread else frames)
    bare_frames: list[dict[str, Any]] = []
    if not raw_exceptions:
        bare_frames = _thread_frames(threads) or _raw_frames(payload.get("stacktrace"))

    all_frames = [f for frames in exception_frames for f in frames] + bare_frames
    heuristic = not any(isinstance(f.get("in_app"), bool) for f in all_frames)

    def frame(data: dict[str, Any]) -> Frame:
        explicit = _bool(data.get("in_app"))
        if explicit is None:
            explicit = _guess_in_app(data) if heuristic else False
        return _frame(data, explicit)

    exceptions = [
        Exception_(
            type=_str(raw.get("type")) or "Error",
            value=_str(raw.get("value")) or "",
            module=_str(raw.get("module")),
            mechanism=_mechanism(raw.get("mechanism")),
            frames=[frame(f) for f in frames],
        )
        for raw, frames in zip(raw_exceptions, exception_frames, strict=True)
    ]
    exceptions.reverse()

    timestamp = parse_timestamp(payload.get("timestamp"))
    if timestamp is None or (received_at and timestamp > received_at + MAX_FUTURE_SECONDS):
        timestamp = received_at

    tags = _tags(payload.get("tags"))
    dist = _scalar_text(payload.get("dist"))
    if dist and "dist" not in tags:
        tags["dist"] = dist[:MAX_TAG_LENGTH]

    contexts = _dict(payload.get("contexts")) or {}
    trace = _dict(contexts.get("trace")) or {}
    sdk = _dict(payload.get("sdk")) or {}
    fallback_id = uuid.uuid4().hex
    return Event(
        project_id=project_id,
        event_id=choose_event_id(event_id, payload.get("event_id")) or fallback_id,
        timestamp=timestamp,
        kind="error",
        name="error",
        received_at=received_at,
        platform=_str(payload.get("platform")) or "other",
        level=_level(payload.get("level")),
        logger=_str(payload.get("logger")),
        transaction=_str(payload.get("transaction")) or _str(payload.get("culprit")),
        message=_message(payload),
        message_template=_message_template(payload),
        exceptions=exceptions,
        stacktrace=[frame(f) for f in bare_frames],
        tags=tags,
        contexts=contexts,
        request=_dict(payload.get("request")),
        breadcrumbs=[_breadcrumb(b) for b in _values(payload.get("breadcrumbs"))],
        extra=_dict(payload.get("extra")) or {},
        user=_user(payload.get("user"), infer_ip=_infer_ip(payload, sdk)),
        fingerprint=_fingerprint(payload.get("fingerprint")),
        environment=_str(payload.get("environment")),
        release=_str(payload.get("release")),
        server_name=_str(payload.get("server_name")),
        trace_id=_trace_id(trace.get("trace_id")),
        span_id=_span_id(trace.get("span_id")),
        sdk_name=_str(sdk.get("name")),
        sdk_version=_str(sdk.get("version")),
        debug_images=_debug_images(payload.get("debug_meta")),
    )
