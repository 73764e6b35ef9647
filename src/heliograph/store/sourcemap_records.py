"""The records of source-map storage: artifact bundles and the files in them.

An artifact bundle is what ``sentry-cli sourcemaps upload`` sends: a zip of
minified scripts, their source maps and sometimes original sources, with a
manifest naming each file's URL, type and debug id. The database keeps these
records; the file contents are blobs (:attr:`SourceFile.blob_key`).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ArtifactBundle", "BundleFiles", "NewArtifactBundle", "SourceFile"]


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One file of a bundle, found by debug id or by release + dist + URL."""

    path: str  # its path inside the bundle (unique per bundle)
    url: str | None  # "~/static/app.min.js": how events name it
    file_type: str  # "minified_source", "source_map", "source", ...
    debug_id: str | None  # lower-case UUID with dashes, shared by a script and its map
    sourcemap: str | None  # a minified script's map reference (its Sourcemap header)
    blob_key: str
    size: int
    checksum: str  # SHA-1 of the contents, hex
    bundle_id: int = 0  # 0 until stored


@dataclass(frozen=True, slots=True)
class ArtifactBundle:
    id: int
    organization_id: int
    checksum: str  # SHA-1 of the whole uploaded zip: the same upload is one bundle
    release: str | None
    dist: str | None
    files: int
    bytes: int
    created_at: float
    used_at: float  # uploaded, or last used to resolve an event: retention counts from it
    project_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class NewArtifactBundle:
    """A bundle assembled from its chunks, its files' blobs already written."""

    organization_id: int
    checksum: str
    release: str | None
    dist: str | None
    project_ids: tuple[int, ...]
    files: tuple[SourceFile, ...]


@dataclass(frozen=True, slots=True)
class BundleFiles:
    """What a listing shows of a bundle's files: the first ones by path (all, unless a
    limit was asked) and how many distinct debug ids all of its files carry."""

    files: tuple[SourceFile, ...]
    debug_ids: int
