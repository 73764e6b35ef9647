"""One digest worker's figures for ``/metrics``: throughput, errors, health.

The labelled series are bound once per worker (``labels()`` looks a child up
under a lock): a batch then costs a handful of increments, not look-ups.
The heartbeat is written at most once a second, however fast the loop polls.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from heliograph.metrics import (
    DIGEST_BATCH_SECONDS,
    DIGEST_DEAD_LETTERED,
    DIGEST_ERRORS,
    DIGEST_EVENTS,
    DIGEST_HEARTBEAT,
    DIGEST_LAST_BATCH,
    DIGEST_PAYLOADS,
    STORE_SECONDS,
    worker_name,
)

__all__ = ["DigestFigures"]

HEARTBEAT_SECONDS = 1.0
ERRORS = ("batch_failed", "store_unavailable", "unexpected")
EVENT_KINDS = ("error", "analytics", "replay")


class DigestFigures:
    def __init__(self, worker: str | None = None) -> None:
        self.worker = worker or worker_name()
        self._batch_seconds = DIGEST_BATCH_SECONDS.labels(self.worker)
        self._commit_seconds = STORE_SECONDS.labels("digest_commit")
        self._dead = DIGEST_DEAD_LETTERED.labels(self.worker)
        self._last_batch = DIGEST_LAST_BATCH.labels(self.worker)
        self._heartbeat = DIGEST_HEARTBEAT.labels(self.worker)
        self._events = {kind: DIGEST_EVENTS.labels(self.worker, kind) for kind in EVENT_KINDS}
        self._errors = {error: DIGEST_ERRORS.labels(self.worker, error) for error in ERRORS}
        self._beat_at = 0.0

    def prepared(self, seconds: float) -> None:
        self._batch_seconds.observe(seconds)

    def committed(
        self, payload_kinds: Iterable[str], events: Mapping[str, int], commit_seconds: float
    ) -> None:
        """A batch is in the store and off the queue: its payloads and events count."""
        counts: dict[str, int] = {}
        for kind in payload_kinds:
            counts[kind] = counts.get(kind, 0) + 1
        for kind, count in counts.items():
            DIGEST_PAYLOADS.labels(self.worker, kind).inc(count)
        for kind, count in events.items():
            if count:
                self._events[kind].inc(count)
        self._commit_seconds.observe(commit_seconds)
        self._last_batch.set(time.time())

    def dead_lettered(self, count: int) -> None:
        if count:
            self._dead.inc(count)

    def failed(self, error: str) -> None:
        """``error`` is one of :data:`ERRORS`."""
        self._errors[error].inc()

    def beat(self) -> None:
        """The loop went round: the worker is alive, busy or idle."""
        now = time.monotonic()
        if now - self._beat_at >= HEARTBEAT_SECONDS:
            self._beat_at = now
            self._heartbeat.set(time.time())
