"""The bounded queue and the one background thread that empties it.

Why it looks like this:

* The calling thread only appends to a ``deque(maxlen=…)``: no lock, no
  syscall, no formatting. When the deque is full the oldest event falls out
  and is counted (``queue_full``).
* A daemon thread, started on the first enqueue (never at import, never by an
  ``init`` that turned the SDK off), wakes every ``flush_interval`` or as soon
  as a batch is full, renders the queued items into events, gzips them and
  POSTs ``{"api_key", "batch", "sent_at"}`` to ``{host}/batch/``.
* Network errors, 5xx, 408 and 429 are retried with exponential backoff and
  jitter; ``Retry-After`` wins when the server sends it. What cannot be sent
  is dropped and counted by reason; the counts travel to the server as a
  ``$client_report`` event.
* After ``os.fork()`` the child starts from an empty queue and no thread; its
  first capture starts its own thread.
* A crashing process flushes up to three times on its way out (the
  ``wrap_cli`` wrapper, ``sys.excepthook``, ``atexit``). They share one
  ``shutdown_timeout`` (:meth:`Transport.flush_before_exit`), so an
  unreachable server delays the exit by that much, not a multiple of it.
"""

from __future__ import annotations

import atexit
import gzip
import json
import logging
import os
import random
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

from heliograph_sdk._sender import SendResult, post
from heliograph_sdk._serialize import dumps, iso_timestamp

logger = logging.getLogger("heliograph_sdk")

MAX_EVENT_BYTES = 900 * 1024
MAX_BATCH_BYTES = 5 * 1024 * 1024
BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0

Render = Callable[[Any], "dict[str, Any] | None"]
ReportFactory = Callable[["dict[str, int]"], "dict[str, Any]"]

_live: weakref.WeakSet[Transport] = weakref.WeakSet()
_fork_hook_installed = False


def _after_fork_in_child() -> None:
    for transport in list(_live):
        transport._reset_after_fork()


def _install_fork_hook() -> None:
    global _fork_hook_installed
    if not _fork_hook_installed and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
        _fork_hook_installed = True


def backoff_delay(attempt: int, rng: Callable[[], float] = random.random) -> float:
    """Exponential backoff with jitter: half the step fixed, half random."""
    step: float = min(BACKOFF_CAP, BACKOFF_BASE * (2**attempt))
    return step / 2 + step / 2 * float(rng())


def failure_reason(result: SendResult) -> str:
    if result.status == 0:
        return "network_error"
    if result.status == 429:
        return "rate_limited"
    if result.status >= 500 or result.status == 408:
        return "server_error"
    return "rejected"


class Transport:
    """Queue, batch and deliver; see the module docstring."""

    def __init__(
        self,
        *,
        url: str,
        api_key: str,
        render: Render,
        report_factory: ReportFactory,
        max_queue_size: int = 10_000,
        batch_size: int = 100,
        flush_interval: float = 0.5,
        request_timeout: float = 10.0,
        max_retries: int = 6,
        shutdown_timeout: float = 2.0,
        client_report_interval: float = 60.0,
        sender: Callable[[str, bytes, float], SendResult] = post,
    ) -> None:
        self._url = url
        self._key_json = json.dumps(api_key).encode()
        self._render = render
        self._report_factory = report_factory
        self._maxlen = max(1, max_queue_size)
        self._batch_size = max(1, batch_size)
        self._interval = flush_interval
        self._timeout = request_timeout
        self._max_retries = max_retries
        self._shutdown_timeout = shutdown_timeout
        self._report_interval = client_report_interval
        self._sender = sender
        self._closed = False
        self._atexit_registered = False
        self._init_state()
        _live.add(self)
        _install_fork_hook()

    def _init_state(self) -> None:
        self._queue: deque[Any] = deque(maxlen=self._maxlen)
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._cond = threading.Condition(threading.Lock())
        self._busy = False
        self._flush_requests = 0
        self._drops: dict[str, int] = {}
        self._drops_lock = threading.Lock()
        self._last_report = time.monotonic()
        self._exit_deadline: float | None = None
        self.sent_batches = 0

    # -- the calling thread ----------------------------------------------------

    def enqueue(self, item: Any) -> None:
        """Append one item; the hot path. Drops (and counts) the oldest when full."""
        queue = self._queue
        if len(queue) >= self._maxlen:
            self.count_drop("queue_full")
        queue.append(item)
        if self._thread is None:
            self._start()
        elif len(queue) >= self._batch_size and not self._wake.is_set():
            self._wake.set()

    def count_drop(self, reason: str, count: int = 1) -> None:
        with self._drops_lock:
            self._drops[reason] = self._drops.get(reason, 0) + count

    def dropped(self) -> dict[str, int]:
        """Drop counts not yet reported to the server (a copy)."""
        with self._drops_lock:
            return dict(self._drops)

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is not None or self._closed:
                return
            thread = threading.Thread(target=self._run, name="heliograph-sdk", daemon=True)
            try:
                thread.start()
            except RuntimeError:  # interpreter shutting down
                logger.debug("heliograph_sdk: cannot start the sender thread", exc_info=True)
                return
            self._thread = thread
            if not self._atexit_registered:
                atexit.register(self._at_exit)
                self._atexit_registered = True

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued so far is sent (or given up). True when done."""
        if timeout is None:
            timeout = self._shutdown_timeout
        if self._thread is None:
            return not self._queue
        deadline = time.monotonic() + max(0.0, timeout)
        with self._cond:
            self._flush_requests += 1
        self._wake.set()
        try:
            with self._cond:
                while self._queue or self._busy or self._report_pending():
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._cond.wait(min(remaining, 0.05))
                    self._wake.set()
                return True
        finally:
            with self._cond:
                self._flush_requests -= 1

    def flush_before_exit(self) -> bool:
        """Flush because the process is ending: crash hooks, ``wrap_cli``, ``atexit``.

        All of these together wait at most ``shutdown_timeout``: the first one
        starts the clock and the later ones get what is left of it. A flush
        that empties the queue stops the clock, since the process may go on
        after all (an interactive session, a CLI invoked in-process by tests).
        """
        now = time.monotonic()
        if self._exit_deadline is None:
            self._exit_deadline = now + self._shutdown_timeout
        done = self.flush(max(0.0, self._exit_deadline - now))
        if done:
            self._exit_deadline = None
        return done

    def shutdown(self, timeout: float | None = None) -> bool:
        """Flush, then stop the thread. Later enqueues are kept in memory only."""
        if timeout is None:
            timeout = self._shutdown_timeout
        start = time.monotonic()
        done = self.flush(timeout)
        self._closed = True
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(0.0, timeout - (time.monotonic() - start)))
        _live.discard(self)
        if self._atexit_registered:
            atexit.unregister(self._at_exit)
            self._atexit_registered = False
        return done

    def _at_exit(self) -> None:
        if not self._closed and self._thread is not None:
            self.flush_before_exit()

    def _reset_after_fork(self) -> None:
        """In a forked child: forget the parent's queue, thread and locks."""
        self._init_state()

    # -- the background thread -------------------------------------------------

    def _report_pending(self) -> bool:
        return bool(self._drops) and self._flush_requests > 0

    def _run(self) -> None:
        while True:
            if not self._due():
                self._wake.wait(self._interval)
                self._wake.clear()
            if self._closed and not self._queue:
                self._busy = True
                try:
                    self._cycle(force_report=True, retries=0)
                finally:
                    self._busy = False
                    with self._cond:
                        self._cond.notify_all()
                return
            self._busy = True
            try:
                self._cycle(force_report=self._flush_requests > 0, retries=self._max_retries)
            except Exception:
                logger.debug("heliograph_sdk: sender cycle failed", exc_info=True)
            finally:
                self._busy = False
                with self._cond:
                    self._cond.notify_all()

    def _due(self) -> bool:
        if self._closed or len(self._queue) >= self._batch_size:
            return True
        return self._flush_requests > 0 and bool(self._queue or self._drops)

    def _cycle(self, *, force_report: bool, retries: int) -> None:
        batch: list[Any] = []
        queue = self._queue
        try:
            while queue and len(batch) < self._batch_size:
                batch.append(queue.popleft())
        except IndexError:
            pass
        report = self._take_report(force_report)
        if not batch and not report:
            return
        encoded = self._encode(batch)
        report_bytes = dumps(self._report_factory(report)) if report else None
        chunks = _chunk(encoded, report_bytes)
        for chunk, has_report in chunks:
            result = self._deliver(chunk, retries)
            if result.ok:
                self.sent_batches += 1
                continue
            lost = len(chunk) - (1 if has_report else 0)
            logger.debug(
                "heliograph_sdk: dropping %d event(s) after %s", lost, result.error or "failure"
            )
            if lost:
                self.count_drop(failure_reason(result), lost)
            if has_report and report:
                for reason, count in report.items():
                    self.count_drop(reason, count)

    def _take_report(self, force: bool) -> dict[str, int] | None:
        if not self._drops:
            return None
        now = time.monotonic()
        if not force and now - self._last_report < self._report_interval:
            return None
        with self._drops_lock:
            report, self._drops = self._drops, {}
        self._last_report = now
        return report or None

    def _encode(self, batch: list[Any]) -> list[bytes]:
        encoded: list[bytes] = []
        for item in batch:
            try:
                event = self._render(item)
            except Exception:
                logger.debug("heliograph_sdk: could not render an event", exc_info=True)
                self.count_drop("render_error")
                continue
            if event is None:
                continue
            data = dumps(event)
            if data is None:
                self.count_drop("serialization_error")
            elif len(data) > MAX_EVENT_BYTES:
                self.count_drop("too_large")
            else:
                encoded.append(data)
        return encoded

    def _deliver(self, events: list[bytes], retries: int) -> SendResult:
        body = b"".join(
            (
                b'{"api_key":',
                self._key_json,
                b',"batch":[',
                b",".join(events),
                b'],"sent_at":"',
                iso_timestamp(time.time()).encode(),
                b'"}',
            )
        )
        payload = gzip.compress(body, compresslevel=6)
        attempt = 0
        while True:
            result = self._sender(self._url, payload, self._timeout)
            if result.ok or not result.retry or attempt >= retries:
                return result
            delay = backoff_delay(attempt)
            if result.retry_after is not None:
                delay = result.retry_after
            logger.debug(
                "heliograph_sdk: %s; retrying in %.2fs (attempt %d)",
                result.error,
                delay,
                attempt + 1,
            )
            attempt += 1
            if self._stop.wait(delay):
                return result


def _chunk(events: list[bytes], report: bytes | None) -> list[tuple[list[bytes], bool]]:
    """Split encoded events into request bodies under the batch byte limit."""
    chunks: list[tuple[list[bytes], bool]] = []
    current: list[bytes] = []
    size = 0
    for data in events:
        if current and size + len(data) > MAX_BATCH_BYTES:
            chunks.append((current, False))
            current, size = [], 0
        current.append(data)
        size += len(data) + 1
    if report is not None:
        current.append(report)
    if current:
        chunks.append((current, report is not None))
    return chunks
