"""A counter every process of a node reads from memory: "something changed, reload".

Acceptor processes keep ingest keys and rate limits in memory (authenticating
must not touch the database). When one process changes them -- a key created
in the UI, a limit lowered, a key revoked -- it bumps this counter; the
others see the new value on their next request (one read of a mapped page)
and reload at once, instead of at their next periodic reload. Other nodes
still catch up by that periodic reload.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import struct
from pathlib import Path

__all__ = ["SharedCounter"]

_VALUE = struct.Struct("<Q")


class SharedCounter:
    """A 64-bit counter in a small file, mapped into each process that opens it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.fstat(fd).st_size < _VALUE.size:
                os.ftruncate(fd, _VALUE.size)
            fcntl.flock(fd, fcntl.LOCK_UN)
            self._map = mmap.mmap(fd, _VALUE.size)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    @property
    def value(self) -> int:
        """The current value: a read of shared memory, no system call."""
        return int(_VALUE.unpack_from(self._map, 0)[0])

    def bump(self) -> int:
        """Add one (under an exclusive lock, so no bump is lost); returns the new value."""
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            value = (self.value + 1) & 0xFFFF_FFFF_FFFF_FFFF
            _VALUE.pack_into(self._map, 0, value)
            return value
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        self._map.close()
        os.close(self._fd)
