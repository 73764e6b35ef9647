"""Minified JavaScript frames back to original file, function, line, column and source.

The parser is Sentry's own ``symbolic`` (``symbolic.sourcemap``): the Rust
``sourcemap`` crate behind a Python binding, the code Sentry resolves its
own events with. Beyond a token lookup, its ``SourceMapView.lookup`` given
the minified function name and the minified source finds the *original
name of the enclosing function* from the map's names and scopes, which a
plain VLQ decoder (the ``sourcemap`` package on PyPI, unmaintained since
2017) cannot; and it reads ``sourcesContent`` for the source context.
Nothing here decodes mappings by hand.

Which map: a frame's script is matched by debug id first -- the event's
``debug_meta.images`` of type ``sourcemap`` name a ``debug_id`` per
``code_file`` (the script's URL), put there by the SDK from what
``sentry-cli sourcemaps inject`` wrote into the script -- else by the
event's release and dist and the script's URL (``~/static/app.min.js``
forms, ``~`` for any scheme and host), following the script's
``Sourcemap`` header or ``sourceMappingURL`` comment to its map.

A resolved frame keeps what the SDK sent in :attr:`Frame.minified` (Sentry's
``raw_stacktrace``), so pages and the API show both. Parsed maps are cached
per process, bounded in number and bytes; digest remembers lookups that
found nothing for :data:`MISS_TTL`, so that a flood of events without maps
does not query the store per frame (pages do not: a map uploaded a moment
ago resolves the next view). Nothing here raises: a frame that cannot be
resolved stays as it was.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from heliograph.model import Event, Frame
from heliograph.store.contract import SourceMaps
from heliograph.store.sourcemap_records import SourceFile

__all__ = ["SourceMapResolver", "debug_ids_by_file", "url_candidates"]

logger = logging.getLogger(__name__)

# Source lines shown around the resolved line, and the most characters of each.
CONTEXT_LINES = 5
MAX_LINE_CHARS = 300
# Parsed maps kept per process: at most this many, and this many bytes of JSON.
MAX_CACHED_MAPS = 32
MAX_CACHED_BYTES = 256 * 1024 * 1024
# A lookup that found nothing is not repeated for this long (maps may arrive later).
MISS_TTL = 60.0
MAX_MISSES = 10_000
_JS_PLATFORMS = {"javascript", "node"}
_JS_SUFFIXES = (".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx")
_MAP_COMMENT = (b"//# sourceMappingURL=", b"//@ sourceMappingURL=")


@dataclass(slots=True)
class _Parsed:
    view: Any  # symbolic.sourcemap.SourceMapView
    minified: Any | None  # symbolic.sourcemap.SourceView of the script, for function names
    size: int


@dataclass(frozen=True, slots=True)
class _Found:
    """A frame's map (and script), and how it was found."""

    map_file: SourceFile
    script: SourceFile | None
    how: str  # "debug-id" or "release"
    debug_id: str | None


def debug_ids_by_file(event: Event) -> dict[str, str]:
    """``code_file`` -> ``debug_id`` of the event's source-map debug images."""
    found: dict[str, str] = {}
    for image in event.debug_images:
        code_file, debug_id = image.get("code_file"), image.get("debug_id")
        if image.get("type") != "sourcemap" or not isinstance(code_file, str):
            continue
        if isinstance(debug_id, str) and debug_id:
            found[code_file] = debug_id
    return found


def url_candidates(abs_path: str) -> list[str]:
    """How a bundle may name the script at ``abs_path``: as is, ``~/path`` (any host),
    and both without the query string."""
    parts = urlsplit(abs_path)
    found = [abs_path]
    if parts.scheme or parts.netloc:
        path = parts.path or "/"
        found += [f"~{path}?{parts.query}" if parts.query else f"~{path}", f"~{path}"]
        found.append(abs_path.split("?", 1)[0].split("#", 1)[0])
    elif abs_path.startswith("/"):
        found.append(f"~{abs_path.split('?', 1)[0]}")
    return list(dict.fromkeys(found))


def _is_javascript(event: Event, frame: Frame) -> bool:
    if frame.platform is not None:
        return frame.platform in _JS_PLATFORMS
    if event.platform in _JS_PLATFORMS:
        return True
    path = (frame.abs_path or "").split("?", 1)[0]
    return path.endswith(_JS_SUFFIXES)


def _script_url(frame: Frame) -> str | None:
    """The URL of the frame's script: browser SDKs send it as ``filename`` alone
    (Sentry fills ``abs_path`` from it on arrival)."""
    return frame.abs_path or frame.filename


def _frames(event: Event) -> Iterator[Frame]:
    for exception in event.exceptions:
        yield from exception.frames
    yield from event.stacktrace


def _clip(line: str, column: int | None = None) -> str:
    if len(line) <= MAX_LINE_CHARS:
        return line
    start = (
        0
        if column is None
        else max(0, min(column - MAX_LINE_CHARS // 2, len(line) - MAX_LINE_CHARS))
    )
    return line[start : start + MAX_LINE_CHARS]


def _map_reference(script: SourceFile, data: bytes | None) -> str | None:
    if script.sourcemap:
        return script.sourcemap
    if data is None:
        return None
    tail = data[-4096:]
    for marker in _MAP_COMMENT:
        at = tail.rfind(marker)
        if at >= 0:
            return tail[at + len(marker) :].split(b"\n", 1)[0].strip().decode("utf-8", "replace")
    return None


def _source_paths(frame_url: str, source: str) -> tuple[str, str]:
    """(abs_path, filename) of an original source named ``source`` in a map of the
    script at ``frame_url``: relative names resolve against the script's URL."""
    parts = urlsplit(source)
    if parts.scheme in ("webpack", "app", "rollup", "vite") or parts.scheme == "":
        if parts.scheme:
            name = (parts.netloc + parts.path) if parts.scheme != "webpack" else parts.path
            name = name.lstrip("/")
            while name.startswith("./"):
                name = name[2:]
            return source, name or source
        joined = urljoin(frame_url, source)
        return joined, unquote(urlsplit(joined).path) or source
    return source, unquote(parts.path) or source


class SourceMapResolver:
    """Resolves the minified frames of events against one store's uploaded maps."""

    def __init__(
        self,
        store: SourceMaps,
        *,
        max_maps: int = MAX_CACHED_MAPS,
        max_bytes: int = MAX_CACHED_BYTES,
        miss_ttl: float = MISS_TTL,
    ) -> None:
        """``miss_ttl`` 0: never remember a miss (pages: a map uploaded a moment ago
        must resolve the next view; digest remembers them, against floods)."""
        self.store = store
        self.max_maps = max_maps
        self.max_bytes = max_bytes
        self.miss_ttl = miss_ttl
        self._maps: OrderedDict[tuple[int, str], _Parsed] = OrderedDict()
        self._bytes = 0
        self._misses: OrderedDict[tuple[Any, ...], float] = OrderedDict()
        self._lock = threading.Lock()

    # -- the entry point ---------------------------------------------------------

    def resolve(self, event: Event) -> bool:
        """Resolve the event's minified JavaScript frames in place; whether any was.

        Frames already resolved (``minified`` set) are left alone, so that an
        event resolved at digest time is not resolved twice on display.
        """
        candidates = [
            f
            for f in _frames(event)
            if f.minified is None
            and _script_url(f)
            and f.lineno is not None
            and f.colno is not None
            and _is_javascript(event, f)
        ]
        if not candidates:
            return False
        used: set[int] = set()
        with self._lock:
            debug_ids = debug_ids_by_file(event)
            for frame in candidates:
                try:
                    bundle_id = self._resolve_frame(event, frame, debug_ids)
                except Exception:  # a broken map must not cost the event
                    logger.warning(
                        "could not resolve a frame of %s", _script_url(frame), exc_info=True
                    )
                    continue
                if bundle_id is not None:
                    used.add(bundle_id)
        if used:
            try:
                self.store.touch_artifact_bundles(used)
            except Exception:
                logger.warning("could not note the use of bundles %s", sorted(used), exc_info=True)
        return bool(used)

    # -- finding the map -----------------------------------------------------------

    def _missed(self, key: tuple[Any, ...]) -> bool:
        at = self._misses.get(key)
        if at is None:
            return False
        if time.monotonic() - at > self.miss_ttl:
            del self._misses[key]
            return False
        return True

    def _miss(self, key: tuple[Any, ...]) -> None:
        if self.miss_ttl <= 0:
            return
        self._misses[key] = time.monotonic()
        self._misses.move_to_end(key)
        while len(self._misses) > MAX_MISSES:
            self._misses.popitem(last=False)

    def _find(self, event: Event, frame: Frame, debug_ids: dict[str, str]) -> _Found | None:
        url = _script_url(frame)
        assert url is not None
        project_id = event.project_id
        debug_id = debug_ids.get(url)
        if debug_id is not None:
            key: tuple[Any, ...] = (project_id, "debug", debug_id)
            if not self._missed(key):
                files = self.store.find_source_files(project_id, debug_id=debug_id)
                maps = [f for f in files if f.file_type == "source_map"]
                if maps:
                    script = next(
                        (
                            f
                            for f in files
                            if f.file_type == "minified_source" and f.bundle_id == maps[0].bundle_id
                        ),
                        None,
                    )
                    return _Found(maps[0], script, "debug-id", debug_id)
                self._miss(key)
        if not event.release:
            return None
        dist = event.tags.get("dist")
        key = (project_id, "release", event.release, dist, url)
        if self._missed(key):
            return None
        found = self._find_by_release(project_id, event.release, dist, url)
        if found is None:
            self._miss(key)
        return found

    def _find_by_release(
        self, project_id: int, release: str, dist: str | None, abs_path: str
    ) -> _Found | None:
        files = self.store.find_source_files(
            project_id, release=release, dist=dist, urls=url_candidates(abs_path)
        )
        script = next((f for f in files if f.file_type != "source_map"), None)
        if script is None or script.url is None:
            return None
        data = None if script.sourcemap else self.store.source_file_data(script)
        reference = _map_reference(script, data) or f"{script.url.rsplit('/', 1)[-1]}.map"
        if reference.startswith("data:"):
            return None  # an inline map rides in the script: not supported (docs)
        map_url = urljoin(script.url, reference)
        wanted = url_candidates(map_url) if "://" in map_url else [map_url]
        maps = self.store.find_source_files(project_id, release=release, dist=dist, urls=wanted)
        same_bundle = [m for m in maps if m.bundle_id == script.bundle_id] or maps
        if not same_bundle:
            return None
        return _Found(same_bundle[0], script, "release", None)

    # -- parsing, cached -----------------------------------------------------------

    def _parsed(self, found: _Found) -> _Parsed | None:
        from symbolic.sourcemap import SourceMapView, SourceView

        key = (found.map_file.bundle_id, found.map_file.path)
        cached = self._maps.get(key)
        if cached is not None:
            self._maps.move_to_end(key)
            return cached
        data = self.store.source_file_data(found.map_file)
        if data is None:
            return None
        view = SourceMapView.from_json_bytes(data)
        minified = None
        size = len(data)
        if found.script is not None:
            script = self.store.source_file_data(found.script)
            if script is not None:
                minified = SourceView.from_bytes(script)
                size += len(script)
        parsed = _Parsed(view, minified, size)
        self._maps[key] = parsed
        self._bytes += size
        while self._maps and (len(self._maps) > self.max_maps or self._bytes > self.max_bytes):
            _, dropped = self._maps.popitem(last=False)
            self._bytes -= dropped.size
        return parsed

    # -- one frame ------------------------------------------------------------------

    def _resolve_frame(self, event: Event, frame: Frame, debug_ids: dict[str, str]) -> int | None:
        found = self._find(event, frame, debug_ids)
        if found is None:
            return None
        parsed = self._parsed(found)
        if parsed is None:
            return None
        url = _script_url(frame)
        assert frame.lineno is not None and frame.colno is not None and url
        line, column = frame.lineno - 1, frame.colno - 1
        if frame.function and parsed.minified is not None:
            token = parsed.view.lookup(line, column, frame.function, parsed.minified)
        else:
            token = parsed.view.lookup(line, column)
        if token is None or token.src is None:
            return None
        abs_path, filename = _source_paths(url, token.src)
        frame.minified = {
            "function": frame.function,
            "filename": frame.filename,
            "abs_path": url,
            "lineno": frame.lineno,
            "colno": frame.colno,
            "context_line": frame.context_line,
            "sourcemap": found.map_file.url or found.map_file.path,
            "resolved_with": found.how,
            "debug_id": found.debug_id,
        }
        frame.function = token.function_name or frame.function
        frame.filename = filename
        frame.abs_path = abs_path
        frame.lineno = token.src_line + 1
        frame.colno = token.src_col + 1
        frame.in_app = "/node_modules/" not in f"/{filename}"
        frame.context_line, frame.pre_context, frame.post_context = None, [], []
        source = parsed.view.get_sourceview(token.src_id) if token.src_id is not None else None
        if source is not None and token.src_line < len(source):
            first = max(0, token.src_line - CONTEXT_LINES)
            lines = source[first : token.src_line + CONTEXT_LINES + 1]
            at = token.src_line - first
            frame.pre_context = [_clip(x) for x in lines[:at]]
            frame.context_line = _clip(lines[at], token.src_col)
            frame.post_context = [_clip(x) for x in lines[at + 1 :]]
        return found.map_file.bundle_id
