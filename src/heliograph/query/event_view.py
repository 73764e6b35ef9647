"""One canonical event, shaped for the issue page.

The template should only lay things out; every decision about what a reader
sees first lives here, where it is tested without a browser:

* the exception chain in the reader's chosen order (most recent call first,
  as Sentry shows it, or oldest first, as a Python traceback reads), with the
  sentence that links each exception to the next;
* frames in the same order, in-app frames expanded and library frames
  collapsed (the raising frame stays open when an exception has no in-app
  frame at all, so there is always something to read);
* context lines numbered around the error line; variables, request parts,
  contexts and breadcrumb data flattened into key/value rows;
* a frame resolved through a source map beside the minified frame it came
  from (file, function, line and column, and which map).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl

import orjson

from heliograph.model import Breadcrumb, Event, Exception_, Frame

FrameOrder = Literal["newest", "oldest"]
FRAME_ORDERS: tuple[FrameOrder, ...] = ("newest", "oldest")

_BUILTIN_TAGS = ("environment", "release", "level", "server_name")
_CONTEXT_TITLES = {"os": "OS", "gpu": "GPU", "trace": "Trace", "runtime": "Runtime"}
_REQUEST_KEYS = {"method", "url", "query_string", "headers", "cookies", "data", "env"}


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: str
    value: str
    multiline: bool


@dataclass(frozen=True, slots=True)
class SourceLine:
    number: int | None
    text: str
    current: bool


@dataclass(frozen=True, slots=True)
class MinifiedFrame:
    """What the client sent for a frame a source map resolved, and how it was found."""

    location: str
    function: str
    lineno: int | None
    colno: int | None
    sourcemap: str | None
    resolved_with: str  # "debug id" or "release"


@dataclass(frozen=True, slots=True)
class FrameView:
    location: str
    function: str
    module: str | None
    abs_path: str | None
    lineno: int | None
    colno: int | None
    in_app: bool
    crashed: bool  # where its exception was raised (the last call)
    expanded: bool
    lines: list[SourceLine]
    variables: list[KeyValue]
    minified: MinifiedFrame | None = None


@dataclass(frozen=True, slots=True)
class ExceptionView:
    type: str
    value: str
    module: str | None
    mechanism: str | None
    handled: bool | None
    is_group: bool
    frames: list[FrameView]  # in display order
    library_frames: int
    relation: str | None  # the sentence between this link and the next one shown


@dataclass(frozen=True, slots=True)
class BreadcrumbView:
    timestamp: float | None
    type: str
    category: str
    level: str
    message: str
    data: list[KeyValue]


@dataclass(frozen=True, slots=True)
class RequestView:
    method: str | None
    url: str | None
    query: list[KeyValue]
    headers: list[KeyValue]
    cookies: list[KeyValue]
    data: KeyValue | None
    env: list[KeyValue]
    other: list[KeyValue]


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    items: list[KeyValue]


@dataclass(frozen=True, slots=True)
class EventView:
    event: Event
    order: FrameOrder
    exceptions: list[ExceptionView]
    stacktrace: list[FrameView]  # a bare stack trace (no exception), display order
    message: str | None
    breadcrumbs: list[BreadcrumbView]
    request: RequestView | None
    user: list[KeyValue]
    contexts: list[Section]
    # Feature flags the person had when it happened (Sentry's ``flags`` context).
    flags: list[KeyValue]
    tags: list[KeyValue]
    extra: list[KeyValue]
    sdk: str | None


# -- values -------------------------------------------------------------------


def display(value: Any) -> str:
    """A stored value as text: strings as they are, everything else as JSON."""
    if isinstance(value, str):
        return value
    try:
        option = orjson.OPT_INDENT_2 if isinstance(value, dict | list) and value else 0
        return orjson.dumps(value, option=option | orjson.OPT_NON_STR_KEYS, default=str).decode()
    except TypeError:
        return str(value)


def key_value(key: Any, value: Any) -> KeyValue:
    text = display(value)
    return KeyValue(str(key), text, "\n" in text)


def key_values(data: Mapping[Any, Any] | None) -> list[KeyValue]:
    return [key_value(k, v) for k, v in (data or {}).items()]


_DUNDER = re.compile(r"^__\w+__$")
_MAX_VAR_DEPTH = 6


def frame_variables(data: Mapping[Any, Any] | None) -> list[KeyValue]:
    """A frame's local variables as the SDK saw them.

    sentry-sdk sends each value as its ``repr`` (a string ``'abc'`` arrives
    as the text ``"'abc'"``), nested ones too; shown as JSON, nested strings
    gained a second pair of quotes. So containers are written out in the
    language's own literal style with the values as sent. A module-level
    frame's interpreter globals (``__name__``, ``__builtins__``...) are left
    out: they are never what the error was about.
    """
    found = []
    for key, value in (data or {}).items():
        if isinstance(key, str) and _DUNDER.match(key):
            continue
        text = value if isinstance(value, str) else _literal(value, 0)
        found.append(KeyValue(str(key), text, "\n" in text))
    return found


def _literal(value: Any, depth: int) -> str:
    """``value`` as a literal, its strings as sent (already reprs), indented when nested."""
    if isinstance(value, str):
        return value
    if depth >= _MAX_VAR_DEPTH or not isinstance(value, dict | list) or not value:
        return display(value)
    pad = "  " * (depth + 1)
    if isinstance(value, dict):
        items = [f"{pad}{_key(k)}: {_literal(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * depth + "}"
    items = [f"{pad}{_literal(v, depth + 1)}" for v in value]
    return "[\n" + ",\n".join(items) + "\n" + "  " * depth + "]"


def _key(key: Any) -> str:
    """Keys are sent as they are (not reprs): quote a string key as Python would."""
    return repr(key) if isinstance(key, str) else str(key)


def pairs(value: Any) -> list[KeyValue]:
    """Headers, query strings and cookies arrive as dicts, pair lists or strings."""
    if isinstance(value, Mapping):
        return key_values(value)
    if isinstance(value, list):
        return [key_value(p[0], p[1]) for p in value if isinstance(p, list | tuple) and len(p) == 2]
    if isinstance(value, str) and value:
        return [key_value(k, v) for k, v in parse_qsl(value, keep_blank_values=True)]
    return []


# -- frames and exceptions ----------------------------------------------------------


def _source_lines(frame: Frame) -> list[SourceLine]:
    if frame.context_line is None:
        return []
    first = frame.lineno - len(frame.pre_context) if frame.lineno is not None else None

    def number(offset: int) -> int | None:
        return first + offset if first is not None else None

    lines = [SourceLine(number(i), text, False) for i, text in enumerate(frame.pre_context)]
    lines.append(SourceLine(number(len(lines)), frame.context_line, True))
    base = len(lines)
    lines += [
        SourceLine(number(base + i), text, False) for i, text in enumerate(frame.post_context)
    ]
    return lines


def _minified(frame: Frame) -> MinifiedFrame | None:
    raw = frame.minified
    if not raw:
        return None

    def number(key: str) -> int | None:
        value = raw.get(key)
        return value if isinstance(value, int) else None

    return MinifiedFrame(
        location=str(raw.get("abs_path") or raw.get("filename") or "<unknown>"),
        function=str(raw.get("function") or "?"),
        lineno=number("lineno"),
        colno=number("colno"),
        sourcemap=str(raw["sourcemap"]) if raw.get("sourcemap") else None,
        resolved_with="debug id" if raw.get("resolved_with") == "debug-id" else "release",
    )


def frame_view(frame: Frame, *, crashed: bool, force_open: bool = False) -> FrameView:
    return FrameView(
        location=frame.filename or frame.module or frame.abs_path or "<unknown>",
        function=frame.function or "?",
        module=frame.module,
        abs_path=frame.abs_path,
        lineno=frame.lineno,
        colno=frame.colno,
        in_app=frame.in_app,
        crashed=crashed,
        expanded=frame.in_app or force_open,
        lines=_source_lines(frame),
        variables=frame_variables(frame.vars),
        minified=_minified(frame),
    )


def frame_views(frames: list[Frame], order: FrameOrder) -> list[FrameView]:
    """Frames (stored oldest first) as the reader wants them, the raising one marked."""
    any_in_app = any(f.in_app for f in frames)
    last = len(frames) - 1
    views = [
        frame_view(f, crashed=i == last, force_open=i == last and not any_in_app)
        for i, f in enumerate(frames)
    ]
    return views[::-1] if order == "newest" else views


def _relation(inner: Exception_, order: FrameOrder) -> str:
    """How ``inner`` (the cause) relates to the exception raised after it."""
    source = (inner.mechanism.source if inner.mechanism else None) or ""
    if source.startswith("exceptions["):
        if order == "newest":
            return "The above exception group contains the following exception:"
        return "The above exception is part of the following exception group:"
    if source == "__context__":
        if order == "newest":
            return "The above exception was raised while handling the following exception:"
        return "During handling of the above exception, another exception occurred:"
    if order == "newest":
        return "The above exception was directly caused by the following exception:"
    return "The above exception was the direct cause of the following exception:"


def exception_views(exceptions: list[Exception_], order: FrameOrder) -> list[ExceptionView]:
    """The chain (stored outermost first) in display order, with linking sentences."""
    shown = exceptions if order == "newest" else exceptions[::-1]
    views = []
    for index, exc in enumerate(shown):
        relation = None
        if index + 1 < len(shown):
            # The inner link of the pair carries the mechanism that names the relation.
            inner = shown[index + 1] if order == "newest" else exc
            relation = _relation(inner, order)
        mechanism = exc.mechanism
        views.append(
            ExceptionView(
                type=exc.type,
                value=exc.value,
                module=exc.module,
                mechanism=mechanism.type if mechanism else None,
                handled=mechanism.handled if mechanism else None,
                is_group=bool(mechanism and mechanism.is_exception_group),
                frames=frame_views(exc.frames, order),
                library_frames=sum(1 for f in exc.frames if not f.in_app),
                relation=relation,
            )
        )
    return views


# -- the rest of the event ---------------------------------------------------------


def breadcrumb_view(crumb: Breadcrumb) -> BreadcrumbView:
    return BreadcrumbView(
        timestamp=crumb.timestamp,
        type=crumb.type or "default",
        category=crumb.category or "",
        level=crumb.level or "info",
        message=crumb.message or "",
        data=key_values(crumb.data),
    )


def request_view(request: Mapping[str, Any] | None) -> RequestView | None:
    if not request:
        return None
    data = request.get("data")
    return RequestView(
        method=str(request["method"]) if request.get("method") else None,
        url=str(request["url"]) if request.get("url") else None,
        query=pairs(request.get("query_string")),
        headers=pairs(request.get("headers")),
        cookies=pairs(request.get("cookies")),
        data=key_value("body", data) if data not in (None, "", {}, []) else None,
        env=key_values(request.get("env") if isinstance(request.get("env"), Mapping) else None),
        other=[key_value(k, v) for k, v in request.items() if k not in _REQUEST_KEYS and v],
    )


def _user(event: Event) -> list[KeyValue]:
    user = event.user
    if user is None:
        return []
    fields = (
        ("id", user.id),
        ("email", user.email),
        ("username", user.username),
        ("name", user.name),
        ("ip_address", user.ip_address),
        ("ip_hash", user.ip_hash),  # the address, hashed: the project does not keep it
    )
    items = [KeyValue(k, v, False) for k, v in fields if v]
    return items + key_values(user.data)


def _flags(contexts: Mapping[str, Any]) -> list[KeyValue]:
    """``contexts.flags.values`` (``[{"flag": key, "result": value}]``) as rows, by key."""
    section = contexts.get("flags")
    values = section.get("values") if isinstance(section, Mapping) else None
    if not isinstance(values, list):
        return []
    found = {
        str(item["flag"]): item.get("result")
        for item in values
        if isinstance(item, Mapping) and isinstance(item.get("flag"), str)
    }
    return [key_value(flag, result) for flag, result in sorted(found.items())]


def _contexts(contexts: Mapping[str, Any]) -> list[Section]:
    sections = []
    for name, value in contexts.items():
        if name == "flags" and _flags(contexts):
            continue  # shown as the event's feature flags
        if isinstance(value, Mapping):
            items = [
                key_value(k, v)
                for k, v in value.items()
                if v is not None and not (k == "type" and v == name)
            ]
        else:
            items = [key_value("value", value)]
        if items:
            title = _CONTEXT_TITLES.get(name, name.replace("_", " ").capitalize())
            sections.append(Section(title, items))
    return sections


def event_tags(event: Event) -> list[KeyValue]:
    """The event's tags plus the built-in ones every issue is broken down by."""
    tags = dict(event.tags)
    for name in _BUILTIN_TAGS:
        value = getattr(event, name)
        if value and name not in tags:
            tags[name] = str(value)
    if event.user and event.user.key and "user" not in tags:
        tags["user"] = event.user.key
    return [KeyValue(k, v, False) for k, v in sorted(tags.items())]


def _sdk(event: Event) -> str | None:
    if not event.sdk_name:
        return None
    return f"{event.sdk_name} {event.sdk_version or ''}".strip()


def _without_empty(items: Iterable[KeyValue]) -> list[KeyValue]:
    return [item for item in items if item.value]


def event_view(event: Event, order: FrameOrder = "newest") -> EventView:
    """Breadcrumbs follow the frame order too: newest first means the last one on top."""
    crumbs = event.breadcrumbs[::-1] if order == "newest" else event.breadcrumbs
    return EventView(
        event=event,
        order=order,
        exceptions=exception_views(event.exceptions, order),
        stacktrace=frame_views(event.stacktrace, order) if not event.exceptions else [],
        message=event.message,
        breadcrumbs=[breadcrumb_view(b) for b in crumbs],
        request=request_view(event.request),
        user=_user(event),
        contexts=_contexts(event.contexts),
        flags=_flags(event.contexts),
        tags=event_tags(event),
        extra=_without_empty(key_values(event.extra)),
        sdk=_sdk(event),
    )
