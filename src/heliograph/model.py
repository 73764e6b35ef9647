"""The one canonical event model.

The wire-format modules (``heliograph.protocols.*``), run by digest's decoders
(``heliograph.digest.decoders``), translate whatever arrived -- a Sentry
envelope, a PostHog batch, an OTLP span -- into these types. Past the
decoders nothing knows which protocol an event came from: the rest of digest,
store, query, web and ai all speak this model only.

Conventions (chosen once, relied on everywhere):

* ``Event.exceptions`` is ordered **outermost first**: index 0 is the exception
  that was raised last (the one that crashed the program), the last entry is
  the root cause. Sentry sends the opposite order; its adapter reverses it.
* ``Exception_.frames`` is ordered **oldest call first**: the last frame is the
  crash frame, as both Sentry and PostHog send it.
* Timestamps are float Unix seconds (UTC).
* ``event_id`` is 32 lower-case hex characters (a UUID without dashes).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Literal

EventKind = Literal["error", "analytics"]
LEVELS: tuple[str, ...] = ("fatal", "error", "warning", "info", "debug")


@dataclass(slots=True)
class Frame:
    """One stack frame. ``in_app`` marks the application's own code."""

    function: str | None = None
    module: str | None = None
    filename: str | None = None
    abs_path: str | None = None
    lineno: int | None = None
    colno: int | None = None
    in_app: bool = False
    context_line: str | None = None
    pre_context: list[str] = field(default_factory=list)
    post_context: list[str] = field(default_factory=list)
    vars: dict[str, Any] | None = None
    platform: str | None = None
    # A frame resolved through a source map: the frame as the client sent it
    # (function, filename, abs_path, lineno, colno, context_line) and which map
    # (sourcemap, resolved_with, debug_id). Sentry keeps it as raw_stacktrace.
    minified: dict[str, Any] | None = None


@dataclass(slots=True)
class Mechanism:
    """How the exception was captured (Sentry's ``mechanism`` object)."""

    type: str = "generic"
    handled: bool | None = None
    synthetic: bool = False
    exception_id: int | None = None
    parent_id: int | None = None
    is_exception_group: bool = False
    source: str | None = None


@dataclass(slots=True)
class Exception_:
    """One link of an exception chain (trailing underscore: not the builtin)."""

    type: str
    value: str = ""
    module: str | None = None
    mechanism: Mechanism | None = None
    frames: list[Frame] = field(default_factory=list)


@dataclass(slots=True)
class Breadcrumb:
    timestamp: float | None = None
    type: str | None = None
    category: str | None = None
    level: str | None = None
    message: str | None = None
    data: dict[str, Any] | None = None


@dataclass(slots=True)
class User:
    """Who was affected. ``key`` picks the best identifier for counting.

    ``ip_hash``: the project's keyed hash of the address, stored instead of
    ``ip_address`` when the project does not keep addresses
    (:mod:`heliograph.digest.addresses`).
    """

    id: str | None = None
    email: str | None = None
    username: str | None = None
    ip_address: str | None = None
    name: str | None = None
    data: dict[str, Any] | None = None
    ip_hash: str | None = None

    @property
    def key(self) -> str | None:
        for prefix, value in (
            ("id", self.id),
            ("email", self.email),
            ("username", self.username),
            ("ip", self.ip_address),
            ("iphash", self.ip_hash),
        ):
            if value:
                return f"{prefix}:{value}"
        return None


@dataclass(slots=True)
class Event:
    """A canonical event: an error or an analytics event.

    Error events fill ``exceptions`` / ``message`` and friends; analytics
    events (pageviews, LLM generations, custom events) fill ``name`` and
    ``properties``. Both share the identity fields (project, time, user,
    trace, environment, release) so that they can be linked.
    """

    project_id: int
    event_id: str
    timestamp: float
    kind: EventKind = "error"
    name: str = "error"
    received_at: float = 0.0
    platform: str = "other"
    level: str = "error"
    logger: str | None = None
    transaction: str | None = None
    message: str | None = None
    # A log call's template (``"Payment %s failed"``), kept when it was formatted
    # with arguments: what such messages group by (``message`` is shown).
    message_template: str | None = None
    exceptions: list[Exception_] = field(default_factory=list)
    # A bare stack trace with no exception (Sentry ``threads`` / ``stacktrace``).
    stacktrace: list[Frame] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    contexts: dict[str, Any] = field(default_factory=dict)
    request: dict[str, Any] | None = None
    breadcrumbs: list[Breadcrumb] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    user: User | None = None
    distinct_id: str | None = None
    fingerprint: list[str] | None = None
    environment: str | None = None
    release: str | None = None
    server_name: str | None = None
    trace_id: str | None = None
    span_id: str | None = None
    session_id: str | None = None
    sdk_name: str | None = None
    sdk_version: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    # Sentry's debug_meta.images of type "sourcemap" ({type, code_file, debug_id}):
    # which source map a script's frames resolve with.
    debug_images: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``orjson`` also serialises the dataclass directly)."""
        return _asdict(self)  # type: ignore[no-any-return]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        """Rebuild an event from :meth:`to_dict` output (as stored)."""
        values = dict(data)
        values["exceptions"] = [_exception_from_dict(e) for e in data.get("exceptions") or []]
        values["stacktrace"] = [Frame(**f) for f in data.get("stacktrace") or []]
        values["breadcrumbs"] = [Breadcrumb(**b) for b in data.get("breadcrumbs") or []]
        values["user"] = User(**data["user"]) if data.get("user") else None
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    @property
    def crash_frames(self) -> list[Frame]:
        """Frames of the outermost exception, or the bare stack trace."""
        if self.exceptions and self.exceptions[0].frames:
            return self.exceptions[0].frames
        return self.stacktrace


def _exception_from_dict(data: dict[str, Any]) -> Exception_:
    mechanism = data.get("mechanism")
    return Exception_(
        type=data["type"],
        value=data.get("value") or "",
        module=data.get("module"),
        mechanism=Mechanism(**mechanism) if mechanism else None,
        frames=[Frame(**f) for f in data.get("frames") or []],
    )


def _asdict(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: _asdict(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, list):
        return [_asdict(v) for v in value]
    if isinstance(value, dict):
        return {k: _asdict(v) for k, v in value.items()}
    return value
