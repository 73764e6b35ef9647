"""Crash reporting for command-line programs (Typer, Click or a plain ``main``).

A CLI is short-lived: the event must be sent before the process ends, so the
wrapper flushes before letting the exception continue. Normal ways out are
not errors and are not reported: ``SystemExit``, ``KeyboardInterrupt`` and
Click's own ``Exit`` / ``Abort`` / ``ClickException`` (usage errors).

The command name (tag ``cli.command``) is the Click command path found in the
traceback (``tool sub``), else the wrapped object's name.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
from types import TracebackType
from typing import Any, Generic, TypeVar

from heliograph_sdk import _hub

logger = logging.getLogger("heliograph_sdk")

T = TypeVar("T")


_CLICK_EXITS = frozenset({"Exit", "Abort", "ClickException"})


def _is_click_class(cls: type, names: frozenset[str]) -> bool:
    # Matches click's classes and vendored copies (Typer ships ``typer._click``).
    return cls.__name__ in names and "click" in (cls.__module__ or "")


def _is_normal_exit(exc: BaseException) -> bool:
    if isinstance(exc, (SystemExit, KeyboardInterrupt, GeneratorExit)):
        return True
    return any(_is_click_class(cls, _CLICK_EXITS) for cls in type(exc).__mro__)


def _command_path(tb: TracebackType | None) -> str | None:
    """The deepest Click context's ``command_path`` among the traceback's frames."""
    best: Any = None
    best_depth = -1
    while tb is not None:
        for value in tb.tb_frame.f_locals.values():
            if _is_click_class(type(value), frozenset({"Context"})):
                depth, parent = 0, getattr(value, "parent", None)
                while parent is not None:
                    depth, parent = depth + 1, getattr(parent, "parent", None)
                if depth >= best_depth:
                    best, best_depth = value, depth
        tb = tb.tb_next
    try:
        path = getattr(best, "command_path", None)
    except Exception:
        return None
    return path if isinstance(path, str) and path else None


def _fallback_name(target: Any) -> str:
    name = getattr(target, "name", None) or getattr(target, "info_name", None)
    if isinstance(name, str) and name:
        return name
    name = getattr(target, "__name__", None)
    if isinstance(name, str) and name:
        return name
    return os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "cli"


def report_cli_exception(exc: BaseException, target: Any) -> None:
    """Capture ``exc`` with the command name and flush; never raises."""
    client = _hub.current()
    if client is None:
        return
    try:
        from heliograph_sdk._scope import isolated_scope

        command = _command_path(exc.__traceback__) or _fallback_name(target)
        with isolated_scope() as scope:
            scope.set_tag("cli.command", command)
            client.capture_exception(exc, level="fatal", mechanism="cli", handled=False)
    except Exception:
        logger.debug("heliograph_sdk: could not capture the CLI exception", exc_info=True)


class _WrappedCli(Generic[T]):
    """Calls through to the app; everything else (``.command()``…) is the app's own."""

    def __init__(self, app: T) -> None:
        self.__wrapped__ = app
        functools.update_wrapper(self, app, updated=())  # type: ignore[arg-type]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        app: Any = self.__wrapped__
        try:
            return app(*args, **kwargs)
        except BaseException as exc:
            if not _is_normal_exit(exc):
                report_cli_exception(exc, app)
            raise
        finally:
            client = _hub.client
            if client is not None:
                with contextlib.suppress(Exception):
                    client.flush_before_exit()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__wrapped__, name)


def wrap_cli(app: T) -> T:
    """Wrap a Typer app, a Click command/group or a ``main`` function.

    Use it as ``app = wrap_cli(typer.Typer())``, ``@wrap_cli`` above
    ``@click.group()``, or ``wrap_cli(main)()``; the wrapped object still
    registers sub-commands like the original.
    """
    return _WrappedCli(app)  # type: ignore[return-value]
