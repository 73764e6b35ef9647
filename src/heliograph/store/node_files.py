"""A node's database files on disk, for ``heliograph backup`` and ``restore``.

Backups copy files, and only this package knows which files a node's
databases are and how to copy one while it is written: the SQLite store
(``heliograph.sqlite3``, when the store is the embedded one) and the ingest
queue's shards (``queue*.sqlite3``, on every node whatever the store). The
backup package sees paths, schema versions and counts; never SQLite.
"""

from __future__ import annotations

import errno
import fcntl
import os
import sqlite3
from pathlib import Path

from heliograph.store.sqlite.queue import MIGRATIONS as QUEUE_MIGRATIONS
from heliograph.store.sqlite.queue import existing_shards, shard_path
from heliograph.store.sqlite.schema import MIGRATIONS as STORE_MIGRATIONS

__all__ = [
    "STORE_FILE",
    "FileCopyError",
    "known_schema_versions",
    "queue_files",
    "queued_payloads",
    "quick_check",
    "snapshot_database",
    "users_of",
]

STORE_FILE = "heliograph.sqlite3"
# How long a snapshot waits for SQLite's own locks (a WAL reader rarely waits:
# only while another connection recovers or restarts the log).
BUSY_TIMEOUT_MS = 30_000
# Each connection to a WAL database holds a shared POSIX lock on this byte of
# its ``-shm`` file (SQLite's "dead man switch", UNIX_SHM_DMS in os_unix.c)
# for as long as it is open: an exclusive lock on it is refused while any
# process, on this machine, has the database open.
_SHM_DMS_BYTE = 128


class FileCopyError(Exception):
    """A database file could not be read or copied."""


def queue_files(data_dir: Path) -> list[Path]:
    """The queue shards in ``data_dir``, shard 0 first."""
    return [shard_path(data_dir, shard) for shard in existing_shards(data_dir)]


def known_schema_versions() -> dict[str, int]:
    """The newest schema version this Heliograph can open, by file role (store, queue)."""
    return {"store": len(STORE_MIGRATIONS), "queue": len(QUEUE_MIGRATIONS)}


def snapshot_database(source: Path, target: Path) -> int:
    """Copy a live database file into the new file ``target``; its schema version.

    SQLite's backup API in one step (``pages=-1``) copies every page inside a
    single read transaction: with write-ahead logging, writers go on
    meanwhile and the copy is the database as of the moment the step
    began. A copy in several steps would restart each time another
    connection wrote, and so might never finish under load.

    The source is opened read-only. The copy is switched out of WAL mode so
    that it is one self-contained file (the server switches it back on open).
    """
    try:
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
    except sqlite3.Error as exc:
        raise FileCopyError(f"cannot copy {source}: {exc}") from None
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


def queued_payloads(path: Path) -> tuple[int, int]:
    """Payloads waiting, and dead letters, in a copy of one queue shard."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        waiting = conn.execute("SELECT COUNT(*) FROM queue").fetchone()[0]
        dead = conn.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0]
    except sqlite3.Error:
        return 0, 0  # a shard created as the backup ran: no tables yet
    finally:
        conn.close()
    return int(waiting), int(dead)


def users_of(data_dir: Path) -> list[str]:
    """The database files in ``data_dir`` that a process has open (a running server).

    Asks the kernel rather than looking for process ids: a ``-shm`` file's
    liveness lock is held by every connection of every process using the
    database, and a ``-writer.lock`` is held while one of them writes. Both
    are gone the moment the last user exits, even after ``kill -9``.
    Raises ``OSError`` when it cannot tell.
    """
    busy = set()
    for shm in data_dir.glob("*.sqlite3-shm"):
        if _posix_locked(shm, _SHM_DMS_BYTE):
            busy.add(shm.name.removesuffix("-shm"))
    for lock in data_dir.glob("*.sqlite3-writer.lock"):
        if _flocked(lock):
            busy.add(lock.name.removesuffix("-writer.lock"))
    return sorted(busy)


def _posix_locked(path: Path, byte: int) -> bool:
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, byte)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                return True
            raise
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, byte)
        return False
    finally:
        os.close(fd)


def _flocked(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)
