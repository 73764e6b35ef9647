"""The digest worker: queued payloads in, stored events and issues out.

One thread in the digest process (``heliograph digest``, which ``serve``
supervises). It takes the oldest payloads from the ingest queue, decodes them
into canonical events, scrubs, groups and prices them, and commits the whole
batch to the store in one transaction before deleting the payloads from the
queue. It may lag under a burst; it never loses work: a crash between the two
commits replays the batch, and the store skips event ids it already has. A
payload that cannot be stored goes to the dead letters instead of holding up
the rest (see ``docs/ingest.md``, "When digest cannot store a payload").
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field

from heliograph.digest.addresses import fill_sender_address
from heliograph.digest.decoders import decode_payload
from heliograph.digest.figures import DigestFigures
from heliograph.digest.grouping_upgrade import keep_v1_issues
from heliograph.digest.log_messages import join_in_batch, prepare_messages
from heliograph.digest.prepare import prepare_event
from heliograph.digest.replays import ReplayLimits, ReplayPreparer
from heliograph.digest.scores import event_score
from heliograph.llm_messages import GenerationMessages
from heliograph.protocols.errors import IngestError
from heliograph.replay.recording import replay_id_of
from heliograph.sourcemaps.resolve import SourceMapResolver
from heliograph.store.base import (
    DigestBatch,
    GroupedEvent,
    Outcome,
    Project,
    RecordResult,
    StoreUnavailable,
    event_document,
)
from heliograph.store.contract import DigestSink
from heliograph.store.queue import PayloadQueue, QueuedPayload
from heliograph.store.replay_records import ReplayError, ReplaySegment

logger = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 0.05
# After the store says it cannot write (locked, disk full), wait this long,
# doubling up to the maximum, before trying again: the payloads wait safely.
RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 30.0
# A batch stops taking payloads once it holds this many events.
MAX_BATCH_EVENTS = 500


@dataclass(slots=True)
class _Batch:
    """A batch being digested: what to write, and where each part came from."""

    payloads: list[QueuedPayload]
    record: DigestBatch = field(default_factory=DigestBatch)
    # (project id, event id) -> the queue id of the payload that carried it.
    origins: dict[tuple[int, str], int] = field(default_factory=dict)
    # Queue id -> why the payload goes to the dead letters instead of the store.
    dead: dict[int, str] = field(default_factory=dict)
    # Generations' messages from OTLP logs, prepared, to join once the batch is read.
    messages: list[GenerationMessages] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _InFlight:
    """A batch handed to the store's writer, not yet known to be committed."""

    committed: Future[RecordResult]
    batch: _Batch
    # When it was handed to the store (monotonic): the commit's latency is measured from it.
    submitted: float = field(default_factory=time.monotonic)


class _BatchFailed(Exception):
    """A batch's write failed for a reason other than the store being unavailable."""

    def __init__(self, batch: _Batch, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.batch = batch
        self.cause = cause


class DigestWorker:
    def __init__(
        self,
        queue: PayloadQueue,
        store: DigestSink,
        *,
        batch_size: int = 100,
        replay_limits: ReplayLimits | None = None,
        sourcemaps: SourceMapResolver | None = None,
    ) -> None:
        self.queue = queue
        self.store = store
        self.batch_size = batch_size
        # Resolves minified JavaScript frames (one per digest process, its cache shared).
        self.sourcemaps = sourcemaps
        self.replays = ReplayPreparer(store, replay_limits)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._projects: dict[int, Project | None] = {}
        self.figures = DigestFigures()

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

        A batch whose write fails is digested again one payload at a time, so
        that one payload that cannot be stored goes to the dead letters and
        its neighbours are stored. When the store itself is unavailable, wait
        (longer each time) and start again from the head of the queue:
        whatever was committed is skipped by event id, nothing is lost.
        """
        in_flight: _InFlight | None = None
        after_id = 0
        retry = RETRY_SECONDS
        while not self._stop.is_set():
            self.figures.beat()
            try:
                payloads = self.queue.oldest(self.batch_size, after_id=after_id)
                if payloads:
                    batch = self._prepare(payloads)
                    if in_flight is not None:
                        self._finish(in_flight)
                    in_flight = _InFlight(self.store.submit_record(batch.record), batch)
                    after_id = batch.payloads[-1].id
                elif in_flight is not None:
                    self._finish(in_flight)
                    in_flight = None
                else:
                    after_id = 0
                    # Payloads may be appended by another process: poll, briefly.
                    self.queue.wait_for_work(timeout=IDLE_POLL_SECONDS)
                retry = RETRY_SECONDS
            except _BatchFailed as failed:
                in_flight, after_id = None, 0
                self.figures.failed("batch_failed")
                logger.warning(
                    "a digest batch failed (%s); digesting it payload by payload", failed
                )
                try:
                    self._digest_one_by_one(failed.batch.payloads)
                except Exception:
                    logger.exception("digest failed; retrying in %.0f s", retry)
                    self._stop.wait(retry)
                    retry = min(retry * 2, MAX_RETRY_SECONDS)
            except Exception as exc:
                logger.exception("digest failed; retrying in %.0f s", retry)
                unavailable = isinstance(exc, StoreUnavailable)
                self.figures.failed("store_unavailable" if unavailable else "unexpected")
                in_flight, after_id = None, 0
                self._stop.wait(retry)
                retry = min(retry * 2, MAX_RETRY_SECONDS)
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
        try:
            self._finish(_InFlight(self.store.submit_record(batch.record), batch))
        except _BatchFailed:
            self.figures.failed("batch_failed")
            self._digest_one_by_one(batch.payloads)
        return len(batch.payloads)

    def drain(self, timeout: float = 30.0) -> None:
        """Digest until the queue is empty (tests, ``--immediate`` tools)."""
        deadline = time.monotonic() + timeout
        while self.queue.depth and time.monotonic() < deadline:
            if not self.run_once():
                break

    def _prepare(self, payloads: list[QueuedPayload]) -> _Batch:
        """Digest payloads, oldest first, until the batch holds ``MAX_BATCH_EVENTS``.

        ``batch.payloads`` is what was consumed (at least one payload); the
        rest is read again for the next batch. A payload can carry hundreds
        of events (an OTLP export, a PostHog batch), so a cap in payloads
        alone let one batch hold tens of thousands, in every worker's memory.
        """
        started = time.perf_counter()
        self._projects.clear()  # settings may have changed since the last batch
        self.replays.new_batch()
        batch = _Batch([])
        record = batch.record
        for payload in payloads:
            batch.payloads.append(payload)
            self._digest_payload(payload, batch)
            if len(record.errors) + len(record.analytics) + len(batch.messages) >= MAX_BATCH_EVENTS:
                break
        keep_v1_issues(self.store, record.errors)
        # A span and its logged messages in the same batch are joined here; the
        # rest go to the store, which joins them to a stored generation or holds them.
        record.llm_messages = join_in_batch(record.analytics, batch.messages, record.documents)
        self.figures.prepared(time.perf_counter() - started)
        return batch

    def _finish(self, in_flight: _InFlight) -> None:
        """Wait for the batch's commit, then take its payloads off the queue.

        Payloads with an event the store rejected go to the dead letters (the
        rest of their events were stored; a replay skips those by id).
        """
        batch = in_flight.batch
        try:
            result = in_flight.committed.result()
        except StoreUnavailable:
            raise
        except Exception as exc:
            raise _BatchFailed(batch, exc) from exc
        dead = dict(batch.dead)
        for rejected in result.rejected:
            queue_id = batch.origins.get((rejected.project_id, rejected.event_id))
            if queue_id is not None:
                logger.error("payload %d could not be stored: %s", queue_id, rejected.reason)
                dead.setdefault(queue_id, f"store: {rejected.reason}")
        self.queue.remove([p.id for p in batch.payloads], dead=dead)
        record = batch.record
        events = {
            "error": len(record.errors),
            "analytics": len(record.analytics),
            "replay": len(record.replays),
        }
        commit_seconds = time.monotonic() - in_flight.submitted
        self.figures.committed((p.kind for p in batch.payloads), events, commit_seconds)
        self.figures.dead_lettered(len(dead))

    def _digest_one_by_one(self, payloads: list[QueuedPayload]) -> None:
        """Digest each payload alone; one whose write still fails is quarantined.

        ``StoreUnavailable`` propagates: the store, not the payload, is at fault.
        """
        for payload in payloads:
            batch = self._prepare([payload])
            try:
                self._finish(_InFlight(self.store.submit_record(batch.record), batch))
            except _BatchFailed as failed:
                reason = f"store: {type(failed.cause).__name__}: {failed.cause}"
                logger.error("payload %d could not be stored: %s", payload.id, reason)
                self.store.add_outcomes(
                    [Outcome(payload.project_id, "default", "invalid", "internal", 1)]
                )
                self.queue.remove([payload.id], dead={payload.id: reason})
                self.figures.dead_lettered(1)

    def _project(self, project_id: int) -> Project | None:
        if project_id not in self._projects:
            self._projects[project_id] = self.store.get_project_by_id(project_id)
        return self._projects[project_id]

    def _digest_payload(self, payload: QueuedPayload, batch: _Batch) -> None:
        """Decode and prepare one payload into ``batch``; raises only StoreUnavailable
        (a recording's blob could not be written: the batch waits and is retried).
        Anything else that goes wrong with a recording (a bug, or a blob store that
        is not configured) quarantines the payload, like an event's.

        A malformed payload (the client's fault) is counted ``invalid`` and
        dropped; one that trips a bug here is counted and quarantined, so that
        it can be replayed once the bug is fixed.
        """
        project = self._project(payload.project_id)
        if project is None:
            return  # the project was deleted while its events waited
        record = batch.record
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
            record.outcomes.append(Outcome(project.id, "default", "invalid", _reason(exc), 1))
            return
        except Exception as exc:
            logger.exception("could not decode payload %d; it is quarantined", payload.id)
            record.outcomes.append(Outcome(project.id, "default", "invalid", "internal", 1))
            batch.dead[payload.id] = f"decode: {type(exc).__name__}: {exc}"
            return
        for event in decoded.events:
            fill_sender_address(event, payload.client_address)
            try:
                prepared = prepare_event(event, project, self.sourcemaps)
            except Exception as exc:
                logger.exception("could not digest an event of payload %d", payload.id)
                record.outcomes.append(Outcome(project.id, event.kind, "invalid", "internal", 1))
                batch.dead.setdefault(payload.id, f"digest: {type(exc).__name__}: {exc}")
                continue
            key = (event.project_id, event.event_id)
            batch.origins[key] = payload.id
            # Encoded here, in parallel with the other workers, not in the write.
            record.documents.setdefault(key, event_document(event))
            if isinstance(prepared, GroupedEvent):
                record.errors.append(prepared)
                replay_id = replay_id_of(event.tags, event.contexts, event.session_id)
                if replay_id:
                    record.replay_errors.append(
                        ReplayError(event.project_id, replay_id, event.event_id)
                    )
            else:
                record.analytics.append(prepared)
                score = event_score(prepared)
                if score is not None:
                    record.scores.append(score)
        for part in decoded.recordings:
            try:
                kept = self.replays.prepare(part, project)
            except StoreUnavailable:
                raise  # the blob store cannot write now: the batch is retried
            except Exception as exc:
                logger.exception("could not digest a recording of payload %d", payload.id)
                record.outcomes.append(Outcome(project.id, "replay", "invalid", "internal", 1))
                batch.dead.setdefault(payload.id, f"replay: {type(exc).__name__}: {exc}")
                continue
            if isinstance(kept, ReplaySegment):
                record.replays.append(kept)
            elif kept is not None:
                record.outcomes.append(kept)
        self._prepare_messages(payload, decoded.messages, project, batch)
        if payload.id not in batch.dead:
            # A quarantined payload's outcomes are counted when it is replayed.
            record.outcomes.extend(decoded.outcomes)

    def _prepare_messages(
        self,
        payload: QueuedPayload,
        groups: list[GenerationMessages],
        project: Project,
        batch: _Batch,
    ) -> None:
        """Put logged messages through the project's payload policy and scrubbing.

        When the project keeps no LLM payloads, nothing of them is kept:
        they are counted ``filtered`` (``llm_payloads_not_kept``).
        """
        dropped = 0
        for group in groups:
            try:
                prepared = prepare_messages(group, project)
            except Exception as exc:
                logger.exception("could not digest the messages of payload %d", payload.id)
                batch.record.outcomes.append(
                    Outcome(project.id, "analytics", "invalid", "internal", 1)
                )
                batch.dead.setdefault(payload.id, f"digest: {type(exc).__name__}: {exc}")
                continue
            if prepared is None:
                dropped += 1
            else:
                batch.messages.append(prepared)
        if dropped and payload.id not in batch.dead:
            batch.record.outcomes.append(
                Outcome(project.id, "analytics", "filtered", "llm_payloads_not_kept", dropped)
            )


def _reason(exc: Exception) -> str:
    return (getattr(exc, "detail", None) or str(exc))[:120]
