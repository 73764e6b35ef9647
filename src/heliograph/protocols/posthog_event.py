"""PostHog event -> canonical :class:`~heliograph.model.Event`.

``$exception`` becomes an error event (``$exception_list`` is already
outermost first, frames oldest first, as the model wants); everything else is
an analytics event named as sent, with its properties kept and the LLM
analytics ``$ai_*`` properties coerced to the types ``docs/protocols.md``
"LLM analytics properties" gives (:func:`coerce_ai_properties`, shared with
the OTLP adapter).
"""

from __future__ import annotations

import math
import uuid as _uuid
from collections.abc import Mapping
from typing import Any

from heliograph.bounds import clamp_count
from heliograph.llm_vocabulary import (
    AI_PREFIX,
    AI_SPAN_ID,
    AI_TRACE_ID,
    BOOL_PROPERTIES,
    FLOAT_PROPERTIES,
    ID_PROPERTIES,
    INT_PROPERTIES,
    MONEY_PROPERTY,
    TOKEN_PROPERTY,
)
from heliograph.model import LEVELS, Breadcrumb, Event, Exception_, Frame, Mechanism, User
from heliograph.protocols.posthog_capture import parse_time_text

__all__ = ["coerce_ai_properties", "to_event"]

_LIB_PLATFORMS = {
    "posthog-python": "python",
    "web": "javascript",
    "posthog-js": "javascript",
    "posthog-js-lite": "javascript",
    "posthog-react-native": "javascript",
    "posthog-node": "node",
    "posthog-ruby": "ruby",
    "posthog-go": "go",
    "posthog-php": "php",
    "posthog-java": "java",
    "posthog-android": "java",
    "posthog-ios": "cocoa",
    "posthog-flutter": "dart",
    "posthog-dotnet": "csharp",
    "posthog-rs": "rust",
    "posthog-elixir": "elixir",
}
_LEVEL_ALIASES = {"critical": "fatal", "warn": "warning", "log": "info", "trace": "debug"}
_USER_KEYS = {"email": "email", "username": "username", "name": "name", "$name": "name"}


def to_event(raw: Mapping[str, Any], *, project_id: int, received_at: float) -> Event:
    """Map one PostHog event (normalised by ``posthog.normalize_event``, or raw) to an Event."""
    properties_value = raw.get("properties")
    properties = dict(properties_value) if isinstance(properties_value, Mapping) else {}
    for key in ("$set", "$set_once"):
        if isinstance(raw.get(key), Mapping) and key not in properties:
            properties[key] = dict(raw[key])
    coerce_ai_properties(properties)

    name = raw.get("event") if isinstance(raw.get("event"), str) else ""
    distinct_id = _string(raw.get("distinct_id")) or _string(properties.get("distinct_id"))
    lib = _string(properties.get("$lib"))
    event = Event(
        project_id=project_id,
        event_id=_event_id(raw.get("uuid")),
        timestamp=_timestamp(raw.get("timestamp"), received_at),
        kind="analytics",
        name=name or "(unnamed)",
        received_at=received_at,
        platform=_LIB_PLATFORMS.get(lib or "", "other"),
        distinct_id=distinct_id,
        environment=_string(properties.get("environment"))
        or _string(properties.get("$environment")),
        release=_string(properties.get("release"))
        or _string(properties.get("$release"))
        or _string(properties.get("$app_version")),  # the mobile SDKs
        trace_id=_string(properties.get(AI_TRACE_ID)) or _string(properties.get("$trace_id")),
        span_id=_string(properties.get(AI_SPAN_ID)) or _string(properties.get("$span_id")),
        session_id=_string(properties.get("$session_id")),
        sdk_name=lib,
        sdk_version=_string(properties.get("$lib_version")),
        user=_user(distinct_id, properties),
        properties=properties,
    )
    if name == "$exception":
        _fill_error(event, properties)
    return event


# --- $ai_* typing -------------------------------------------------------------------


def coerce_ai_properties(properties: dict[str, Any]) -> None:
    """Give the ``$ai_*`` properties their documented types, in place.

    Ids become strings (numbers and booleans stringified; objects, lists and
    empty values dropped); token counts ints; latency, time to first token
    and temperature float seconds / floats; HTTP status an int; flags bools;
    costs and per-token prices floats (the tables are in
    :mod:`heliograph.llm_vocabulary`). A value that cannot be read as its
    type is dropped rather than stored wrong.
    """
    for key in [k for k in properties if k.startswith(AI_PREFIX)]:
        value = properties[key]
        coerced: Any
        if key in ID_PROPERTIES:
            coerced = _string(value)
        elif key in BOOL_PROPERTIES:
            coerced = _bool(value)
        elif key in INT_PROPERTIES or TOKEN_PROPERTY.match(key):
            coerced = _int(value)
        elif key in FLOAT_PROPERTIES or MONEY_PROPERTY.match(key):
            coerced = _float(value)
        else:
            continue
        if coerced is None:
            del properties[key]
        else:
            properties[key] = coerced


def _string(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value or None
    return None


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
    return None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _int(value: Any) -> int | None:
    number = _float(value)
    if number is None:
        return None
    return clamp_count(number)


# --- identity -------------------------------------------------------------------------


def _event_id(value: Any) -> str:
    if isinstance(value, str) and value:
        try:
            return _uuid.UUID(value).hex
        except ValueError:
            pass
    return _uuid.uuid4().hex


def _timestamp(value: Any, default: float) -> float:
    if isinstance(value, bool) or value is None:
        return default
    if isinstance(value, int | float):
        # Milliseconds from the wire; seconds when already a float in range.
        number = float(value)
        if not math.isfinite(number):
            return default
        return number / 1000.0 if abs(number) > 1e11 else number
    if isinstance(value, str):
        parsed = parse_time_text(value)
        return default if parsed is None else parsed
    return default


def _user(distinct_id: str | None, properties: Mapping[str, Any]) -> User | None:
    """Who the event is about: the distinct id, plus what ``$set`` says about them.

    Personless events (``$process_person_profile: false``: posthog-python
    without a distinct id, the AI wrappers falling back to the trace id) have
    a throwaway distinct id, not a user.
    """
    person: dict[str, Any] = {}
    for key in ("$set_once", "$set", "$user"):
        value = properties.get(key)
        if isinstance(value, Mapping):
            person.update(value)
    if properties.get("$process_person_profile") is False and not person:
        return None
    if not distinct_id and not person:
        return None
    user = User(id=distinct_id, ip_address=_string(properties.get("$ip")))
    data: dict[str, Any] = {}
    for key, value in person.items():
        attribute = _USER_KEYS.get(key)
        if attribute and isinstance(value, str) and value:
            setattr(user, attribute, value)
        else:
            data[key] = value
    user.data = data or None
    return user


# --- $exception ---------------------------------------------------------------------


def _fill_error(event: Event, properties: dict[str, Any]) -> None:
    event.kind = "error"
    event.name = "error"
    exception_list = properties.pop("$exception_list", None)
    if isinstance(exception_list, list):
        event.exceptions = [
            _exception(item, event.platform) for item in exception_list if isinstance(item, dict)
        ]
    if not event.exceptions and properties.get("$exception_type"):
        # Older posthog-js: one exception as flat properties.
        event.exceptions = [
            Exception_(
                type=_string(properties.get("$exception_type")) or "Error",
                value=_string(properties.get("$exception_message")) or "",
            )
        ]
    if event.exceptions:
        event.message = event.exceptions[0].value or None
    else:
        event.message = _string(properties.get("$exception_message"))
    event.level = _level(properties.get("$exception_level"))
    fingerprint = properties.get("$exception_fingerprint")
    if isinstance(fingerprint, str) and fingerprint:
        event.fingerprint = [fingerprint]
    elif isinstance(fingerprint, list) and fingerprint:
        event.fingerprint = [str(part) for part in fingerprint]
    event.trace_id = _string(properties.get("$trace_id")) or event.trace_id
    event.span_id = _string(properties.get("$span_id")) or event.span_id
    url = _string(properties.get("$current_url"))
    if url:
        event.request = {"url": url}
    _fill_error_context(event, properties)


# Flags a PostHog event carries (``$feature/<key>``): at most this many are kept.
MAX_EVENT_FLAGS = 100


def _feature_flags(properties: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The flag values PostHog SDKs attach to an event (``$feature/<key>: value``),
    as Sentry's ``flags`` context lists them (``{"flag", "result"}``)."""
    flags = []
    for name, value in properties.items():
        if name.startswith("$feature/") and isinstance(value, bool | str) and len(name) > 9:
            flags.append(
                {"flag": name[9:][:200], "result": value[:200] if isinstance(value, str) else value}
            )
            if len(flags) >= MAX_EVENT_FLAGS:
                break
    return flags


def _fill_error_context(event: Event, properties: Mapping[str, Any]) -> None:
    """Sentry-style context that heliograph-sdk sends with ``$exception`` events."""
    tags = properties.get("$tags")
    if isinstance(tags, Mapping):
        event.tags.update({str(k)[:200]: str(v)[:200] for k, v in tags.items()})
    contexts = properties.get("$contexts")
    if isinstance(contexts, Mapping):
        event.contexts.update(contexts)
    flags = _feature_flags(properties)
    if flags and "flags" not in event.contexts:
        event.contexts["flags"] = {"values": flags}
    request = properties.get("$request")
    if isinstance(request, Mapping):
        event.request = {**(event.request or {}), **request}
    event.logger = _string(properties.get("$logger")) or event.logger
    crumbs = properties.get("$breadcrumbs")
    if isinstance(crumbs, list):
        event.breadcrumbs = [
            Breadcrumb(
                timestamp=_timestamp(crumb.get("timestamp"), event.timestamp),
                type=_string(crumb.get("type")),
                category=_string(crumb.get("category")),
                level=_string(crumb.get("level")),
                message=_string(crumb.get("message")),
                data=crumb.get("data") if isinstance(crumb.get("data"), dict) else None,
            )
            for crumb in crumbs[-100:]
            if isinstance(crumb, Mapping)
        ]


def _level(value: Any) -> str:
    level = str(value).strip().lower() if isinstance(value, str) else "error"
    level = _LEVEL_ALIASES.get(level, level)
    return level if level in LEVELS else "error"


def _exception(item: Mapping[str, Any], platform: str) -> Exception_:
    mechanism_value = item.get("mechanism")
    mechanism = None
    if isinstance(mechanism_value, Mapping):
        mechanism = Mechanism(
            type=_string(mechanism_value.get("type")) or "generic",
            handled=mechanism_value.get("handled")
            if isinstance(mechanism_value.get("handled"), bool)
            else None,
            synthetic=mechanism_value.get("synthetic") is True,
            exception_id=_int(mechanism_value.get("exception_id")),
            parent_id=_int(mechanism_value.get("parent_id")),
            is_exception_group=mechanism_value.get("is_exception_group") is True,
            source=_string(mechanism_value.get("source")),
        )
    stacktrace = item.get("stacktrace")
    raw_frames = stacktrace.get("frames") if isinstance(stacktrace, Mapping) else None
    frames = (
        [_frame(frame, platform) for frame in raw_frames if isinstance(frame, Mapping)]
        if isinstance(raw_frames, list)
        else []
    )
    return Exception_(
        type=_string(item.get("type")) or "Error",
        value=_string(item.get("value")) or "",
        module=_string(item.get("module")),
        mechanism=mechanism,
        frames=frames,
    )


def _frame(frame: Mapping[str, Any], event_platform: str) -> Frame:
    platform = _string(frame.get("platform"))
    if platform and ":" in platform:
        # posthog-js: "web:javascript", "node:javascript".
        runtime, _, language = platform.partition(":")
        platform = "node" if runtime == "node" else language
    abs_path = _string(frame.get("abs_path"))
    filename = _string(frame.get("filename")) or _string(frame.get("source"))
    in_app_value = frame.get("in_app")
    if isinstance(in_app_value, bool):
        in_app = in_app_value
    else:
        # Not marked by the client: library code lives in site-packages /
        # node_modules, everything else is taken to be the application's.
        path = abs_path or filename or ""
        in_app = bool(path) and not any(
            marker in path for marker in ("site-packages", "dist-packages", "node_modules")
        )
    variables = frame.get("code_variables", frame.get("vars"))
    return Frame(
        function=_string(frame.get("function")) or _string(frame.get("resolved_name")),
        module=_string(frame.get("module")),
        filename=filename,
        abs_path=abs_path,
        lineno=_int(frame.get("lineno")),
        colno=_int(frame.get("colno")),
        in_app=in_app,
        context_line=_string(frame.get("context_line")),
        pre_context=_lines(frame.get("pre_context")),
        post_context=_lines(frame.get("post_context")),
        vars=dict(variables) if isinstance(variables, Mapping) else None,
        platform=platform or (event_platform if event_platform != "other" else None),
    )


def _lines(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [line if isinstance(line, str) else str(line) for line in value]
