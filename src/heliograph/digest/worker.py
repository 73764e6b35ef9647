"""The digest worker: queued payloads in, stored events and issues out.

One background thread per server. It takes the oldest payloads from the ingest
queue, decodes them into canonical events, scrubs, groups and prices them, and
commits the whole batch to the store in one transaction before deleting the
payloads from the queue. It may lag under a burst; it never loses work: a
crash between the two commits replays the batch, and the store skips event ids
it already has.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass

from heliograph.digest.prepare import prepare_event
from heliograph.ingest.adapters import decode_payload
from heliograph.ingest.errors import IngestError
from heliograph.ingest.queue import IngestQueue, QueuedPayload
from heliograph.store.base import DigestBatch, GroupedEvent, Outcome, Project
from heliograph.store.sqlite import SQLiteStore

logger = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class _InFlight:
    """A batch handed to the store's writer, not yet known to be committed."""

    committed: Future[None]
    payloads: list[QueuedPayload]


class DigestWorker:
    def __init__(self, queue: IngestQueue, store: SQLiteStore, *, batch_size: int = 500) -> None:
        self.queue = queue
        self.store = store
        self.batch_size = batch_size
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._projects: dict[int, Project | None] = {}

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="digest", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self.queue.wake()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        """Prepare batch N+1 while batch N commits; delete N from the queue once it has.

        After any failure, start again from the head of the queue: whatever
        was committed is skipped by event id, nothing is lost.
        """
        in_flight: _InFlight | None = None
        after_id = 0
        while not self._stop.is_set():
            try:
                payloads = self.queue.oldest(self.batch_size, after_id=after_id)
                if payloads:
                    batch = self._prepare(payloads)
                    if in_flight is not None:
                        self._finish(in_flight)
                    in_flight = _InFlight(self.store.submit_record(batch), payloads)
                    after_id = payloads[-1].id
                elif in_flight is not None:
                    self._finish(in_flight)
                    in_flight = None
                else:
                    after_id = 0
                    # Payloads may be appended by another process: poll, briefly.
                    self.queue.wait_for_work(timeout=IDLE_POLL_SECONDS)
            except Exception:
                logger.exception("digest batch failed; retrying from the head of the queue")
                in_flight, after_id = None, 0
                self._stop.wait(1.0)
        if in_flight is not None:
            try:
                self._finish(in_flight)
            except Exception:
                logger.exception("last digest batch failed; it stays queued")

    def run_once(self) -> int:
        """Digest one batch, start to finish; returns how many payloads it consumed."""
        payloads = self.queue.oldest(self.batch_size)
        if not payloads:
            return 0
        batch = self._prepare(payloads)
        self._finish(_InFlight(self.store.submit_record(batch), payloads))
        return len(payloads)

    def _prepare(self, payloads: list[QueuedPayload]) -> DigestBatch:
        self._projects.clear()  # settings may have changed since the last batch
        batch = DigestBatch()
        for payload in payloads:
            self._digest_payload(payload, batch)
        return batch

    def _finish(self, in_flight: _InFlight) -> None:
        in_flight.committed.result()
        self.queue.remove([p.id for p in in_flight.payloads])

    def drain(self, timeout: float = 30.0) -> None:
        """Digest until the queue is empty (tests, ``--immediate`` tools)."""
        deadline = time.monotonic() + timeout
        while self.queue.depth and time.monotonic() < deadline:
            if not self.run_once():
                break

    def _project(self, project_id: int) -> Project | None:
        if project_id not in self._projects:
            self._projects[project_id] = self.store.get_project_by_id(project_id)
        return self._projects[project_id]

    def _digest_payload(self, payload: QueuedPayload, batch: DigestBatch) -> None:
        project = self._project(payload.project_id)
        if project is None:
            return  # the project was deleted while its events waited
        try:
            decoded = decode_payload(
                payload.kind,
                payload.body,
                encoding=payload.encoding,
                project_id=payload.project_id,
                received_at=payload.received_at,
            )
        except (IngestError, ValueError) as exc:
            logger.info("rejected payload %d of project %d: %s", payload.id, project.id, exc)
            batch.outcomes.append(Outcome(project.id, "default", "invalid", _reason(exc), 1))
            return
        batch.outcomes.extend(decoded.outcomes)
        for event in decoded.events:
            try:
                prepared = prepare_event(event, project)
            except Exception:
                # One odd event must not stall the queue: log it, count it, move on.
                logger.exception("could not digest an event; it is counted as invalid")
                batch.outcomes.append(Outcome(project.id, "default", "invalid", "digest", 1))
                continue
            if isinstance(prepared, GroupedEvent):
                batch.errors.append(prepared)
                batch.outcomes.append(Outcome(project.id, "error", "accepted", "", 1))
            else:
                batch.analytics.append(prepared)
                batch.outcomes.append(Outcome(project.id, "analytics", "accepted", "", 1))


def _reason(exc: Exception) -> str:
    return (getattr(exc, "detail", None) or str(exc))[:120]
