"""Everything digest does to a recording before its row is written.

A decoded segment (:class:`~heliograph.replay.recording.RecordingPart`) is
dropped if the project does not record, is outside its sample, or would pass
the bounds (per replay, per project); otherwise its events are masked as the
project's settings say (:mod:`heliograph.replay.privacy`), summarised, gzipped
and written to the blob store *before* the batch's transaction, so the row
that names the blob never exists without it. A blob written for a batch that
then fails is rewritten under the same key when the batch is retried.
"""

from __future__ import annotations

import hashlib
import logging
import time
import zlib
from dataclasses import dataclass

import orjson

from heliograph.digest.client_context import describe_user_agent
from heliograph.replay.privacy import ReplayPrivacy, apply_privacy
from heliograph.replay.recording import RecordingPart
from heliograph.replay.summary import summarize
from heliograph.store.base import Outcome, Project
from heliograph.store.contract import ReplaySink
from heliograph.store.replay_records import ReplaySegment

__all__ = ["ReplayLimits", "ReplayPreparer", "blob_key"]

logger = logging.getLogger(__name__)

CATEGORY = "replay"
# How long the per-project storage figure is trusted before it is read again.
_USAGE_TTL = 60.0


@dataclass(frozen=True, slots=True)
class ReplayLimits:
    """Bounds on what recordings may take (compressed bytes)."""

    per_replay: int = 64 * 1024 * 1024
    per_project: int = 10 * 1024 * 1024 * 1024
    segments_per_replay: int = 5000
    # A segment's events as stored, before compression: what one read inflates to.
    segment_json: int = 16 * 1024 * 1024


def blob_key(project_id: int, replay_id: str, segment: str, blob: bytes) -> str:
    digest = hashlib.sha256(blob).hexdigest()[:16]
    return f"replays/{project_id}/{replay_id}/{segment}-{digest}.json.gz"


def sampled(replay_id: str, percent: int) -> bool:
    """Whether a replay is in the project's sample: the same answer for all its segments."""
    if percent >= 100:
        return True
    bucket = int.from_bytes(hashlib.sha256(replay_id.encode()).digest()[:4], "big") % 100
    return bucket < percent


class ReplayPreparer:
    """Prepares recordings for one digest worker.

    Bounds are checked against what is committed (read from the store) plus
    what the batch being prepared adds: a batch that fails and is prepared
    again is not counted twice, and a segment already stored is skipped
    before its blob is written again.
    """

    def __init__(self, store: ReplaySink, limits: ReplayLimits | None = None) -> None:
        self.store = store
        self.limits = limits or ReplayLimits()
        self._usage: dict[int, tuple[float, int]] = {}  # committed bytes, read at most every minute
        self._pending: dict[tuple[int, str], tuple[int, int]] = {}
        self._pending_usage: dict[int, int] = {}
        self._pending_segments: set[tuple[int, str, str]] = set()

    def new_batch(self) -> None:
        """Forget what the previous batch added: it committed, or it is prepared again."""
        self._pending.clear()
        self._pending_usage.clear()
        self._pending_segments.clear()

    def prepare(self, part: RecordingPart, project: Project) -> ReplaySegment | Outcome | None:
        """The segment to record (its blob written), the outcome of dropping it, or None
        when it is stored already (a client's retry, a replayed payload)."""
        dropped = self._refusal(part, project)
        if dropped:
            return Outcome(project.id, CATEGORY, "filtered", dropped, 1)
        segment_key = (part.project_id, part.replay_id, part.segment)
        if segment_key in self._pending_segments or self.store.replay_segment_exists(*segment_key):
            return None
        privacy = ReplayPrivacy(
            unmask_text=project.replay_unmask_text, record_media=project.replay_record_media
        )
        try:
            events = apply_privacy(part.events, privacy)
            summary = summarize(events, received_at=part.received_at)
            document = orjson.dumps(events)
        except (TypeError, ValueError, RecursionError) as exc:
            # Not rrweb's shapes, or nested past what can be written back out.
            logger.info("unreadable recording of replay %s: %s", part.replay_id, exc)
            return Outcome(project.id, CATEGORY, "invalid", "replay_unreadable", 1)
        if len(document) > self.limits.segment_json:
            return Outcome(project.id, CATEGORY, "rate_limited", "replay_segment_too_large", 1)
        blob = zlib.compress(document, 6)
        over = self._over_limits(part, len(blob))
        if over:
            return Outcome(project.id, CATEGORY, "rate_limited", over, 1)
        # The content's digest in the key: a segment sent again with other content
        # cannot replace the blob its row names.
        key = blob_key(part.project_id, part.replay_id, part.segment, blob)
        self.store.blobs.put(key, blob)
        self._pending_segments.add(segment_key)
        browser, system, device = (
            describe_user_agent(part.user_agent) if part.user_agent else (None, None, None)
        )
        return ReplaySegment(
            project_id=part.project_id,
            replay_id=part.replay_id,
            segment=part.segment,
            source=part.source,
            started_at=summary.started_at,
            ended_at=summary.ended_at,
            events=summary.events,
            bytes=len(blob),
            blob_key=key,
            distinct_id=part.distinct_id,
            first_url=next(iter(part.urls or summary.urls), None),
            clicks=summary.clicks,
            console_errors=summary.console_errors,
            network_errors=summary.network_errors,
            browser=browser,
            os=system,
            device=device,
            environment=part.environment,
            release=part.release,
            error_ids=tuple(part.error_ids),
        )

    def _refusal(self, part: RecordingPart, project: Project) -> str | None:
        if not project.replay_enabled:
            return "replay_disabled"
        if project.replay_sample_percent <= 0 or (
            not part.sampled_by_client
            and not sampled(part.replay_id, project.replay_sample_percent)
        ):
            return "replay_sampled_out"
        if not part.events and not part.error_ids:
            return "replay_empty"
        return None

    def _over_limits(self, part: RecordingPart, size: int) -> str | None:
        key = (part.project_id, part.replay_id)
        found = self.store.get_replay(part.project_id, part.replay_id)
        added_bytes, added_segments = self._pending.get(key, (0, 0))
        replay_bytes = (found.bytes if found else 0) + added_bytes
        segments = (found.segments if found else 0) + added_segments
        if replay_bytes + size > self.limits.per_replay:
            return "replay_too_large"
        if segments + 1 > self.limits.segments_per_replay:
            return "replay_too_many_segments"
        checked_at, usage = self._usage.get(part.project_id, (0.0, 0))
        if time.monotonic() - checked_at > _USAGE_TTL:
            usage = self.store.replay_usage(part.project_id)
            self._usage[part.project_id] = (time.monotonic(), usage)
        pending = self._pending_usage.get(part.project_id, 0)
        if usage + pending + size > self.limits.per_project:
            return "replay_project_full"
        self._pending_usage[part.project_id] = pending + size
        self._pending[key] = (added_bytes + size, added_segments + 1)
        return None
