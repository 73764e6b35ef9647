"""One piece of a recording as a client sent it, read into plain rrweb events.

posthog-js and the Heliograph snippet send ``$snapshot`` events (to ``/s/``,
or with other events): ``$session_id`` names the replay, ``$snapshot_data``
holds rrweb events, some packed (:func:`heliograph.replay.rrweb.unpack_posthog`).
Sentry Replay sends an envelope per segment: a ``replay_event`` item (the
replay's id, the segment's number, the page's URLs, the error events seen)
and a ``replay_recording`` item (a ``{"segment_id": N}`` line, then the rrweb
events as JSON, usually zlib-compressed).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from heliograph.protocols.errors import IngestError
from heliograph.replay import rrweb

__all__ = ["RecordingPart", "from_posthog", "from_sentry", "replay_id_of"]

# Replay ids and segment names go into blob keys: only these characters.
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MAX_URLS = 50
_MAX_ERROR_IDS = 200
_MAX_SEGMENT_ID = 10**9


@dataclass(slots=True)
class RecordingPart:
    """A segment of a replay, decoded; digest masks, summarises and stores it."""

    project_id: int
    replay_id: str
    segment: str
    source: str  # "posthog" or "sentry"
    events: list[dict[str, Any]]
    received_at: float
    distinct_id: str | None = None
    urls: list[str] = field(default_factory=list)
    error_ids: list[str] = field(default_factory=list)
    user_agent: str | None = None
    environment: str | None = None
    release: str | None = None
    # Whether the client already chose which sessions to record from the
    # project's sample rate (posthog-js and the snippet read it from the
    # remote config); the server samples the others itself.
    sampled_by_client: bool = False


def valid_id(value: Any) -> str | None:
    """``value`` as a replay id or segment name, if it is one (case kept)."""
    return value if isinstance(value, str) and _ID.match(value) else None


def from_posthog(
    raw: Mapping[str, Any],
    *,
    project_id: int,
    received_at: float,
    budget: rrweb.UnpackBudget | None = None,
) -> RecordingPart:
    """A ``$snapshot`` event; ``budget`` bounds what the whole payload may unpack to."""
    properties = raw.get("properties")
    if not isinstance(properties, Mapping):
        raise IngestError("a $snapshot event needs properties")
    replay_id = valid_id(properties.get("$session_id"))
    if replay_id is None:
        raise IngestError("a $snapshot event needs a $session_id (letters, digits, - and _)")
    data = properties.get("$snapshot_data")
    if isinstance(data, dict):  # one rrweb event rather than a list of them
        data = [data]
    if not isinstance(data, list):
        raise IngestError("$snapshot_data must be a list of rrweb events")
    events = rrweb.unpack_posthog(data, budget or rrweb.UnpackBudget(rrweb.MAX_UNPACKED_BYTES))
    segment = valid_id(raw.get("uuid")) or _digest(orjson.dumps(data))
    distinct_id = raw.get("distinct_id") or properties.get("distinct_id")
    return RecordingPart(
        project_id=project_id,
        replay_id=replay_id,
        segment=segment,
        source="posthog",
        events=events,
        received_at=received_at,
        distinct_id=_text(distinct_id, 200),
        urls=[url for url in [_text(properties.get("$current_url"), 2000)] if url],
        user_agent=_text(properties.get("$raw_user_agent"), 1024),
        environment=_text(properties.get("environment") or properties.get("$environment"), 64),
        release=_text(properties.get("release") or properties.get("$release"), 200),
        sampled_by_client=True,
    )


def from_sentry(
    replay_event: Mapping[str, Any] | None,
    recording: bytes | None,
    *,
    envelope_id: str | None,
    project_id: int,
    received_at: float,
) -> RecordingPart:
    """A Sentry Replay segment from its two envelope items (either may be missing)."""
    meta: Mapping[str, Any] = replay_event or {}
    replay_id = valid_id(_hex_id(meta.get("replay_id"))) or valid_id(_hex_id(envelope_id))
    if replay_id is None:
        raise IngestError("a replay needs a replay_id")
    header: dict[str, Any] = {}
    events: list[dict[str, Any]] = []
    if recording is not None:
        first_line, _, body = recording.partition(b"\n")
        try:
            parsed = orjson.loads(first_line)
        except orjson.JSONDecodeError:
            raise IngestError("a replay_recording starts with a JSON header line") from None
        header = parsed if isinstance(parsed, dict) else {}
        try:
            decoded = orjson.loads(rrweb.inflate_recording(body)) if body.strip() else []
        except orjson.JSONDecodeError as exc:
            raise IngestError(f"the replay recording is not JSON: {exc}") from None
        if not isinstance(decoded, list):
            raise IngestError("the replay recording must be a JSON array of rrweb events")
        events = [event for event in decoded if rrweb.is_event(event)]
    segment_id = meta.get("segment_id", header.get("segment_id"))
    if (
        not isinstance(segment_id, int)
        or isinstance(segment_id, bool)
        or not 0 <= segment_id < _MAX_SEGMENT_ID
    ):
        raise IngestError("a replay segment needs a segment_id (a whole number, under 10⁹)")
    user = _mapping(meta.get("user"))
    headers = _mapping(_mapping(meta.get("request")).get("headers"))
    user_agent = next(
        (value for name, value in headers.items() if str(name).lower() == "user-agent"), None
    )
    urls = _list(meta.get("urls"))
    error_ids = _list(meta.get("error_ids"))
    return RecordingPart(
        project_id=project_id,
        replay_id=replay_id,
        segment=f"{segment_id:09d}",
        source="sentry",
        events=events,
        received_at=received_at,
        distinct_id=_text(user.get("id") or user.get("email") or user.get("username"), 200),
        urls=[url for url in (_text(u, 2000) for u in urls[:_MAX_URLS]) if url],
        error_ids=[
            found for found in (valid_id(_hex_id(e)) for e in error_ids[:_MAX_ERROR_IDS]) if found
        ],
        user_agent=_text(user_agent, 1024),
        environment=_text(meta.get("environment"), 64),
        release=_text(meta.get("release"), 200),
    )


def replay_id_of(
    tags: Mapping[str, str], contexts: Mapping[str, Any], session_id: str | None
) -> str | None:
    """The replay an error event happened in: Sentry's ``replay`` context or ``replayId``
    tag, or the PostHog session (a session's replay has the session's id)."""
    replay = contexts.get("replay")
    if isinstance(replay, Mapping):
        found = valid_id(_hex_id(replay.get("replay_id")))
        if found:
            return found
    return valid_id(_hex_id(tags.get("replayId"))) or valid_id(session_id)


def _hex_id(value: Any) -> Any:
    """Sentry's ids are UUIDs, sent with or without dashes: kept as 32 hex digits."""
    if isinstance(value, str) and len(value) == 36 and value.count("-") == 4:
        compact = value.replace("-", "")
        if all(c in "0123456789abcdefABCDEF" for c in compact):
            return compact.lower()
    return value


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]
