"""Copies for backups: SQLite snapshots, plain files hashed as they are copied, fsyncs.

A backup is only worth something once it is on disk: every file is fsynced,
and so is each directory it was created in, before the manifest says it is
there.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CopiedFile",
    "copy_file",
    "fsync_dir",
    "hash_file",
    "human_size",
    "quick_check",
    "schema_version",
    "snapshot_sqlite",
]

CHUNK = 1 << 20
# How long a snapshot waits for SQLite's own locks (a WAL reader rarely waits:
# only while another connection recovers or restarts the log).
BUSY_TIMEOUT_MS = 30_000


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


def snapshot_sqlite(source: Path, target: Path) -> int:
    """Copy a live SQLite database into the new file ``target``; its schema version.

    The backup API in one step (``pages=-1``) copies every page inside a
    single read transaction: with write-ahead logging, writers go on
    meanwhile and the copy is the database as of the moment the step
    began. A copy in several steps would restart each time another
    connection wrote, and so might never finish under load.

    The source is opened read-only. The copy is switched out of WAL mode so
    that it is one self-contained file (the server switches it back on open).
    """
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        src.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        dst = sqlite3.connect(target)
        try:
            src.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode = DELETE")
            version = int(dst.execute("PRAGMA user_version").fetchone()[0])
        finally:
            dst.close()
    finally:
        src.close()
    with target.open("rb") as file:
        os.fsync(file.fileno())
    return version


def quick_check(path: Path) -> str | None:
    """None when SQLite finds ``path`` sound; else what it says is wrong.

    ``quick_check`` reads every page and checks each b-tree, which is what
    a damaged copy fails; unlike ``integrity_check`` it does not match every
    index entry to its row, which costs far more on a large store.
    """
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return str(exc)
    try:
        rows = conn.execute("PRAGMA quick_check").fetchall()
    except sqlite3.Error as exc:
        return str(exc)
    finally:
        conn.close()
    problems = [str(row[0]) for row in rows if row[0] != "ok"]
    return "; ".join(problems[:3]) if problems else None


def schema_version(path: Path) -> int:
    """``PRAGMA user_version``: how many of its migrations a database has had."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


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
