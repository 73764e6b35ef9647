"""The storage under shared rate-limit buckets: a fixed table in a file every process maps.

The server's N acceptor processes each build their own
:class:`~heliograph.ingest.limits.IngestLimiter`; for a limit to hold for the
whole node they must spend from the same buckets. This module keeps those
buckets in a file (``ratelimits.bin`` in the data directory) that each
process maps with ``mmap``: a small header, then ``SLOTS`` fixed-size slots
of (key hash, tokens, stamp, rate, previous rate), found by open addressing
with linear probing on a stable 64-bit hash of the bucket's name (blake2b,
never Python's ``hash()``, which differs per process).

Slots are claimed, never freed: a table of 65,536 holds every limited key
and project of any real node; the supervisor empties it at each start
(:func:`reset_shared_buckets`). Every read and write happens while holding
the table (``with table:``): a ``threading.Lock`` for the threads of one
process and an exclusive ``flock`` on the file for the processes. The token
arithmetic is not here; it lives once, in :mod:`heliograph.ingest.limits`.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import mmap
import os
import struct
import threading
import weakref
from pathlib import Path
from types import TracebackType

__all__ = [
    "SLOT",
    "SLOTS",
    "TOKENS",
    "TOKENS_AT",
    "SharedTable",
    "bucket_hash",
    "reset_shared_buckets",
]

log = logging.getLogger(__name__)

SLOTS = 65_536
MAGIC = b"HGRATE01"
_HEADER = struct.Struct("<8sQ")  # magic, number of slots
HEADER_SIZE = 64
SLOT = struct.Struct("<Qdddd")  # key hash (0: free), tokens, stamp, rate, previous rate
TOKENS = struct.Struct("<dd")  # a slot's tokens and stamp, which every take rewrites
TOKENS_AT = 8  # their offset in the slot
_HASH = struct.Struct("<Q")

Slot = tuple[int, float, float, float, float]


def bucket_hash(name: bytes) -> int:
    """The slot key of a bucket (``b"k:" + public key``, ``b"p:%d" % project``): never 0."""
    value = int.from_bytes(hashlib.blake2b(name, digest_size=8).digest(), "little")
    return value or 1


def _file_size(slots: int) -> int:
    return HEADER_SIZE + slots * SLOT.size


def _initialise(fd: int, slots: int) -> None:
    """Empty the table and size the file (the caller holds the flock)."""
    os.ftruncate(fd, 0)  # drops the old contents: the slots read back as zeros, i.e. free
    os.ftruncate(fd, _file_size(slots))
    os.pwrite(fd, _HEADER.pack(MAGIC, slots), 0)


def _read_slots(fd: int) -> int | None:
    """The slot count of a well-formed table file, else None (the caller holds the flock)."""
    header = os.pread(fd, _HEADER.size, 0)
    if len(header) != _HEADER.size:
        return None
    magic, slots = _HEADER.unpack(header)
    if magic != MAGIC or slots < 1 or os.fstat(fd).st_size != _file_size(slots):
        return None
    return int(slots)


def _open(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


def reset_shared_buckets(path: Path, slots: int = SLOTS) -> None:
    """Create or empty the table file: every bucket starts full again.

    The server's supervisor calls this once at start, before any worker opens
    the file (a process that has it mapped must not see its size change).
    """
    fd = _open(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        _initialise(fd, slots)
    finally:
        os.close(fd)  # releases the flock


class SharedTable:
    """One process's view of the table file; hold it for every access.

    Holding it is taking ``lock`` (this process's threads), then an exclusive
    ``flock`` on ``fd`` (the node's processes): ``with table:`` does both.
    """

    def __init__(self, path: Path, slots: int = SLOTS) -> None:
        """Map ``path``, creating the table when the file is missing or not a table.

        ``slots`` only sizes a table created here; an existing one keeps its own.
        """
        self.path = path
        self.lock = threading.Lock()
        self.fd = _open(path)
        try:
            with self:
                found = _read_slots(self.fd)
                if found is None:
                    if os.fstat(self.fd).st_size:
                        log.warning("%s is not a rate-limit table: emptying it", path)
                    _initialise(self.fd, slots)
                    found = slots
        except BaseException:
            os.close(self.fd)
            raise
        self.slots = found
        self.mm = mmap.mmap(self.fd, _file_size(found))
        self.full_logged = False
        # A forked child shares the parent's open file, hence its flock: give it its own.
        own = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _reopen_in_child(own))

    def __enter__(self) -> None:
        self.lock.acquire()
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except BaseException:
            self.lock.release()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            self.lock.release()

    def locate(self, key_hash: int, fresh: Slot) -> int:
        """The offset of the slot holding ``key_hash``, claimed with ``fresh`` when new.

        -1 when the table is full. Call while holding the table.
        """
        mm, slots = self.mm, self.slots
        home = key_hash % slots
        for step in range(slots):
            offset = HEADER_SIZE + ((home + step) % slots) * SLOT.size
            stored = _HASH.unpack_from(mm, offset)[0]
            if stored == key_hash:
                return offset
            if stored == 0:
                SLOT.pack_into(mm, offset, *fresh)
                return offset
        return -1

    def read(self, offset: int) -> Slot:
        slot: Slot = SLOT.unpack_from(self.mm, offset)
        return slot

    def write(self, offset: int, slot: Slot) -> None:
        SLOT.pack_into(self.mm, offset, *slot)

    def close(self) -> None:
        if self.fd >= 0:
            self.mm.close()
            os.close(self.fd)
            self.fd = -1

    def _after_fork(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = _open(self.path)
        self.lock = threading.Lock()


def _reopen_in_child(own: weakref.ref[SharedTable]) -> None:
    table = own()
    if table is not None:
        table._after_fork()
