"""Retention: what each project keeps, applied by the store in small batches.

The store deletes what is older than each project's ``retention_days``
(``Store.purge_expired``: events, their derived rows, expired sessions and
login links); :class:`RetentionJob` runs it every
``HELIOGRAPH_RETENTION_INTERVAL`` seconds in the digest process, and
``heliograph cleanup`` on demand. An issue's counters are kept: they say how
often it happened since first seen, not how many events are still stored.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from heliograph.store.base import Project

if TYPE_CHECKING:
    from heliograph.store.contract import Retention

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class ProjectPurge:
    """What retention deleted (or, in a dry run, would delete) in one project."""

    project: Project
    cutoff: float
    events: int = 0
    issues: int = 0
    issue_hours: int = 0
    llm_rows: int = 0
    replays: int = 0
    people: int = 0

    @property
    def total(self) -> int:
        return (
            self.events
            + self.issues
            + self.issue_hours
            + self.llm_rows
            + self.replays
            + self.people
        )


@dataclass(slots=True)
class PurgeReport:
    projects: list[ProjectPurge]
    sessions: int = 0
    # Source-map bundles (per organization, so not in a project's counts).
    sourcemaps: int = 0

    @property
    def total(self) -> int:
        return sum(p.total for p in self.projects) + self.sessions + self.sourcemaps


# A deleted project's "retention": a cutoff a century ahead, so that everything
# it stored goes, even events stamped in the future by a client's wrong clock.
DELETED_PROJECT_RETENTION_DAYS = -36500


class _ProjectSource(Protocol):
    def list_projects(self, user_id: int | None = None) -> list[Project]: ...

    def deleted_projects(self) -> list[Project]: ...


def projects_to_purge(store: _ProjectSource) -> list[Project]:
    """The projects a retention pass visits: live ones that keep data for a limited
    time, then deleted ones, whose data all goes."""
    live = [project for project in store.list_projects() if project.retention_days > 0]
    deleted = [
        replace(project, retention_days=DELETED_PROJECT_RETENTION_DAYS)
        for project in store.deleted_projects()
    ]
    return live + deleted


def count_pass(report: PurgeReport | None, seconds: float) -> None:
    """A retention pass's figures for ``/metrics`` (None: it failed).

    Imported here, not at the top: ``heliograph cleanup`` and the stores
    import this module and need no metrics.
    """
    from heliograph.metrics import RETENTION_DELETED, RETENTION_PASSES, STORE_SECONDS

    if report is None:
        RETENTION_PASSES.labels("failed").inc()
        return
    RETENTION_PASSES.labels("ok").inc()
    STORE_SECONDS.labels("retention_pass").observe(seconds)
    deleted = {"sessions": report.sessions, "sourcemaps": report.sourcemaps}
    for purge in report.projects:
        for kind in ("events", "issues", "issue_hours", "llm_rows", "replays", "people"):
            deleted[kind] = deleted.get(kind, 0) + getattr(purge, kind)
    for kind, count in deleted.items():
        if count:
            RETENTION_DELETED.labels(kind).inc(count)


class RetentionJob:
    """A thread that applies retention every ``interval`` seconds, in the digest process."""

    def __init__(self, store: Retention, interval: float, first_delay: float = 30.0) -> None:
        self.store = store
        self.interval = interval
        self.first_delay = min(first_delay, interval)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="retention", daemon=True)

    def start(self) -> None:
        if self.interval > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        delay = self.first_delay
        while not self._stop.wait(delay):
            delay = self.interval
            started = time.monotonic()
            try:
                report = self.store.purge_expired(stop=self._stop)
            except Exception:
                logger.exception("retention pass failed; retrying at the next interval")
                count_pass(None, 0.0)
                continue
            count_pass(report, time.monotonic() - started)
            for purge in report.projects:
                if purge.total:
                    logger.info(
                        "retention: %s/%s: deleted %d events, %d issues, %d LLM rows",
                        purge.project.organization_slug,
                        purge.project.slug,
                        purge.events,
                        purge.issues,
                        purge.llm_rows,
                    )
