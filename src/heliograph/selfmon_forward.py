"""Errors any Heliograph process logs become issues in ``heliograph-internal``.

Digest, retention and alert delivery run in threads that catch their errors,
log them and carry on: nothing raises to a framework that could report it.
:class:`ErrorForwarder` is a ``logging.Handler`` that self-monitoring
installs in every process (:func:`heliograph.selfmon.start_error_reporting`):
each record at ERROR or above is sent through heliograph-sdk, as an exception
when it carries one, else as a message grouped by its log call. Each is
tagged with the role of the job that logged it (``acceptor``, ``digest``,
``retention``, ``alerts``) and the process's worker number.

Reporting errors to a server through that same server can feed itself: an
error while digesting the report, reported, digested, failing again. Three
guards keep that finite: records of the SDK's own loggers are never sent;
a record logged while one is being sent (on the same thread) is dropped;
and a token bucket caps what one process sends (a burst, then a few a
minute), counting what it drops and saying so on the next one it sends.
Nothing of a payload is attached: the record's message (masked by
:func:`heliograph.redact.redact`) and the exception's stack, no local variables.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any, Protocol

from heliograph.logs import identity
from heliograph.redact import redact

# Loggers whose records are never sent: the SDK's own (its failures to send),
# and the HTTP client under it.
IGNORED_LOGGERS = ("heliograph_sdk", "httpx", "httpx2", "httpcore", "urllib3")
BURST = 20
PER_MINUTE = 10.0
MAX_MESSAGE_CHARS = 1000

_sending = threading.local()


class ErrorSink(Protocol):
    """What of heliograph-sdk the forwarder calls (the ``heliograph_sdk`` module is one)."""

    def capture_exception(
        self,
        exc: BaseException | None = ...,
        *,
        level: str = ...,
        properties: Mapping[str, Any] | None = ...,
        fingerprint: str | None = ...,
    ) -> str | None: ...

    def capture_message(
        self,
        message: str,
        level: str = ...,
        *,
        properties: Mapping[str, Any] | None = ...,
        fingerprint: str | None = ...,
    ) -> str | None: ...


class TokenBucket:
    """``burst`` at once, then ``per_minute``: a flood of errors sends a sample."""

    def __init__(self, burst: int = BURST, per_minute: float = PER_MINUTE) -> None:
        self.capacity = float(burst)
        self.rate = per_minute / 60.0
        self._tokens = float(burst)
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens < 1.0:
                return False
            self._tokens -= 1.0
            return True


class ErrorForwarder(logging.Handler):
    """Sends ERROR records of this process to ``sink`` (see the module docstring)."""

    def __init__(self, sink: ErrorSink, bucket: TokenBucket | None = None) -> None:
        super().__init__(logging.ERROR)
        self.sink = sink
        self.bucket = bucket or TokenBucket()
        self.dropped = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(IGNORED_LOGGERS) or getattr(_sending, "busy", False):
            return
        _sending.busy = True
        try:
            if not self.bucket.take():
                self.dropped += 1
                return
            self._send(record)
        except Exception:
            pass  # reporting must never break what logged; the line itself was written
        finally:
            _sending.busy = False

    def _send(self, record: logging.LogRecord) -> None:
        process = identity()
        tags = {"role": process.role_of(record.threadName or "")}
        if process.worker is not None:
            tags["worker"] = str(process.worker)
        message = redact(record.getMessage())[:MAX_MESSAGE_CHARS]
        properties: dict[str, Any] = {
            "$tags": tags,
            "$logger": record.name,
            "$log_message": message,
        }
        if self.dropped:
            properties["errors_not_reported_before"] = self.dropped
            self.dropped = 0
        level = "fatal" if record.levelno >= logging.CRITICAL else "error"
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None:
            self.sink.capture_exception(exc, level=level, properties=properties)
        else:
            # One issue per log call, whatever its arguments (a payload id, a count).
            fingerprint = f"log:{record.name}:{record.msg}"
            self.sink.capture_message(
                message, level, properties=properties, fingerprint=fingerprint
            )


def install_forwarder(sink: ErrorSink, logger: logging.Logger | None = None) -> ErrorForwarder:
    """Add a forwarder to ``logger`` (the root), replacing one installed before."""
    target = logger or logging.getLogger()
    remove_forwarder(target)
    forwarder = ErrorForwarder(sink)
    target.addHandler(forwarder)
    return forwarder


def remove_forwarder(logger: logging.Logger | None = None) -> None:
    target = logger or logging.getLogger()
    for handler in [h for h in target.handlers if isinstance(h, ErrorForwarder)]:
        target.removeHandler(handler)
