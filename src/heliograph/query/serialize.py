"""Issues and events in the shapes of Sentry's public web API.

Scripts and tools written against Sentry's API read these; field names and
types (``count`` as a string, ISO dates, ``entries``) follow Sentry's.
"""

from __future__ import annotations

from typing import Any

from heliograph.digest.titles import TITLE_MAX_CHARS, event_title
from heliograph.model import Event, Exception_, Frame
from heliograph.query.dates import iso as iso
from heliograph.query.llm_json import generation_json
from heliograph.store.base import Issue, Project, StoredEvent, TagCount
from heliograph.store.llm_shaping import is_llm_event, llm_record


def project_json(project: Project) -> dict[str, Any]:
    return {
        "id": str(project.id),
        "slug": project.slug,
        "name": project.name,
        "platform": project.platform,
        "organization": {"slug": project.organization_slug},
    }


def short_id(project: Project, issue: Issue) -> str:
    """``PROJ-12``: the issue's number in its project (its id only before it has one)."""
    return f"{project.slug.upper()}-{issue.short_number or issue.id}"


def status_details(issue: Issue) -> dict[str, Any]:
    if issue.status == "resolved" and issue.substatus == "in_next_release":
        return {"inNextRelease": True, "inRelease": issue.resolved_in_release}
    return {}


def issue_json(
    issue: Issue,
    project: Project,
    *,
    base_url: str,
    trend: list[int] | None = None,
    trend_end_hour: int | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(issue.id),
        "shortId": short_id(project, issue),
        "title": issue.title,
        "culprit": issue.culprit,
        "permalink": f"{base_url}/issues/{issue.id}/",
        "level": issue.level,
        "status": issue.status,
        "substatus": issue.substatus,
        "statusDetails": status_details(issue),
        "platform": issue.platform,
        "project": project_json(project),
        "type": "error",
        "metadata": _metadata(issue.title),
        "count": str(issue.times_seen),
        "userCount": issue.users_seen,
        "firstSeen": iso(issue.first_seen),
        "lastSeen": iso(issue.last_seen),
        "firstRelease": _release(issue.first_release),
        "lastRelease": _release(issue.last_release),
        "groupingVersion": issue.grouping_version,
        "isPublic": False,
        "isBookmarked": False,
        "hasSeen": False,
        "assignedTo": None,
        "numComments": 0,
        "annotations": [],
    }
    if trend is not None and trend_end_hour is not None:
        start = trend_end_hour - len(trend) + 1
        data["stats"] = {"24h": [[(start + i) * 3600, n] for i, n in enumerate(trend)]}
    return data


def _release(version: str | None) -> dict[str, Any] | None:
    return {"version": version, "shortVersion": version} if version else None


def _metadata(title: str) -> dict[str, str]:
    type_, sep, value = title.partition(": ")
    if sep and type_ and " " not in type_:
        return {"type": type_, "value": value, "title": title}
    return {"title": title}


def tags_json(tags: list[TagCount]) -> list[dict[str, Any]]:
    grouped: dict[str, list[TagCount]] = {}
    for tag in tags:
        grouped.setdefault(tag.key, []).append(tag)
    return [
        {
            "key": key,
            "name": key,
            "totalValues": sum(t.count for t in values),
            "topValues": [
                {"key": key, "name": t.value, "value": t.value, "count": t.count} for t in values
            ],
        }
        for key, values in grouped.items()
    ]


def frame_json(frame: Frame) -> dict[str, Any]:
    context: list[list[Any]] = []
    if frame.lineno is not None and frame.context_line is not None:
        first = frame.lineno - len(frame.pre_context)
        lines = [*frame.pre_context, frame.context_line, *frame.post_context]
        context = [[first + i, line] for i, line in enumerate(lines)]
    return {
        "filename": frame.filename,
        "absPath": frame.abs_path,
        "module": frame.module,
        "function": frame.function,
        "lineNo": frame.lineno,
        "colNo": frame.colno,
        "inApp": frame.in_app,
        "context": context,
        "vars": frame.vars,
        "platform": frame.platform,
        # Sentry's frame.data: which source map resolved it (absent: not resolved).
        "data": _sourcemap_data(frame.minified) if frame.minified else None,
    }


def _sourcemap_data(minified: dict[str, Any]) -> dict[str, Any]:
    return {
        "sourcemap": minified.get("sourcemap"),
        "resolved_with": minified.get("resolved_with"),
        "debug_id": minified.get("debug_id"),
    }


def raw_frame_json(frame: Frame) -> dict[str, Any]:
    """The frame as the client sent it, before source maps (Sentry's raw_stacktrace)."""
    if not frame.minified:
        return frame_json(frame)
    raw = frame.minified
    context_line = raw.get("context_line")
    return {
        "filename": raw.get("filename"),
        "absPath": raw.get("abs_path"),
        "module": None,
        "function": raw.get("function"),
        "lineNo": raw.get("lineno"),
        "colNo": raw.get("colno"),
        "inApp": frame.in_app,
        "context": [[raw.get("lineno"), context_line]] if context_line is not None else [],
        "vars": frame.vars,
        "platform": frame.platform,
        "data": None,
    }


def _raw_stacktrace(frames: list[Frame]) -> dict[str, Any] | None:
    if not any(f.minified for f in frames):
        return None
    return {"frames": [raw_frame_json(f) for f in frames]}


def exception_json(exc: Exception_) -> dict[str, Any]:
    mechanism = None
    if exc.mechanism is not None:
        mechanism = {
            "type": exc.mechanism.type,
            "handled": exc.mechanism.handled,
            "synthetic": exc.mechanism.synthetic,
            "exception_id": exc.mechanism.exception_id,
            "parent_id": exc.mechanism.parent_id,
            "is_exception_group": exc.mechanism.is_exception_group,
        }
    return {
        "type": exc.type,
        "value": exc.value,
        "module": exc.module,
        "mechanism": mechanism,
        "stacktrace": {"frames": [frame_json(f) for f in exc.frames]} if exc.frames else None,
        "rawStacktrace": _raw_stacktrace(exc.frames),
    }


def _entries(event: Event) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    if event.exceptions:
        # Sentry's order: the root cause first, the exception that crashed last.
        values = [exception_json(e) for e in reversed(event.exceptions)]
        has_system = any(not f.in_app for e in event.exceptions for f in e.frames)
        entries.append(
            {"type": "exception", "data": {"values": values, "hasSystemFrames": has_system}}
        )
    elif event.stacktrace:
        frames = {"frames": [frame_json(f) for f in event.stacktrace]}
        entries.append(
            {"type": "stacktrace", "data": frames, "raw": _raw_stacktrace(event.stacktrace)}
        )
    if event.message:
        entries.append({"type": "message", "data": {"formatted": event.message}})
    if event.breadcrumbs:
        crumbs = [
            {
                "timestamp": iso(b.timestamp),
                "type": b.type or "default",
                "category": b.category,
                "level": b.level or "info",
                "message": b.message,
                "data": b.data,
            }
            for b in event.breadcrumbs
        ]
        entries.append({"type": "breadcrumbs", "data": {"values": crumbs}})
    if event.request:
        entries.append({"type": "request", "data": event.request})
    return entries


def event_json(stored: StoredEvent, *, title: str | None = None) -> dict[str, Any]:
    event = stored.event
    user = None
    if event.user is not None:
        user = {
            "id": event.user.id,
            "email": event.user.email,
            "username": event.user.username,
            "ip_address": event.user.ip_address,
            "ip_hash": event.user.ip_hash,
            "name": event.user.name,
            "data": event.user.data,
        }
    tags = [{"key": k, "value": v} for k, v in sorted(event.tags.items())]
    for key in ("environment", "release", "level", "server_name"):
        if key == "level" and event.kind == "analytics":
            continue  # only the model's default, not the event's (see _analytics_fields)
        value = getattr(event, key)
        if value and key not in event.tags:
            tags.append({"key": key, "value": str(value)})
    data: dict[str, Any] = {
        "id": event.event_id,
        "eventID": event.event_id,
        "groupID": str(stored.issue_id) if stored.issue_id is not None else None,
        "projectID": str(stored.project_id),
        "title": title or event_title(event),
        "message": event.message or "",
        "platform": event.platform,
        "type": "error" if event.kind == "error" else "default",
        "level": event.level,
        "logger": event.logger,
        "culprit": event.transaction,
        "dateCreated": iso(event.timestamp),
        "dateReceived": iso(event.received_at),
        "environment": event.environment,
        "release": _release(event.release),
        "user": user,
        "tags": tags,
        "contexts": event.contexts,
        "extra": event.extra,
        "sdk": {"name": event.sdk_name, "version": event.sdk_version} if event.sdk_name else None,
        "fingerprints": event.fingerprint or [],
        "entries": _entries(event),
        "traceId": event.trace_id,
        "distinctId": event.distinct_id,
        "errors": [],
    }
    if event.kind == "analytics":
        data.update(_analytics_fields(event, title))
    return data


def _analytics_title(event: Event) -> str:
    """``$ai_generation: summarize (gpt-4o)``: the event's name, then what it did.

    An analytics event has no exception or message, so the error title
    would be ``<unlabeled event>``.
    """
    title = event.name
    if is_llm_event(event):
        record = llm_record(event, 0)
        label, model = record.span_name, record.model
        if label and model and label != model:
            title = f"{title}: {label} ({model})"
        elif label or model:
            title = f"{title}: {label or model}"
    return title if len(title) <= TITLE_MAX_CHARS else title[: TITLE_MAX_CHARS - 1] + "…"


def _analytics_fields(event: Event, title: str | None) -> dict[str, Any]:
    """What an analytics event is: its name and properties (payloads as stored), and
    for an ``$ai_*`` event the model, tokens, cost and latency the store reads from them.

    Its level is ``info``: the model's default level (``error``) is an error
    event's; a failed LLM call says so in ``llm.isError``.
    """
    fields: dict[str, Any] = {
        "title": title or _analytics_title(event),
        "level": "info",
        "name": event.name,
        "properties": event.properties,
        "llm": None,
    }
    if is_llm_event(event):
        fields["llm"] = generation_json(llm_record(event, 0))
    return fields
