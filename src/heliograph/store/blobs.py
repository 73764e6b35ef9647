"""Where large immutable blobs live (session-replay segments): not in database rows.

A :class:`BlobStore` has three methods, like an httpx transport has one:
put, get and delete by key. Keys are ``/``-separated names made by the
caller from ids it checked (never user text as is). The default keeps each
blob as a file under a directory (``file://``); ``s3://`` keeps them in an
S3-compatible object store (:mod:`heliograph.store.s3_blobs`).
:data:`BLOB_STORES` is the registry a new kind joins, named by the scheme of
``HELIOGRAPH_BLOB_URL``.

Durability: :meth:`BlobStore.put` returns once the blob would survive a
crash (the file and its directory are fsynced), because digest deletes a
recording from its queue as soon as the database row that names the blob has
committed.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

from heliograph.config import ConfigError
from heliograph.store.base import StoreUnavailable

__all__ = ["BLOB_STORES", "BlobStore", "FileBlobStore", "open_blob_store"]

# A key: path segments of safe characters, never "." or "..".
_KEY = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}(/[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}){0,7}$")


class BlobStore(Protocol):
    def put(self, key: str, data: bytes) -> None:
        """Keep ``data`` under ``key`` (replacing what was there), durably.

        Raises :class:`StoreUnavailable` when the store cannot write just now.
        """
        ...

    def get(self, key: str) -> bytes | None:
        """The blob under ``key``; None when there is none."""
        ...

    def delete(self, keys: Iterable[str]) -> None:
        """Forget these blobs; a key with no blob is not an error."""
        ...


def check_key(key: str) -> str:
    if not _KEY.match(key):
        raise ValueError(f"not a blob key: {key[:80]!r}")
    return key


class FileBlobStore:
    """Each blob a file under ``root``: written to a temporary name, fsynced, renamed."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".put-")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temporary, path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
            directory = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        except OSError as exc:  # disk full, read-only, permissions: retry later
            raise StoreUnavailable(f"cannot write blob {key}: {exc.strerror}") from exc

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            path = self._path(key)
            path.unlink(missing_ok=True)
            # Leave no empty directory behind (one per replay).
            with contextlib.suppress(OSError):
                path.parent.rmdir()


class UnconfiguredBlobStore:
    """What a store without a blob location has: reads find nothing, writes say why."""

    def put(self, key: str, data: bytes) -> None:
        raise ConfigError("session replays need HELIOGRAPH_BLOB_URL (docs/replay.md)")

    def get(self, key: str) -> bytes | None:
        return None

    def delete(self, keys: Iterable[str]) -> None:
        return None


def _open_file(url: str) -> BlobStore:
    path = url.removeprefix("file://")
    if not path.startswith("/"):
        raise ConfigError("a file:// blob URL names an absolute directory: file:///var/lib/...")
    return FileBlobStore(Path(path))


def _open_s3(url: str) -> BlobStore:
    from heliograph.store.s3_blobs import open_s3

    return open_s3(url)


# URL scheme -> opener. A new kind of blob store is one entry here.
BLOB_STORES: dict[str, Callable[[str], BlobStore]] = {"file": _open_file, "s3": _open_s3}


def open_blob_store(url: str) -> BlobStore:
    """The blob store ``url`` names; none configured (empty): :class:`UnconfiguredBlobStore`."""
    if not url:
        return UnconfiguredBlobStore()
    scheme = url.split(":", 1)[0].lower()
    opener = BLOB_STORES.get(scheme)
    if opener is None or "://" not in url:
        known = ", ".join(f"{name}://" for name in sorted(BLOB_STORES))
        raise ConfigError(f"unsupported blob URL scheme {scheme!r}: use one of {known}")
    return opener(url)
