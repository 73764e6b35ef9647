"""Frame details that can wait for the background thread.

Source files do not change while a process runs (near enough), so reading
context lines with ``linecache``, deciding ``in_app`` and shortening paths is
done when the event is rendered, not when the exception is captured. The
calling thread only records ``(abs_path, lineno, function, module, vars)``.
"""

from __future__ import annotations

import linecache
import os
import sys
from typing import Any, NamedTuple

CONTEXT_LINES = 5
_SDK_MODULE = "heliograph_sdk"


class RawFrame(NamedTuple):
    abs_path: str
    lineno: int | None
    function: str
    module: str | None
    vars: dict[str, Any] | None


def _module_matches(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _stdlib_dirs() -> tuple[str, ...]:
    dirs = {os.path.dirname(os.__file__)}
    for prefix in {sys.base_prefix, sys.base_exec_prefix}:
        dirs.add(os.path.join(prefix, "lib", f"python{sys.version_info[0]}.{sys.version_info[1]}"))
    return tuple(d.rstrip(os.sep) + os.sep for d in dirs if d)


class InApp:
    """Decides whether a frame is the application's own code (cached per file).

    Order: ``in_app_exclude`` module prefixes, then ``in_app_include``, then
    the SDK itself (never in app), then paths: ``site-packages`` /
    ``dist-packages``, the standard library and ``<frozen …>`` are not in app;
    everything else is.
    """

    def __init__(self, include: tuple[str, ...] = (), exclude: tuple[str, ...] = ()) -> None:
        self._include = include
        self._exclude = exclude
        self._stdlib: tuple[str, ...] | None = None
        self._cache: dict[tuple[str, str | None], bool] = {}

    def __call__(self, abs_path: str, module: str | None) -> bool:
        key = (abs_path, module)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._decide(abs_path, module)
            if len(self._cache) > 4096:
                self._cache.clear()
            self._cache[key] = cached
        return cached

    def _decide(self, abs_path: str, module: str | None) -> bool:
        if module:
            if _module_matches(module, self._exclude):
                return False
            if _module_matches(module, self._include):
                return True
            if _module_matches(module, (_SDK_MODULE,)):
                return False
        if abs_path.startswith("<"):
            return not abs_path.startswith("<frozen")
        normalized = abs_path.replace("\\", "/")
        if "/site-packages/" in normalized or "/dist-packages/" in normalized:
            return False
        if self._stdlib is None:
            self._stdlib = _stdlib_dirs()
        return not abs_path.startswith(self._stdlib)


_filename_cache: dict[str, str] = {}


def short_filename(abs_path: str) -> str:
    """The path relative to the longest matching ``sys.path`` entry (Sentry's ``filename``)."""
    cached = _filename_cache.get(abs_path)
    if cached is not None:
        return cached
    best = ""
    for entry in sys.path:
        if not entry:
            continue
        base = entry.rstrip(os.sep) + os.sep
        if abs_path.startswith(base) and len(base) > len(best):
            best = base
    name = abs_path[len(best) :] if best else abs_path
    if len(_filename_cache) > 4096:
        _filename_cache.clear()
    _filename_cache[abs_path] = name
    return name


def format_frame(raw: RawFrame, in_app: InApp) -> dict[str, Any]:
    """One PostHog/Sentry-shaped frame with source context."""
    frame: dict[str, Any] = {
        "platform": "python",
        "filename": short_filename(raw.abs_path),
        "abs_path": raw.abs_path,
        "function": raw.function,
        "module": raw.module,
        "lineno": raw.lineno,
        "in_app": in_app(raw.abs_path, raw.module),
    }
    lineno = raw.lineno
    if lineno:
        try:
            lines = linecache.getlines(raw.abs_path)
        except Exception:
            lines = []
        if 0 < lineno <= len(lines):
            index = lineno - 1
            frame["pre_context"] = [
                line.rstrip("\r\n") for line in lines[max(0, index - CONTEXT_LINES) : index]
            ]
            frame["context_line"] = lines[index].rstrip("\r\n")
            frame["post_context"] = [
                line.rstrip("\r\n") for line in lines[index + 1 : index + 1 + CONTEXT_LINES]
            ]
    if raw.vars is not None:
        frame["vars"] = raw.vars
    return frame
