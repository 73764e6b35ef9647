"""Read an error event from a JSON file, for ``heliograph fix EVENT.json``.

Accepted: an event as a Sentry SDK sends it (``exception.values``), an event
as Heliograph's (or Sentry's) API returns it (``entries``), and a
posthog ``$exception`` event. All become the canonical event.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson

from heliograph.model import Event
from heliograph.protocols import posthog_event, sentry_event


class EventFileError(ValueError):
    """The file is not an error event we can read; the message says why."""


def load_event(path: Path) -> Event:
    try:
        data = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise EventFileError(f"cannot read {path}: {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise EventFileError(f"{path} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise EventFileError(f"{path}: expected a JSON object (one event)")
    now = time.time()
    if data.get("event") == "$exception":
        event = posthog_event.to_event(data, project_id=0, received_at=now)
    else:
        payload = _from_api_shape(data) if "entries" in data else data
        event = sentry_event.to_event(payload, project_id=0, event_id=None, received_at=now)
    if not event.exceptions and not event.message and not event.stacktrace:
        raise EventFileError(f"{path}: no exception, stack trace or message in this event")
    return event


def _from_api_shape(data: dict[str, Any]) -> dict[str, Any]:
    """Turn the API's ``entries`` back into the fields an SDK sends."""
    payload = {k: v for k, v in data.items() if k != "entries"}
    payload["event_id"] = data.get("eventID") or data.get("id")
    payload["timestamp"] = data.get("dateCreated")
    payload["tags"] = {t["key"]: t["value"] for t in data.get("tags") or [] if "key" in t}
    release = data.get("release")
    payload["release"] = release.get("version") if isinstance(release, dict) else release
    for entry in data.get("entries") or []:
        kind, body = entry.get("type"), entry.get("data") or {}
        if kind == "exception":
            payload["exception"] = {"values": [_exception(v) for v in body.get("values") or []]}
        elif kind == "message":
            payload["message"] = body.get("formatted")
        elif kind == "breadcrumbs":
            payload["breadcrumbs"] = {"values": body.get("values") or []}
        elif kind == "request":
            payload["request"] = body
    return payload


def _exception(value: dict[str, Any]) -> dict[str, Any]:
    frames = ((value.get("stacktrace") or {}).get("frames")) or []
    return {
        "type": value.get("type"),
        "value": value.get("value"),
        "module": value.get("module"),
        "mechanism": value.get("mechanism"),
        "stacktrace": {"frames": [_frame(f) for f in frames]},
    }


def _frame(frame: dict[str, Any]) -> dict[str, Any]:
    lineno = frame.get("lineNo")
    context = frame.get("context") or []
    pre = [line for number, line in context if lineno is not None and number < lineno]
    post = [line for number, line in context if lineno is not None and number > lineno]
    current = [line for number, line in context if number == lineno]
    return {
        "filename": frame.get("filename"),
        "abs_path": frame.get("absPath"),
        "module": frame.get("module"),
        "function": frame.get("function"),
        "lineno": lineno,
        "colno": frame.get("colNo"),
        "in_app": frame.get("inApp"),
        "context_line": current[0] if current else None,
        "pre_context": pre,
        "post_context": post,
        "vars": frame.get("vars"),
    }
