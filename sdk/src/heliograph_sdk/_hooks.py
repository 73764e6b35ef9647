"""``sys.excepthook`` and ``threading.excepthook``: report crashes, then behave as before.

Both hooks chain to whatever was installed before them (another tool's hook
keeps working) and are installed at most once per process. The
``sys.excepthook`` flushes before handing over, because the process is about
to end; that flush and the ``atexit`` one share a single ``shutdown_timeout``.
"""

from __future__ import annotations

import logging
import sys
import threading
from types import TracebackType
from typing import Any

from heliograph_sdk import _hub

logger = logging.getLogger("heliograph_sdk")

_installed = False
_previous_sys_hook: Any = None
_previous_thread_hook: Any = None


def _report(exc: BaseException | None, mechanism: str, *, flush: bool) -> None:
    if exc is None or isinstance(exc, (KeyboardInterrupt, SystemExit)):
        return
    client = _hub.current()
    if client is None:
        return
    try:
        client.capture_exception(exc, level="fatal", mechanism=mechanism, handled=False)
        if flush:
            client.flush_before_exit()
    except Exception:
        logger.debug("heliograph_sdk: excepthook capture failed", exc_info=True)


def _sys_hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    _report(exc, "excepthook", flush=True)
    previous = _previous_sys_hook or sys.__excepthook__
    previous(exc_type, exc, tb)


def _thread_hook(args: threading.ExceptHookArgs) -> None:
    _report(args.exc_value, "threading", flush=False)
    previous = _previous_thread_hook or threading.__excepthook__
    previous(args)


def install_excepthooks() -> None:
    """Install both hooks once, chained to the current ones."""
    global _installed, _previous_sys_hook, _previous_thread_hook
    if _installed:
        return
    _installed = True
    _previous_sys_hook = sys.excepthook
    sys.excepthook = _sys_hook
    _previous_thread_hook = threading.excepthook
    threading.excepthook = _thread_hook
