"""What a recording shows, read from its rrweb events: for lists, and for the timeline.

Each client marks moments its own way: posthog-js records console logs and
network requests with rrweb plugins (``rrweb/console@1``, ``rrweb/network@1``);
Sentry Replay adds custom events (``breadcrumb`` for clicks and console,
``performanceSpan`` for requests and navigations). Both are read, so a
replay's counts and timeline mean the same whichever client made it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from heliograph.replay import rrweb

# Timestamps further than this from when the server received the recording are
# a client's broken clock, not when the page was used: they do not set its span.
_PAST_SECONDS = 31 * 86400
_FUTURE_SECONDS = 86400
MAX_MOMENTS = 1000
_LABEL_CHARS = 300


@dataclass(slots=True)
class Summary:
    started_at: float
    ended_at: float
    events: int = 0
    clicks: int = 0
    console_errors: int = 0
    network_errors: int = 0
    urls: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Moment:
    """A point on a replay's timeline: when (ms since the replay began), what, and a label."""

    offset_ms: int
    kind: str  # navigation, click, console, network (and "error", added by the page)
    label: str


def summarize(events: list[dict[str, Any]], *, received_at: float) -> Summary:
    times = [
        event["timestamp"] / 1000
        for event in events
        if received_at - _PAST_SECONDS <= event["timestamp"] / 1000 <= received_at + _FUTURE_SECONDS
    ]
    summary = Summary(
        started_at=min(times, default=received_at),
        ended_at=max(times, default=received_at),
        events=len(events),
    )
    for moment in moments(events):
        if moment.kind == "click":
            summary.clicks += 1
        elif moment.kind == "console":
            summary.console_errors += 1
        elif moment.kind == "network":
            summary.network_errors += 1
        elif moment.kind == "navigation" and len(summary.urls) < 50:
            summary.urls.append(moment.label)
    return summary


def timeline(events: list[dict[str, Any]], started_at: float) -> list[Moment]:
    """The replay's moments in time order, offsets from ``started_at`` (seconds)."""
    found = sorted(moments(events, start_ms=started_at * 1000), key=lambda m: m.offset_ms)
    return found[:MAX_MOMENTS]


def moments(events: list[dict[str, Any]], *, start_ms: float = 0.0) -> list[Moment]:
    found: list[Moment] = []
    sentry_clicks = any(_sentry_click(event) for event in events)
    for event in events:
        offset = max(0, int(event["timestamp"] - start_ms))
        for kind, label in _read(event, count_rrweb_clicks=not sentry_clicks):
            found.append(Moment(offset, kind, label[:_LABEL_CHARS]))
    return found


def _read(event: dict[str, Any], *, count_rrweb_clicks: bool) -> list[tuple[str, str]]:
    kind = event.get("type")
    data = event.get("data")
    if not isinstance(data, dict):
        return []
    if kind == rrweb.META and isinstance(data.get("href"), str):
        return [("navigation", data["href"])]
    if kind == rrweb.INCREMENTAL_SNAPSHOT and count_rrweb_clicks:
        if data.get("source") == rrweb.MOUSE_INTERACTION and data.get("type") in (
            rrweb.CLICK,
            rrweb.DOUBLE_CLICK,
        ):
            return [("click", "Click")]
        return []
    if kind == rrweb.PLUGIN:
        return _plugin(data)
    if kind == rrweb.CUSTOM:
        return _sentry(data)
    return []


def _plugin(data: dict[str, Any]) -> list[tuple[str, str]]:
    """posthog-js's console and network plugins."""
    payload = data.get("payload")
    if not isinstance(payload, dict):
        return []
    if data.get("plugin") == "rrweb/console@1" and payload.get("level") == "error":
        parts = payload.get("payload")
        text = " ".join(str(p) for p in parts[:5]) if isinstance(parts, list) else ""
        return [("console", text.strip().strip('"') or "console.error")]
    if data.get("plugin") == "rrweb/network@1":
        failed = []
        requests = payload.get("requests")
        for request in requests if isinstance(requests, list) else []:
            if isinstance(request, dict) and _failed(request.get("responseStatus")):
                url = request.get("name")
                failed.append(("network", f"{request['responseStatus']} {url}"))
        return failed
    return []


def _sentry(data: dict[str, Any]) -> list[tuple[str, str]]:
    """Sentry Replay's breadcrumbs and performance spans."""
    payload = data.get("payload")
    if not isinstance(payload, dict):
        return []
    tag = data.get("tag")
    if tag == "breadcrumb":
        category = payload.get("category")
        message = payload.get("message")
        text = message if isinstance(message, str) else ""
        if category in ("ui.click", "ui.tap"):
            return [("click", text or "Click")]
        if category == "console" and payload.get("level") == "error":
            return [("console", text or "console.error")]
        return []
    if tag == "performanceSpan" and str(payload.get("op", "")).startswith("resource."):
        details = payload.get("data")
        status = details.get("statusCode") if isinstance(details, dict) else None
        if _failed(status):
            return [("network", f"{status} {payload.get('description', '')}")]
    return []


def _sentry_click(event: Any) -> bool:
    data = event.get("data") if event.get("type") == rrweb.CUSTOM else None
    if not isinstance(data, dict) or data.get("tag") != "breadcrumb":
        return False
    payload = data.get("payload")
    return isinstance(payload, dict) and payload.get("category") in ("ui.click", "ui.tap")


def _failed(status: Any) -> bool:
    return isinstance(status, int) and not isinstance(status, bool) and status >= 400
