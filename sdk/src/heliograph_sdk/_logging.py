"""A ``logging.Handler``: errors become events, everything else breadcrumbs.

Records at ``event_level`` (ERROR) and above are captured — as exceptions
when they carry ``exc_info``, as messages otherwise. Records at
``breadcrumb_level`` (INFO) and above but below ``event_level`` become
breadcrumbs, so the error that follows arrives with its story. The SDK's own
logger is ignored to avoid feedback loops.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from heliograph_sdk import _hub

_IGNORED_LOGGERS = ("heliograph_sdk",)


class HeliographLoggingHandler(logging.Handler):
    """``logging.getLogger().addHandler(HeliographLoggingHandler())``."""

    def __init__(
        self,
        level: int = logging.NOTSET,
        *,
        event_level: int = logging.ERROR,
        breadcrumb_level: int = logging.INFO,
    ) -> None:
        super().__init__(level)
        self.event_level = event_level
        self.breadcrumb_level = breadcrumb_level

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):  # a handler must never raise into the caller
            self._emit(record)

    def _emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(_IGNORED_LOGGERS):
            return
        client = _hub.current()
        if client is None:
            return
        if record.levelno >= self.event_level:
            message = record.getMessage()
            extra: dict[str, Any] = {"$logger": record.name, "$log_message": message}
            exc = record.exc_info[1] if record.exc_info else None
            level = logging.getLevelName(record.levelno).lower()
            if exc is not None:
                client.capture_exception(exc, level=level, mechanism="logging", extra=extra)
            else:
                client.capture_message(message, level=level, extra=extra)
        elif record.levelno >= self.breadcrumb_level:
            from heliograph_sdk._scope import current_scope

            current_scope().add_breadcrumb(
                {
                    "type": "log",
                    "category": record.name,
                    "level": logging.getLevelName(record.levelno).lower(),
                    "message": record.getMessage(),
                    "timestamp": record.created,
                }
            )
