"""Every process logs the same way: one line per event, text or JSON, secrets masked.

``configure_logging`` is the one place a Heliograph process sets up logging
(the supervisor, the acceptors, the digest workers, ``heliograph digest``).
Each line names the process it came from (``acceptor-1``, ``digest-0``) and
its pid, so the interleaved output of a node reads back per process; a
traceback is folded onto its record's line (``\\n`` escaped), so a log
shipper that splits on newlines never cuts an event in two. With
``HELIOGRAPH_LOG_FORMAT=json`` each line is one JSON object instead.
Uvicorn's loggers go through the same handler. The format is described,
and kept stable, in ``docs/logging.md``.
"""

from __future__ import annotations

import logging
import sys
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import IO, Any

import orjson

from heliograph.redact import redact

LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

# HTTP clients log every request's URL at INFO: an alert's Slack or webhook URL
# is a secret, so they write warnings and above only (docs/logging.md).
QUIET_LOGGERS = ("httpx", "httpx2", "httpcore", "urllib3")

# Threads of a digest process that do another job than digest: their records
# (and the errors self-monitoring reports) carry that job's role.
_THREAD_ROLES = {"retention": "retention", "alert-delivery": "alerts"}


@dataclass(frozen=True, slots=True)
class ProcessIdentity:
    """Which process of the node this is: ``role`` and, for workers, its number."""

    role: str = "main"
    worker: int | None = None

    @property
    def name(self) -> str:
        """``digest-0``, ``acceptor-1``, ``serve``: what each line says it came from."""
        return self.role if self.worker is None else f"{self.role}-{self.worker}"

    def role_of(self, thread_name: str) -> str:
        """The role of the job the thread does: ``retention`` and ``alerts`` run in digest."""
        if self.role == "digest":
            return _THREAD_ROLES.get(thread_name, self.role)
        return self.role


_identity = ProcessIdentity()


def identity() -> ProcessIdentity:
    """This process's identity, as :func:`configure_logging` set it."""
    return _identity


def _timestamp(created: float) -> str:
    moment = datetime.fromtimestamp(created, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _one_line(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")


class _Formatter(logging.Formatter):
    """What both formats share: the message and the traceback, masked."""

    def parts(self, record: logging.LogRecord) -> tuple[str, str | None]:
        message = redact(record.getMessage())
        exc: str | None = None
        if record.exc_info and record.exc_info[0] is not None:
            exc = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            exc = redact(record.exc_text)
        if record.stack_info:
            stack = redact(self.formatStack(record.stack_info))
            exc = stack if exc is None else f"{exc}\n{stack}"
        return message, exc


class TextFormatter(_Formatter):
    """``2026-11-26T21:10:00.123Z INFO heliograph.digest.worker [digest-0 pid=123] message``

    A traceback follows on the same line after `` | ``, its newlines escaped.
    """

    def format(self, record: logging.LogRecord) -> str:
        message, exc = self.parts(record)
        line = (
            f"{_timestamp(record.created)} {record.levelname} {record.name} "
            f"[{_identity.name} pid={record.process}] {_one_line(message)}"
        )
        return line if exc is None else f"{line} | {_one_line(exc)}"


class JsonFormatter(_Formatter):
    """One JSON object per line: ``ts level logger process role pid thread message [exc]``."""

    def format(self, record: logging.LogRecord) -> str:
        message, exc = self.parts(record)
        entry: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "process": _identity.name,
            "role": _identity.role_of(record.threadName or ""),
            "worker": _identity.worker,
            "pid": record.process,
            "thread": record.threadName,
            "message": message,
        }
        if exc is not None:
            entry["exc"] = exc
        return orjson.dumps(entry).decode()


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that writes to the stream current at each record.

    ``sys.stderr`` is looked up when a record is written, not when logging is
    configured: a test that swaps it (pytest's capture) still gets the lines.
    """

    def __init__(self, stream: IO[str] | None) -> None:
        super().__init__(stream or sys.stderr)
        self._fixed = stream is not None

    def emit(self, record: logging.LogRecord) -> None:
        if not self._fixed:
            self.stream = sys.stderr
        super().emit(record)


_configure_lock = threading.Lock()


def configure_logging(
    role: str,
    worker: int | None = None,
    *,
    log_format: str = "text",
    level: str = "INFO",
    stream: IO[str] | None = None,
) -> None:
    """Send every record of this process, uvicorn's too, to stderr in ``log_format``.

    Calling it again replaces the handler it installed; handlers others add
    (self-monitoring's, a test's) stay.
    """
    global _identity
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format {log_format!r}: expected one of {', '.join(LOG_FORMATS)}")
    with _configure_lock:
        _identity = ProcessIdentity(role, worker)
        handler = _Handler(stream)
        handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
        root = logging.getLogger()
        for old in [h for h in root.handlers if isinstance(h, _Handler)]:
            root.removeHandler(old)
        root.addHandler(handler)
        root.setLevel(level.upper())
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        # Uvicorn's loggers write through the root's handler, in this format.
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
            uvicorn_logger = logging.getLogger(name)
            uvicorn_logger.handlers.clear()
            uvicorn_logger.propagate = True
