"""Copies for backups: plain files hashed as they are copied, fsyncs.

Database files are copied by the store package (:mod:`heliograph.store.node_files`).

A backup is only worth something once it is on disk: every file is fsynced,
and so is each directory it was created in, before the manifest says it is
there.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CopiedFile",
    "copy_file",
    "fsync_dir",
    "hash_file",
    "human_size",
]

CHUNK = 1 << 20


@dataclass(frozen=True)
class CopiedFile:
    size: int
    sha256: str


def fsync_dir(path: Path) -> None:
    """Make the names created in ``path`` durable (the files' own fsync does not)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def hash_file(path: Path) -> CopiedFile:
    """Size and SHA-256 of a file, read once."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return CopiedFile(size, digest.hexdigest())


def copy_file(source: Path, target: Path) -> CopiedFile:
    """Copy ``source`` to a new file ``target``, hashing what was written, then fsync it.

    The hash is of the bytes read from ``source`` and written to ``target``
    in the same pass: checking it against a manifest checks both files.
    """
    digest = hashlib.sha256()
    size = 0
    with source.open("rb") as src, target.open("xb") as out:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
        out.flush()
        os.fsync(out.fileno())
    return CopiedFile(size, digest.hexdigest())


def human_size(size: int) -> str:
    """``512 bytes``, ``1.5 KiB``, ``12.0 MiB``: sizes as a person reads them."""
    if size < 1024:
        return f"{size} bytes"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024 or unit == "GiB":
            break
    return f"{value:.1f} {unit}"
