"""What each project keeps, in rows and bytes: the admin status page's disk use.

Approximate by design: the bytes of the event documents and of the replay
recordings as written, not what the database spends around them (indexes,
rollups, free pages, a ClickHouse part not merged yet). Those two are what
grows with a project's traffic and what retention frees, so they are what
an admin compares between projects. One grouped scan per table: seconds on
a store of millions of events, which is why the page caches the answer
(:mod:`heliograph.web.pages.admin_status`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["DiskUseMixin", "ProjectDiskUse", "combine"]


@dataclass(frozen=True, slots=True)
class ProjectDiskUse:
    """One project's stored data (a deleted project's too, until retention purges it)."""

    project_id: int
    events: int = 0  # stored events (errors, analytics, LLM calls)
    event_bytes: int = 0  # bytes of their documents
    llm_rows: int = 0  # typed LLM-call rows (their documents are counted in event_bytes)
    replay_bytes: int = 0  # compressed session recordings

    @property
    def total_bytes(self) -> int:
        return self.event_bytes + self.replay_bytes


def combine(
    events: dict[int, tuple[int, int]], llm_rows: dict[int, int], replays: dict[int, int]
) -> list[ProjectDiskUse]:
    """The three per-project figures as one row per project, the largest first."""
    projects = set(events) | set(llm_rows) | set(replays)
    found = [
        ProjectDiskUse(
            project_id,
            events=events.get(project_id, (0, 0))[0],
            event_bytes=events.get(project_id, (0, 0))[1],
            llm_rows=llm_rows.get(project_id, 0),
            replay_bytes=replays.get(project_id, 0),
        )
        for project_id in projects
    ]
    return sorted(found, key=lambda use: (-use.total_bytes, use.project_id))


class DiskUseMixin:
    """For the SQL backends; the class provides ``_rows`` and ``dialect`` (ReplayStoreMixin)."""

    def _rows(self, sql: str, params: Sequence[Any]) -> list[Any]:
        raise NotImplementedError

    def disk_use(self) -> list[ProjectDiskUse]:
        return combine(self._event_sizes(), self._llm_rows(), self._replay_sizes())

    def _event_sizes(self) -> dict[int, tuple[int, int]]:
        # LENGTH of a BLOB (SQLite) or BYTEA (PostgreSQL) is its size in bytes,
        # read from the row header without loading the document.
        rows = self._rows(
            "SELECT project_id, COUNT(*), SUM(LENGTH(data)) FROM events GROUP BY project_id", ()
        )
        return {int(row[0]): (int(row[1]), int(row[2] or 0)) for row in rows}

    def _llm_rows(self) -> dict[int, int]:
        rows = self._rows("SELECT project_id, COUNT(*) FROM llm_events GROUP BY project_id", ())
        return {int(row[0]): int(row[1]) for row in rows}

    def _replay_sizes(self) -> dict[int, int]:
        rows = self._rows("SELECT project_id, SUM(bytes) FROM replays GROUP BY project_id", ())
        return {int(row[0]): int(row[1] or 0) for row in rows}
