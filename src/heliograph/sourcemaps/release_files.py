"""Sentry's older "release files": one file at a time, named by URL, for a release.

Before artifact bundles, ``sentry-cli`` (``releases files VERSION upload``,
and ``sourcemaps upload`` against a server without chunked uploads) and some
build plugins sent each minified script and map on its own, multipart, to
``.../releases/{version}/files/``. Heliograph keeps each such file as an
artifact bundle of one file, for that release and dist: no table of its own,
and the resolver finds it exactly as it finds the files of a bundle uploaded
with ``--release`` (by release, dist and URL), newest first.

What makes a bundle a release file is its one file's path,
:data:`RELEASE_FILE_PATH` (bundles ``sentry-cli`` zips name theirs
``files/...``). The file's id, in the API, is its bundle's: deleting the file
deletes (or, for a file several projects share, unlinks) that bundle.

Checks, each with a reason in one sentence (:class:`ReleaseFileError`, with
the HTTP status to answer): a version as Sentry accepts them, a name of at
most :data:`MAX_NAME` characters without control characters, a dist of at
most :data:`MAX_DIST`, headers ``Key:Value``, at most
:data:`~heliograph.sourcemaps.bundle.MAX_FILE_BYTES` of content (a file of a
bundle may be no larger), and no second file of one name and dist in a
release (409, as Sentry answers).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from heliograph.query.serialize import iso
from heliograph.sourcemaps.bundle import MAX_FILE_BYTES, normalize_debug_id
from heliograph.store.contract import SourceMaps
from heliograph.store.sourcemap_records import ArtifactBundle, NewArtifactBundle, SourceFile
from heliograph.store.sourcemap_store import file_key

__all__ = [
    "MAX_DIST",
    "MAX_NAME",
    "MAX_VERSION",
    "RELEASE_FILE_PATH",
    "ReleaseFile",
    "ReleaseFileError",
    "check_version",
    "find_release_file",
    "iter_release_files",
    "list_release_files",
    "release_file_json",
    "save_release_file",
]

RELEASE_FILE_PATH = "release-file"
MAX_VERSION = 200
MAX_NAME = 2000  # as long as a bundle's file URL may be
MAX_DIST = 64  # Sentry's
# What Sentry refuses in a release version (its BAD_RELEASE_CHARS), and versions it reserves.
_BAD_VERSION_CHARS = frozenset("\r\n\f\x0c\t/\\")
_RESERVED_VERSIONS = frozenset({"", ".", "..", "latest"})
_MAP_COMMENT = (b"//# sourceMappingURL=", b"//@ sourceMappingURL=")


class ReleaseFileError(ValueError):
    """Why a release file was refused, and the HTTP status that says so."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True, slots=True)
class ReleaseFile:
    """A release file: its one-file bundle (the id, release, dist, date) and the file."""

    bundle: ArtifactBundle
    file: SourceFile


def _has_control(text: str) -> bool:
    return any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text)


def check_version(version: str) -> str:
    """A release version as Sentry accepts it (the same string events carry)."""
    if not version or len(version) > MAX_VERSION:
        raise ReleaseFileError(400, f"a release version has 1 to {MAX_VERSION} characters")
    if version.strip().lower() in _RESERVED_VERSIONS:
        raise ReleaseFileError(400, f"{version[:100]!r} is not a usable release version")
    if any(ch in _BAD_VERSION_CHARS for ch in version) or _has_control(version):
        raise ReleaseFileError(
            400, "a release version may not contain slashes, backslashes or control characters"
        )
    return version


def check_name(name: str | None) -> str:
    """The URL events name the file by (``~/static/app.min.js``)."""
    name = (name or "").strip()
    if not name or name == "file":
        raise ReleaseFileError(400, "name is required: the file's URL, e.g. ~/static/app.js")
    if len(name) > MAX_NAME:
        raise ReleaseFileError(400, f"name is longer than {MAX_NAME} characters")
    if _has_control(name) or "\\" in name:
        raise ReleaseFileError(400, "name may not contain control characters or backslashes")
    return name


def check_dist(dist: str | None) -> str | None:
    if not dist:
        return None
    if len(dist) > MAX_DIST or _has_control(dist) or dist.strip() != dist:
        raise ReleaseFileError(
            400, f"dist has at most {MAX_DIST} characters, no spaces around and no controls"
        )
    return dist


def parse_headers(values: Sequence[str]) -> dict[str, str]:
    """``Key:Value`` fields, keys lower-cased with ``_`` as ``-`` (as bundle headers)."""
    headers: dict[str, str] = {}
    for raw in values:
        key, colon, value = raw.partition(":")
        key, value = key.strip().lower().replace("_", "-"), value.strip()
        if not colon or not key:
            raise ReleaseFileError(400, f"header {raw[:100]!r} is not Key:Value")
        if _has_control(key) or _has_control(value) or len(value) > MAX_NAME:
            raise ReleaseFileError(400, f"header {key[:100]!r} has control characters or is long")
        headers[key] = value
    return headers


def _file_type(name: str, data: bytes, sourcemap: str | None) -> str:
    """The kind the resolver tells apart: a map, a script that names its map, a source."""
    path = urlsplit(name).path or name
    head = data[:64].lstrip()
    if path.endswith(".map") or (head.startswith(b"{") and b'"mappings"' in data[:65536]):
        return "source_map"
    if sourcemap or any(marker in data[-4096:] for marker in _MAP_COMMENT):
        return "minified_source"
    return "source"


def _checksum(*parts: str) -> str:
    """The bundle's identity: what was uploaded, where to and for which projects."""
    return hashlib.sha1("\0".join(("heliograph release file", *parts)).encode()).hexdigest()


def find_release_file(
    store: SourceMaps,
    project_ids: Sequence[int],
    release: str,
    *,
    file_id: int | None = None,
    name: str | None = None,
    dist: str | None = None,
) -> ReleaseFile | None:
    """The release file with this id (its bundle's), or of this name and dist, in one of
    these projects."""
    if file_id is not None:
        bundle = store.get_artifact_bundle_by_id(file_id)
        if bundle is None or bundle.release != release:
            return None
        if not set(bundle.project_ids) & set(project_ids):
            return None
        return next(iter(_with_file(store, [bundle])), None)
    for found in iter_release_files(store, project_ids, release, name=name):
        if found.file.url == name and found.bundle.dist == dist:
            return found
    return None


def _with_file(store: SourceMaps, bundles: list[ArtifactBundle]) -> list[ReleaseFile]:
    files = store.artifact_bundle_files([b.id for b in bundles])
    found = []
    for bundle in bundles:
        own = [f for f in files[bundle.id].files if f.path == RELEASE_FILE_PATH]
        if own:
            found.append(ReleaseFile(bundle, own[0]))
    return found


def list_release_files(
    store: SourceMaps,
    project_ids: Sequence[int],
    release: str,
    *,
    limit: int,
    cursor: str | None = None,
) -> tuple[list[ReleaseFile], str | None]:
    """A page of the release's files in these projects, newest first; ValueError for a
    malformed cursor."""
    bundles, following = store.page_artifact_bundles(
        project_ids, limit=limit, cursor=cursor, release=release, path=RELEASE_FILE_PATH
    )
    return _with_file(store, bundles), following


def iter_release_files(
    store: SourceMaps, project_ids: Sequence[int], release: str, *, name: str | None = None
) -> Iterator[ReleaseFile]:
    """Every release file of the release in these projects (``name``: of that URL only),
    a page at a time."""
    cursor = None
    while True:
        bundles, cursor = store.page_artifact_bundles(
            project_ids, limit=100, cursor=cursor, release=release, path=RELEASE_FILE_PATH,
            url=name,
        )  # fmt: skip
        yield from _with_file(store, bundles)
        if cursor is None:
            return


def save_release_file(
    store: SourceMaps,
    organization_id: int,
    project_ids: Sequence[int],
    release: str,
    *,
    name: str | None,
    data: bytes,
    dist: str | None = None,
    headers: Sequence[str] = (),
) -> ReleaseFile:
    """Check and keep one uploaded file for the release in these projects (see the
    module's docstring); :class:`ReleaseFileError` when refused."""
    release = check_version(release)
    name, dist, parsed = check_name(name), check_dist(dist), parse_headers(headers)
    if len(data) > MAX_FILE_BYTES:
        raise ReleaseFileError(413, f"a file may have {MAX_FILE_BYTES} bytes at most")
    if not project_ids:
        raise ReleaseFileError(403, "no project to keep the file for")
    if find_release_file(store, project_ids, release, name=name, dist=dist) is not None:
        raise ReleaseFileError(
            409, "A file matching this name already exists for the given release"
        )
    sourcemap = (parsed.get("sourcemap") or parsed.get("x-sourcemap") or "") or None
    debug_id = normalize_debug_id(parsed.get("debug-id"))
    sha1 = hashlib.sha1(data).hexdigest()
    ids = sorted(set(project_ids))
    checksum = _checksum(
        release, dist or "", name, sourcemap or "", debug_id or "", sha1, *map(str, ids)
    )
    key = file_key(organization_id, checksum, sha1)
    store.blobs.put(key, data)
    file = SourceFile(
        path=RELEASE_FILE_PATH,
        url=name,
        file_type=_file_type(name, data, sourcemap),
        debug_id=debug_id,
        sourcemap=sourcemap,
        blob_key=key,
        size=len(data),
        checksum=sha1,
    )
    bundle = store.save_artifact_bundle(
        NewArtifactBundle(organization_id, checksum, release, dist, tuple(ids), (file,))
    )
    return ReleaseFile(bundle, replace(file, bundle_id=bundle.id))


def release_file_json(found: ReleaseFile) -> dict[str, Any]:
    """Sentry's shape of a release file (what ``sentry-cli releases files list`` reads)."""
    headers: dict[str, str] = {}
    if found.file.sourcemap:
        headers["Sourcemap"] = found.file.sourcemap
    if found.file.debug_id:
        headers["debug-id"] = found.file.debug_id
    return {
        "id": str(found.bundle.id),
        "name": found.file.url or found.file.path,
        "dist": found.bundle.dist,
        "headers": headers,
        "size": found.file.size,
        "sha1": found.file.checksum,
        "dateCreated": iso(found.bundle.created_at),
    }
