"""The record types of session replays, as the storage contract speaks them.

A replay is a browser session's recording, made of segments: each a
compressed blob of rrweb events in the blob store, named by a database row.
Digest writes :class:`ReplaySegment` rows (the summary of what one segment
holds); readers get :class:`ReplayRecord` (the whole replay's summary) and
:class:`SegmentRecord` (where each segment's events are).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ReplaySegment:
    """One recorded segment, prepared by digest, its blob already written."""

    project_id: int
    replay_id: str
    segment: str  # unique within the replay; a segment written twice is skipped
    source: str  # "posthog" (posthog-js, the Heliograph snippet) or "sentry"
    started_at: float
    ended_at: float
    events: int
    bytes: int  # of the compressed blob
    blob_key: str
    distinct_id: str | None = None
    first_url: str | None = None
    clicks: int = 0
    console_errors: int = 0
    network_errors: int = 0
    browser: str | None = None
    os: str | None = None
    device: str | None = None
    environment: str | None = None
    release: str | None = None
    # Error events the client says happened during the segment (Sentry's error_ids).
    error_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ReplayRecord:
    project_id: int
    replay_id: str
    source: str
    started_at: float
    ended_at: float
    segments: int
    events: int
    bytes: int
    distinct_id: str | None
    first_url: str | None
    clicks: int
    console_errors: int
    network_errors: int
    browser: str | None
    os: str | None
    device: str | None
    environment: str | None
    release: str | None
    errors: int  # error events linked to the replay

    @property
    def duration(self) -> float:
        return max(0.0, self.ended_at - self.started_at)


@dataclass(frozen=True, slots=True)
class SegmentRecord:
    project_id: int
    replay_id: str
    segment: str
    started_at: float
    ended_at: float
    events: int
    bytes: int
    blob_key: str


@dataclass(frozen=True, slots=True)
class ReplayFilter:
    """Which replays a list shows (newest first)."""

    project_id: int
    distinct_id: str | None = None
    since: float | None = None
    min_seconds: int = 0
    with_errors: bool = False


@dataclass(frozen=True, slots=True)
class ReplayError:
    """An error event linked to a replay (from either side)."""

    project_id: int
    replay_id: str
    event_id: str
