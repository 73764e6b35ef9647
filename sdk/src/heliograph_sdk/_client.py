"""The enabled SDK: turns calls into queued items and queued items into events.

Only an enabled client exists (no API key → no client at all, see ``_hub``).
Capture methods run on the application's threads and do the minimum: read
the scope's references, take a timestamp, append a tuple. ``_render`` runs
on the sender thread and builds the PostHog-shaped event::

    {"event", "distinct_id", "properties", "timestamp", "uuid"}
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

from heliograph_sdk._config import Settings
from heliograph_sdk._flags import FlagClient
from heliograph_sdk._frames import InApp
from heliograph_sdk._prompts import PromptClient
from heliograph_sdk._scope import Scope, _current, global_scope
from heliograph_sdk._scrub import scrub
from heliograph_sdk._serialize import iso_timestamp
from heliograph_sdk._stack import collect, render_exceptions
from heliograph_sdk._transport import Transport
from heliograph_sdk._version import __version__

logger = logging.getLogger("heliograph_sdk")

LIB_NAME = "heliograph-sdk"
EXCEPTION_EVENT = "$exception"
CLIENT_REPORT_EVENT = "$client_report"
_CAPTURED_MARK = "__heliograph_captured__"
_LEVELS = {
    "fatal": "fatal",
    "critical": "fatal",
    "error": "error",
    "warning": "warning",
    "warn": "warning",
    "info": "info",
    "debug": "debug",
}

# Item layout on the queue (a tuple: cheapest to build on the hot path).
# (name, distinct_id, properties, unix_time, user, error_details, uuid)


def normalize_level(level: str) -> str:
    return _LEVELS.get(str(level).lower(), "error")


class ErrorDetails:
    """What an error event captured on the calling thread, rendered later."""

    __slots__ = (
        "breadcrumbs",
        "contexts",
        "exceptions",
        "handled",
        "mechanism",
        "request",
        "tags",
    )

    def __init__(
        self,
        exceptions: Any,
        mechanism: str,
        handled: bool,
        breadcrumbs: list[dict[str, Any]],
        tags: Mapping[str, str],
        contexts: Mapping[str, Any],
        request: Any,
    ) -> None:
        self.exceptions = exceptions
        self.mechanism = mechanism
        self.handled = handled
        self.breadcrumbs = breadcrumbs
        self.tags = tags
        self.contexts = contexts
        self.request = request


class Client:
    """One configured SDK instance; see the module docstring."""

    def __init__(self, settings: Settings) -> None:
        if not settings.api_key:
            raise ValueError("an enabled client needs an api_key")
        self.settings = settings
        self.anonymous_id = str(uuid.uuid4())
        self.in_app = InApp(settings.in_app_include, settings.in_app_exclude)
        self.super_properties: dict[str, Any] = {
            "$lib": LIB_NAME,
            "$lib_version": __version__,
            "environment": settings.environment,
        }
        if settings.release:
            self.super_properties["release"] = settings.release
        self.transport = Transport(
            url=f"{settings.host}/batch/",
            api_key=settings.api_key,
            render=self._render,
            report_factory=self._client_report,
            max_queue_size=settings.max_queue_size,
            batch_size=settings.batch_size,
            flush_interval=settings.flush_interval,
            request_timeout=settings.request_timeout,
            max_retries=settings.max_retries,
            shutdown_timeout=settings.shutdown_timeout,
            client_report_interval=settings.client_report_interval,
        )
        self._enqueue = self.transport.enqueue
        self.flags = FlagClient(settings, self._capture_as)
        self.prompts = PromptClient(settings)

    def _capture_as(self, event: str, properties: dict[str, Any], distinct_id: str) -> None:
        self.capture(event, properties, distinct_id)

    def reset_after_fork(self) -> None:
        self.anonymous_id = str(uuid.uuid4())

    # -- calling thread --------------------------------------------------------

    def capture(
        self,
        event: str,
        properties: Mapping[str, Any] | None = None,
        distinct_id: str | None = None,
        scope: Scope | None = None,
        at: float | None = None,
    ) -> None:
        """The hot path: no formatting, no uuid, no lock.

        ``scope``: whose event it is, when not the current scope's (a span
        opened on one thread and ended by a framework callback on another);
        ``at``: its ``time.time()``, when it happened before it is sent.
        """
        scope = scope or _current.get() or global_scope
        self._enqueue(
            (
                event,
                distinct_id or scope.distinct_id,
                dict(properties) if properties else None,
                time.time() if at is None else at,
                scope.user,
                None,
                None,
            )
        )

    def capture_exception(
        self,
        exc: BaseException,
        *,
        level: str = "error",
        properties: Mapping[str, Any] | None = None,
        fingerprint: str | None = None,
        mechanism: str = "generic",
        handled: bool = True,
        extra: Mapping[str, Any] | None = None,
    ) -> str | None:
        """Queue a ``$exception`` event; returns its uuid (``None`` if a duplicate)."""
        try:
            if getattr(exc, _CAPTURED_MARK, False):
                return None
            setattr(exc, _CAPTURED_MARK, True)
        except Exception:
            pass
        settings = self.settings
        raw = collect(exc, capture_locals=settings.capture_locals, in_app=self.in_app)
        props: dict[str, Any] = {
            "$exception_level": normalize_level(level),
            "$exception_handled": handled,
        }
        if raw:
            props["$exception_type"] = raw[0].type
            props["$exception_message"] = raw[0].value
        if fingerprint:
            props["$exception_fingerprint"] = fingerprint
        return self._capture_error(props, properties, extra, raw, mechanism, handled)

    def capture_message(
        self,
        message: str,
        *,
        level: str = "info",
        properties: Mapping[str, Any] | None = None,
        fingerprint: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> str:
        props: dict[str, Any] = {
            "$exception_level": normalize_level(level),
            "$exception_message": str(message),
        }
        if fingerprint:
            props["$exception_fingerprint"] = fingerprint
        return self._capture_error(props, properties, extra, None, "message", True)

    def _capture_error(
        self,
        props: dict[str, Any],
        properties: Mapping[str, Any] | None,
        extra: Mapping[str, Any] | None,
        raw: Any,
        mechanism: str,
        handled: bool,
    ) -> str:
        from heliograph_sdk._tracing import current_span

        span = current_span()
        if span is not None:
            props["$trace_id"] = span.trace_id
            props["$ai_trace_id"] = span.trace_id
            props["$span_id"] = span.span_id
        scope = _current.get() or global_scope
        for key, value in scope.flags.items():
            props[f"$feature/{key}"] = value
        if extra:
            props.update(extra)
        if properties:
            props.update(properties)
        try:
            breadcrumbs = list(scope.breadcrumbs)
        except RuntimeError:  # appended to concurrently (free-threaded builds)
            breadcrumbs = []
        details = ErrorDetails(
            raw,
            mechanism,
            handled,
            breadcrumbs,
            scope.tags,
            scope.contexts,
            scope.request,
        )
        event_id = str(uuid.uuid4())
        self._enqueue(
            (
                EXCEPTION_EVENT,
                scope.distinct_id,
                props,
                time.time(),
                scope.user,
                details,
                event_id,
            )
        )
        return event_id

    # -- sender thread ---------------------------------------------------------

    def _render(self, item: tuple[Any, ...]) -> dict[str, Any]:
        name, distinct_id, props, at, user, details, event_id = item
        properties = dict(self.super_properties)
        if user:
            properties["$user"] = user
        if distinct_id is None:
            distinct_id = self.anonymous_id
            properties["$process_person_profile"] = False
        if details is not None:
            self._render_error(details, properties)
        if props:
            properties.update(props)
        return {
            "event": name,
            "distinct_id": str(distinct_id),
            "properties": properties,
            "timestamp": iso_timestamp(at),
            "uuid": event_id or str(uuid.uuid4()),
        }

    def _render_error(self, details: ErrorDetails, properties: dict[str, Any]) -> None:
        if details.exceptions:
            properties["$exception_list"] = render_exceptions(
                details.exceptions,
                mechanism=details.mechanism,
                handled=details.handled,
                in_app=self.in_app,
            )
        if details.tags:
            properties["$tags"] = scrub(dict(details.tags))
        if details.contexts:
            properties["$contexts"] = scrub(dict(details.contexts))
        if details.request:
            request = details.request
            to_dict = getattr(request, "to_dict", None)
            properties["$request"] = to_dict() if callable(to_dict) else dict(request)
        if details.breadcrumbs:
            properties["$breadcrumbs"] = [
                {**crumb, "timestamp": iso_timestamp(crumb["timestamp"])}
                if isinstance(crumb.get("timestamp"), float)
                else crumb
                for crumb in scrub(details.breadcrumbs)
            ]

    def _client_report(self, dropped: dict[str, int]) -> dict[str, Any]:
        properties = dict(self.super_properties)
        properties["$dropped_events"] = dict(dropped)
        properties["$process_person_profile"] = False
        return {
            "event": CLIENT_REPORT_EVENT,
            "distinct_id": self.anonymous_id,
            "properties": properties,
            "timestamp": iso_timestamp(time.time()),
            "uuid": str(uuid.uuid4()),
        }

    # -- lifecycle -------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        return self.transport.flush(timeout)

    def flush_before_exit(self) -> bool:
        return self.transport.flush_before_exit()

    def shutdown(self, timeout: float | None = None) -> bool:
        self.flags.close()
        return self.transport.shutdown(timeout)
