"""Reading an artifact bundle: the zip ``sentry-cli sourcemaps upload`` assembles.

The zip holds ``manifest.json`` and the files. The manifest names, per path
in the zip, the file's ``url`` (``~/static/app.min.js``: ``~`` stands for any
scheme and host), its ``type`` (``minified_source``, ``source_map``,
``source``...) and ``headers``, among them ``debug-id`` (the id that
``sentry-cli sourcemaps inject`` wrote into both a script and its map) and
``sourcemap`` (which map a script points to). Older bundles and the release
flow may carry no debug ids; then files are found by release, dist and URL.

Limits, because a bundle is read whole into memory: :data:`MAX_BUNDLE_BYTES`
for the zip, :data:`MAX_FILE_BYTES` for any one file inflated and
:data:`MAX_INFLATED_BYTES` for all of them (a zip bomb stops there).
"""

from __future__ import annotations

import hashlib
import io
import uuid
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from heliograph.store.sourcemap_records import SourceFile

__all__ = [
    "MAX_BUNDLE_BYTES",
    "BundleError",
    "ParsedBundle",
    "normalize_debug_id",
    "read_bundle",
]

MAX_BUNDLE_BYTES = 256 * 1024 * 1024
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_INFLATED_BYTES = 512 * 1024 * 1024
MAX_FILES = 10_000


class BundleError(ValueError):
    """The upload is not a bundle we can read; the message says why (shown to sentry-cli)."""


@dataclass(frozen=True, slots=True)
class ParsedBundle:
    release: str | None
    dist: str | None
    files: tuple[SourceFile, ...]


def normalize_debug_id(value: Any) -> str | None:
    """A debug id as stored: a lower-case UUID with dashes (None if it is not one).

    Sentry's debug ids may carry an appendix (``<uuid>-<age>``, from native
    files); JavaScript ones are plain UUIDs, and only the UUID is compared.
    """
    if not isinstance(value, str) or not value:
        return None
    try:
        return str(uuid.UUID(value.strip()[:36]))
    except ValueError:
        return None


def _headers(entry: dict[str, Any]) -> dict[str, str]:
    raw = entry.get("headers")
    if not isinstance(raw, dict):
        return {}
    return {str(k).lower().replace("_", "-"): str(v) for k, v in raw.items() if isinstance(v, str)}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def read_bundle(
    data: bytes,
    *,
    blob_key: Callable[[str], str],
    put: Callable[[str, bytes], None],
) -> ParsedBundle:
    """The files of a bundle, each written with ``put`` under ``blob_key(sha1)``.

    Raises :class:`BundleError` when ``data`` is not a bundle within the limits.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        manifest = orjson.loads(archive.read("manifest.json"))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise BundleError(f"not an artifact bundle: {exc}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise BundleError("the bundle's manifest.json has no files")
    entries = manifest["files"]
    if len(entries) > MAX_FILES:
        raise BundleError(f"a bundle may hold {MAX_FILES} files at most")
    infos = {info.filename: info for info in archive.infolist()}
    total = 0
    files: list[SourceFile] = []
    for path, entry in sorted(entries.items()):
        info = infos.get(path)
        if info is None or not isinstance(entry, dict):
            continue  # named but absent: skip it, as Sentry does
        if info.file_size > MAX_FILE_BYTES:
            raise BundleError(f"{path} is larger than {MAX_FILE_BYTES} bytes")
        total += info.file_size
        if total > MAX_INFLATED_BYTES:
            raise BundleError(f"the bundle inflates to more than {MAX_INFLATED_BYTES} bytes")
        try:
            with archive.open(info) as member:
                contents = member.read(MAX_FILE_BYTES + 1)
        except (zipfile.BadZipFile, zlib.error, OSError, NotImplementedError) as exc:
            raise BundleError(f"{path} cannot be read: {exc}") from None
        if len(contents) > MAX_FILE_BYTES:
            raise BundleError(f"{path} is larger than {MAX_FILE_BYTES} bytes")
        headers = _headers(entry)
        checksum = hashlib.sha1(contents).hexdigest()
        key = blob_key(checksum)
        put(key, contents)
        files.append(
            SourceFile(
                path=path[:1000],
                url=(_text(entry.get("url")) or "")[:2000] or None,
                file_type=(_text(entry.get("type")) or "unknown")[:40],
                debug_id=normalize_debug_id(headers.get("debug-id")),
                sourcemap=(headers.get("sourcemap") or headers.get("x-sourcemap") or "")[:2000]
                or None,
                blob_key=key,
                size=len(contents),
                checksum=checksum,
            )
        )
    return ParsedBundle(
        release=_text(manifest.get("release")),
        dist=_text(manifest.get("dist")),
        files=tuple(files),
    )
