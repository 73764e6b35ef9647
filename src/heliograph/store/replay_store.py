"""Session replays, one implementation for every SQL backend.

The database keeps what finds and links replays -- a row per replay (its
summary, summed from its segments), a row per segment (which blob holds its
events) and the error events seen during it -- and the blob store
(:mod:`heliograph.store.blobs`) keeps the events themselves, compressed.

Writing is idempotent like the rest of digest's transaction: a segment is
keyed by (project, replay, segment), and only a segment written for the first
time adds to its replay's sums and counts as an accepted ``replay`` outcome.
Links to error events come from both sides (an error naming its replay, a
replay listing its errors), in whichever order they arrive; the issue is
filled in once the error is stored.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections.abc import Sequence
from typing import Any, ClassVar, Generic

import orjson

from heliograph.store.account_reads import DbT
from heliograph.store.base import Outcome
from heliograph.store.blobs import BlobStore
from heliograph.store.replay_records import (
    ReplayError,
    ReplayFilter,
    ReplayRecord,
    ReplaySegment,
    SegmentRecord,
)
from heliograph.store.sql_dialect import SqlDialect

__all__ = ["ReplayStoreMixin", "record_replay_errors", "record_replays"]

logger = logging.getLogger(__name__)

# The most one segment's blob may inflate to when read back (digest stores none
# larger), and the most a whole replay's segments together: past it the player
# gets the replay's beginning.
MAX_SEGMENT_BYTES = 16 * 1024 * 1024
MAX_REPLAY_BYTES = 128 * 1024 * 1024

_REPLAY_COLUMNS = (
    "r.project_id, r.replay_id, r.source, r.started_at, r.ended_at, r.segments, r.events, "
    "r.bytes, r.distinct_id, r.first_url, r.clicks, r.console_errors, r.network_errors, "
    "r.browser, r.os, r.device, r.environment, r.release, "
    "(SELECT COUNT(*) FROM replay_errors e WHERE e.project_id = r.project_id "
    "AND e.replay_id = r.replay_id)"
)
_SEGMENT_COLUMNS = "project_id, replay_id, segment, started_at, ended_at, events, bytes, blob_key"

_INSERT_SEGMENT = """
INSERT INTO replay_segments (project_id, replay_id, segment, started_at, ended_at, events,
    bytes, blob_key)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (project_id, replay_id, segment) DO NOTHING
"""

# A new segment's sums join its replay's; the earliest segment decides the first URL.
_UPSERT_REPLAY = """
INSERT INTO replays (project_id, replay_id, source, started_at, ended_at, segments, events,
    bytes, distinct_id, first_url, clicks, console_errors, network_errors, browser, os,
    device, environment, release)
VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (project_id, replay_id) DO UPDATE SET
    first_url = CASE WHEN excluded.started_at < replays.started_at
        THEN COALESCE(excluded.first_url, replays.first_url)
        ELSE COALESCE(replays.first_url, excluded.first_url) END,
    started_at = CASE WHEN excluded.started_at < replays.started_at
        THEN excluded.started_at ELSE replays.started_at END,
    ended_at = CASE WHEN excluded.ended_at > replays.ended_at
        THEN excluded.ended_at ELSE replays.ended_at END,
    segments = replays.segments + 1,
    events = replays.events + excluded.events,
    bytes = replays.bytes + excluded.bytes,
    distinct_id = COALESCE(excluded.distinct_id, replays.distinct_id),
    clicks = replays.clicks + excluded.clicks,
    console_errors = replays.console_errors + excluded.console_errors,
    network_errors = replays.network_errors + excluded.network_errors,
    browser = COALESCE(replays.browser, excluded.browser),
    os = COALESCE(replays.os, excluded.os),
    device = COALESCE(replays.device, excluded.device),
    environment = COALESCE(replays.environment, excluded.environment),
    release = COALESCE(replays.release, excluded.release)
"""


def _link_sql(events_table: str) -> str:
    """Link an error to a replay, with the error's issue if the error is stored yet."""
    return f"""
INSERT INTO replay_errors (project_id, replay_id, event_id, issue_id, linked_at)
VALUES (?, ?, ?, (SELECT issue_id FROM {events_table} WHERE project_id = ? AND event_id = ?), ?)
ON CONFLICT (project_id, replay_id, event_id) DO UPDATE SET
    issue_id = COALESCE(excluded.issue_id, replay_errors.issue_id)
"""


def record_replays(
    conn: Any,
    dialect: SqlDialect,
    segments: Sequence[ReplaySegment],
    errors: Sequence[ReplayError],
    events_table: str,
) -> list[Outcome]:
    """Write a batch's segments, then every error link (the errors naming a replay and
    the replays naming errors), each in key order: one lock order on every node.
    Call it after the batch's errors are written, so that links find their issue.

    Returns an accepted ``replay`` outcome per segment written for the first time.
    """
    accepted: dict[int, int] = {}
    links: list[ReplayError] = list(errors)
    seen: set[tuple[int, str, str]] = set()
    for seg in sorted(segments, key=lambda s: (s.project_id, s.replay_id, s.segment)):
        key = (seg.project_id, seg.replay_id, seg.segment)
        if key in seen:
            continue
        seen.add(key)
        links += [ReplayError(seg.project_id, seg.replay_id, e) for e in seg.error_ids]
        cursor = conn.execute(
            dialect.sql(_INSERT_SEGMENT),
            (*key, seg.started_at, seg.ended_at, seg.events, seg.bytes, seg.blob_key),
        )
        if cursor.rowcount != 1:
            continue  # written before: a replayed batch
        conn.execute(
            dialect.sql(_UPSERT_REPLAY),
            (
                seg.project_id,
                seg.replay_id,
                seg.source,
                seg.started_at,
                seg.ended_at,
                seg.events,
                seg.bytes,
                seg.distinct_id,
                seg.first_url,
                seg.clicks,
                seg.console_errors,
                seg.network_errors,
                seg.browser,
                seg.os,
                seg.device,
                seg.environment,
                seg.release,
            ),
        )
        accepted[seg.project_id] = accepted.get(seg.project_id, 0) + 1
    record_replay_errors(conn, dialect, links, events_table)
    return [Outcome(pid, "replay", "accepted", "", n) for pid, n in sorted(accepted.items())]


def record_replay_errors(
    conn: Any, dialect: SqlDialect, links: Sequence[ReplayError], events_table: str
) -> None:
    """Link error events to replays (after the batch's errors are written)."""
    if not links:
        return
    rows = sorted({(link.project_id, link.replay_id, link.event_id) for link in links})
    now = time.time()
    cursor = conn.cursor()
    try:
        cursor.executemany(
            dialect.sql(_link_sql(events_table)),
            [(pid, rid, eid, pid, eid, now) for pid, rid, eid in rows],
        )
    finally:
        cursor.close()


def _decode_cursor(cursor: str) -> tuple[float, str]:
    """A list cursor: the last replay's start and id. ValueError when malformed."""
    value, _, replay_id = cursor.partition(":")
    try:
        return float(value), replay_id
    except ValueError:
        raise ValueError(f"invalid cursor {cursor[:60]!r}") from None


def _replay(row: Sequence[Any]) -> ReplayRecord:
    values = list(row)
    for index in (0, 5, 6, 7, 10, 11, 12, 18):
        values[index] = int(values[index])
    values[3] = float(values[3])
    values[4] = float(values[4])
    return ReplayRecord(*values)


def _segment(row: Sequence[Any]) -> SegmentRecord:
    return SegmentRecord(
        int(row[0]), row[1], row[2], float(row[3]), float(row[4]), int(row[5]), int(row[6]), row[7]
    )


class ReplayStoreMixin(Generic[DbT]):
    """Replays shared by the backends; the class provides ``db``, ``dialect``, ``blobs``."""

    db: DbT
    dialect: ClassVar[SqlDialect]
    blobs: BlobStore

    def _rows(self, sql: str, params: Sequence[Any]) -> list[Any]:
        statement = self.dialect.sql(sql)
        return self.db.read(lambda conn: conn.execute(statement, params).fetchall())

    def get_replay(self, project_id: int, replay_id: str) -> ReplayRecord | None:
        rows = self._rows(
            f"SELECT {_REPLAY_COLUMNS} FROM replays r WHERE r.project_id = ? AND r.replay_id = ?",
            (project_id, replay_id),
        )
        return _replay(rows[0]) if rows else None

    def replay_segment_exists(self, project_id: int, replay_id: str, segment: str) -> bool:
        rows = self._rows(
            "SELECT 1 FROM replay_segments WHERE project_id = ? AND replay_id = ? AND segment = ?",
            (project_id, replay_id, segment),
        )
        return bool(rows)

    def replay_usage(self, project_id: int) -> int:
        """Compressed bytes of recordings the project keeps."""
        rows = self._rows(
            f"SELECT {self.dialect.int_sum('bytes')} FROM replays WHERE project_id = ?",
            (project_id,),
        )
        return int(rows[0][0] or 0)

    def list_replays(
        self, filters: ReplayFilter, *, limit: int, cursor: str | None = None
    ) -> tuple[list[ReplayRecord], str | None]:
        """Newest first; a page ends where the next starts (started_at, replay id)."""
        where = ["r.project_id = ?"]
        params: list[Any] = [filters.project_id]
        if filters.distinct_id is not None:
            where.append("r.distinct_id = ?")
            params.append(filters.distinct_id)
        if filters.since is not None:
            where.append("r.started_at >= ?")
            params.append(filters.since)
        if filters.min_seconds:
            where.append("r.ended_at - r.started_at >= ?")
            params.append(filters.min_seconds)
        if filters.with_errors:
            where.append(
                "EXISTS (SELECT 1 FROM replay_errors e WHERE e.project_id = r.project_id "
                "AND e.replay_id = r.replay_id)"
            )
        if cursor:
            started_at, replay_id = _decode_cursor(cursor)
            where.append(
                "(r.started_at < ? OR (r.started_at = ? "
                f"AND r.replay_id{self.dialect.text_order} < ?))"
            )
            params += [started_at, started_at, replay_id]
        rows = self._rows(
            f"SELECT {_REPLAY_COLUMNS} FROM replays r WHERE {' AND '.join(where)} "
            f"ORDER BY r.started_at DESC, r.replay_id{self.dialect.text_order} DESC LIMIT ?",
            (*params, limit + 1),
        )
        found = [_replay(row) for row in rows[:limit]]
        more = len(rows) > limit
        last = found[-1] if found else None
        return found, f"{last.started_at!r}:{last.replay_id}" if more and last else None

    def replay_segments(self, project_id: int, replay_id: str) -> list[SegmentRecord]:
        rows = self._rows(
            f"SELECT {_SEGMENT_COLUMNS} FROM replay_segments WHERE project_id = ? "
            f"AND replay_id = ? ORDER BY started_at, segment{self.dialect.text_order}",
            (project_id, replay_id),
        )
        return [_segment(row) for row in rows]

    def replay_segment_events(self, segment: SegmentRecord) -> list[dict[str, Any]]:
        """One segment's rrweb events, as stored (masked); [] if its blob is gone or
        cannot be read."""
        return self._segment_events(segment)[0]

    def _segment_events(self, segment: SegmentRecord) -> tuple[list[dict[str, Any]], int]:
        """The segment's events and how many bytes they inflated from."""
        blob = self.blobs.get(segment.blob_key)
        if blob is None:
            return [], 0
        try:
            inflater = zlib.decompressobj()
            data = inflater.decompress(blob, MAX_SEGMENT_BYTES)
            if inflater.unconsumed_tail:
                raise ValueError("larger than a segment may be")
            events = orjson.loads(data)
        except (zlib.error, ValueError) as exc:  # orjson's decode error is a ValueError
            logger.warning("replay segment %s is unreadable: %s", segment.blob_key, exc)
            return [], 0
        return (events if isinstance(events, list) else []), len(data)

    def replay_events(self, project_id: int, replay_id: str) -> list[dict[str, Any]]:
        """Every stored rrweb event of the replay, in time order (what the player plays),
        up to :data:`MAX_REPLAY_BYTES` of them."""
        events: list[dict[str, Any]] = []
        total = 0
        for segment in self.replay_segments(project_id, replay_id):
            found, size = self._segment_events(segment)
            total += size
            if total > MAX_REPLAY_BYTES:
                logger.warning("replay %s is read up to its first %d bytes", replay_id, total)
                break
            events += found
        events.sort(key=lambda event: event.get("timestamp", 0) if isinstance(event, dict) else 0)
        return events

    def replay_error_ids(self, project_id: int, replay_id: str, *, limit: int = 200) -> list[str]:
        rows = self._rows(
            "SELECT event_id FROM replay_errors WHERE project_id = ? AND replay_id = ? "
            f"ORDER BY event_id{self.dialect.text_order} LIMIT ?",
            (project_id, replay_id, limit),
        )
        return [row[0] for row in rows]

    def issue_replays(self, issue_id: int, *, limit: int = 20) -> list[ReplayRecord]:
        """Replays in which the issue's events happened, newest first."""
        rows = self._rows(
            f"SELECT {_REPLAY_COLUMNS} FROM replays r JOIN (SELECT DISTINCT l.project_id, "
            "l.replay_id FROM replay_errors l JOIN issues i ON i.id = l.issue_id "
            "AND i.project_id = l.project_id WHERE l.issue_id = ?) e "
            "ON e.project_id = r.project_id AND e.replay_id = r.replay_id "
            "ORDER BY r.started_at DESC LIMIT ?",
            (issue_id, limit),
        )
        return [_replay(row) for row in rows]

    def delete_replay(self, project_id: int, replay_id: str) -> bool:
        """Forget a replay: its rows, then its blobs (a crash between leaves only orphans)."""
        segments = self.replay_segments(project_id, replay_id)

        def write(conn: Any) -> int:
            for table in ("replay_segments", "replay_errors"):
                conn.execute(
                    self.dialect.sql(f"DELETE FROM {table} WHERE project_id = ? AND replay_id = ?"),
                    (project_id, replay_id),
                )
            cursor = conn.execute(
                self.dialect.sql("DELETE FROM replays WHERE project_id = ? AND replay_id = ?"),
                (project_id, replay_id),
            )
            return int(cursor.rowcount)

        deleted = self.db.write(write)
        self.blobs.delete(segment.blob_key for segment in segments)
        return deleted > 0

    def purge_replays(
        self,
        project_id: int,
        cutoff: float,
        *,
        dry_run: bool,
        stop: threading.Event | None = None,
        batch: int = 100,
    ) -> int:
        """Delete the project's replays that ended before ``cutoff``; returns how many."""
        total = 0
        while stop is None or not stop.is_set():
            rows = self._rows(
                "SELECT replay_id FROM replays WHERE project_id = ? AND ended_at < ? "
                "ORDER BY ended_at LIMIT ?",
                (project_id, cutoff, batch if not dry_run else 1_000_000),
            )
            if dry_run:
                return len(rows)
            for (replay_id,) in rows:
                self.delete_replay(project_id, replay_id)
            total += len(rows)
            if len(rows) < batch:
                break
        # Links to sessions never recorded (every PostHog error names its session).
        self.db.write(
            lambda conn: conn.execute(
                self.dialect.sql(
                    "DELETE FROM replay_errors WHERE project_id = ? AND linked_at < ? "
                    "AND NOT EXISTS (SELECT 1 FROM replays r WHERE r.project_id = "
                    "replay_errors.project_id AND r.replay_id = replay_errors.replay_id)"
                ),
                (project_id, cutoff),
            )
        )
        return total
