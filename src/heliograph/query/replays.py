"""What the replay pages and the replay API show: a replay, its timeline and its links.

A replay's page plays its events and lists its moments: pages visited,
clicks, console errors, failed requests (read from the recording,
:mod:`heliograph.replay.summary`) and the error events linked to it, each at
its offset, so a click on the timeline seeks the player there. It links to
the issues of those errors, to the LLM traces of the same session, and to
the person. The API answers in Sentry's shape (``/api/0/.../replays/``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from heliograph.query.serialize import iso
from heliograph.replay.summary import Moment, timeline
from heliograph.store.base import Project
from heliograph.store.contract import Store
from heliograph.store.llm_records import TraceFilter, TraceRecord
from heliograph.store.replay_records import ReplayRecord

__all__ = ["LinkedError", "ReplayPage", "build_replay_page", "replay_json", "replays_url"]


def replays_url(project: Project) -> str:
    return f"/{project.organization_slug}/{project.slug}/replays/"


@dataclass(frozen=True, slots=True)
class LinkedError:
    event_id: str
    issue_id: int | None
    title: str
    offset_ms: int | None  # None: outside the recorded span (or not stored)


@dataclass(frozen=True, slots=True)
class ReplayPage:
    replay: ReplayRecord
    moments: list[Moment]
    errors: list[LinkedError]
    traces: list[TraceRecord]


def build_replay_page(store: Store, project: Project, replay: ReplayRecord) -> ReplayPage:
    events = store.replay_events(project.id, replay.replay_id)
    errors = []
    for event_id in store.replay_error_ids(project.id, replay.replay_id, limit=100):
        stored = store.get_event(project.id, event_id)
        if stored is None:
            continue  # named by the recording, not (yet) stored
        event = stored.event
        title = (
            f"{event.exceptions[0].type}: {event.exceptions[0].value}"
            if event.exceptions
            else event.message or "Error"
        )
        offset = int((event.timestamp - replay.started_at) * 1000)
        inside = 0 <= offset <= int(replay.duration * 1000) + 5000
        errors.append(
            LinkedError(event_id, stored.issue_id, title[:200], offset if inside else None)
        )
    traces, _ = store.llm_traces(
        TraceFilter(project_id=project.id, session_id=replay.replay_id), limit=20
    )
    return ReplayPage(replay, timeline(events, replay.started_at), errors, traces)


def _name_version(text: str | None) -> dict[str, Any]:
    if not text:
        return {"name": None, "version": None}
    name, _, version = text.rpartition(" ")
    if not name or not version[:1].isdigit():
        return {"name": text, "version": None}
    return {"name": name, "version": version}


def replay_json(replay: ReplayRecord, *, error_ids: list[str] | None = None) -> dict[str, Any]:
    """A replay in the shape of Sentry's replay API."""
    found: dict[str, Any] = {
        "id": replay.replay_id,
        "project_id": str(replay.project_id),
        "replay_type": "session",
        "started_at": iso(replay.started_at),
        "finished_at": iso(replay.ended_at),
        "duration": round(replay.duration),
        "count_errors": replay.errors,
        "count_segments": replay.segments,
        "count_urls": 1 if replay.first_url else 0,
        "urls": [replay.first_url] if replay.first_url else [],
        "count_dead_clicks": 0,
        "count_rage_clicks": 0,
        "count_clicks": replay.clicks,
        "count_console_errors": replay.console_errors,
        "count_network_errors": replay.network_errors,
        "user": {
            "id": replay.distinct_id,
            "display_name": replay.distinct_id,
            "email": None,
            "username": None,
            "ip": None,
        },
        "browser": _name_version(replay.browser),
        "os": _name_version(replay.os),
        "device": {"name": replay.device, "brand": None, "model": None, "family": replay.device},
        "environment": replay.environment,
        "releases": [replay.release] if replay.release else [],
        "platform": "javascript",
        "sdk": {"name": replay.source, "version": None},
        "is_archived": False,
        "has_viewed": False,
    }
    if error_ids is not None:
        found["error_ids"] = error_ids
    return found
