"""The process-wide current client, resolved lazily.

Importing the SDK does nothing. The first call that needs a client either
finds the one ``init()`` made, or resolves the settings from the environment
once (so ``HELIOGRAPH_API_KEY`` alone is enough). When the SDK is off the
current client is ``None`` and every public function returns at once.
"""

from __future__ import annotations

import logging
import os
import threading

from heliograph_sdk._client import Client
from heliograph_sdk._config import Settings, resolve
from heliograph_sdk._scope import global_scope

logger = logging.getLogger("heliograph_sdk")

client: Client | None = None
resolved = False
settings: Settings | None = None
_lock = threading.RLock()
_fork_hook = False


def current() -> Client | None:
    """The enabled client, or ``None`` (the SDK is off)."""
    if resolved:
        return client
    return _from_environment()


def _from_environment() -> Client | None:
    try:
        with _lock:
            if not resolved:
                install(resolve())
    except Exception:
        logger.debug("heliograph_sdk: could not configure from the environment", exc_info=True)
        _set(None, None)
    return client


def _set(new: Client | None, new_settings: Settings | None) -> None:
    global client, resolved, settings
    client = new
    settings = new_settings
    resolved = True


def install(new_settings: Settings) -> Client | None:
    """Make a client for ``new_settings`` current (none when they turn the SDK off)."""
    with _lock:
        old = client
        new = Client(new_settings) if new_settings.enabled else None
        if new is not None:
            _install_fork_hook()
        _set(new, new_settings)
        global_scope.refilter(new_settings.identify)
    if old is not None:
        old.shutdown(old.settings.shutdown_timeout)
    return new


def uninstall(timeout: float | None = None) -> bool:
    """Flush and stop the current client; the SDK stays off until ``init()``."""
    with _lock:
        old = client
        _set(None, settings)
    if old is None:
        return True
    return old.shutdown(timeout)


def reset_for_tests() -> None:
    """Back to the just-imported state (tests only)."""
    uninstall(0.5)
    global resolved, settings
    with _lock:
        resolved = False
        settings = None
    global_scope.clear()


def _after_fork_in_child() -> None:
    if client is not None:
        client.reset_after_fork()


def _install_fork_hook() -> None:
    global _fork_hook
    if not _fork_hook and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
        _fork_hook = True
