"""A process-wide budget for the request bodies that ingest holds in memory.

Each limit in :mod:`~heliograph.protocols.bodies` bounds one request; this
bounds all of them together. Every ingest request that reads a body takes a
:class:`Reservation` on the runtime's :class:`MemoryBudget`
(:func:`reserving`; ingest's endpoints through
:func:`heliograph.ingest.memory.budgeted`) and grows it
by every byte it keeps: the body as it arrived (it is queued as such) and
whatever decoded bytes are held at once (decoded bodies, envelope items,
the copy made when pieces are joined). Decoded bytes that are checked and
dropped as they stream by (an envelope's attachments) are not held, so they
cost nothing here. When the request ends, however it ends (an answer, an
error, a client that went away), the whole reservation is given back.

Growing past the budget refuses the request: with
:class:`~heliograph.protocols.errors.Overloaded` (503 and ``Retry-After``) when
other requests hold the rest, with
:class:`~heliograph.protocols.errors.PayloadTooLarge` (413) when this request
alone needs more than the whole budget, since retrying cannot help it.

The server is one asyncio thread, so the counter is per process; a lock
keeps it exact should a decode ever run in a worker thread. The reservation
of the running request is also found through a context variable, so that
decoders called deep inside protocol modules (PostHog's ``data=`` fields,
OTLP's gzip bodies) are charged without being passed it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from heliograph.protocols.errors import Overloaded, PayloadTooLarge

__all__ = [
    "OVERLOAD_RETRY_AFTER",
    "MemoryBudget",
    "Reservation",
    "charge",
    "current",
    "discharge",
    "joined",
    "parsed_cost",
    "reserving",
]

MiB = 1024 * 1024
# Requests finish in well under a second: the budget frees up quickly.
OVERLOAD_RETRY_AFTER = 2


class MemoryBudget:
    """At most ``limit`` bytes of request bodies held at once, all requests together."""

    def __init__(self, limit: int) -> None:
        if limit <= 0:
            raise ValueError(f"memory budget must be positive, got {limit}")
        self.limit = limit
        self.in_use = 0
        # The most held at once since start, and how many requests were refused for room.
        self.peak = 0
        self.refused = 0
        self._lock = threading.Lock()

    def reservation(self) -> Reservation:
        return Reservation(self)

    def _take(self, held: int, nbytes: int) -> None:
        with self._lock:
            if held + nbytes > self.limit:
                raise PayloadTooLarge(
                    f"this request needs more than the server's {self.limit}-byte budget "
                    "for request bodies in memory"
                )
            if self.in_use + nbytes > self.limit:
                self.refused += 1
                raise Overloaded(
                    "the server is holding as many request bodies in memory as it may; "
                    f"retry in {OVERLOAD_RETRY_AFTER} s",
                    retry_after=OVERLOAD_RETRY_AFTER,
                    scope="organization",
                    reason="memory",
                )
            self.in_use += nbytes
            self.peak = max(self.peak, self.in_use)

    def _give(self, nbytes: int) -> None:
        with self._lock:
            self.in_use -= nbytes


class Reservation:
    """One request's share of a :class:`MemoryBudget`: grows with what it holds."""

    __slots__ = ("budget", "held")

    def __init__(self, budget: MemoryBudget) -> None:
        self.budget = budget
        self.held = 0

    def grow(self, nbytes: int) -> None:
        """Hold ``nbytes`` more, or raise (``Overloaded`` 503, ``PayloadTooLarge`` 413)."""
        if nbytes > 0:
            self.budget._take(self.held, nbytes)
            self.held += nbytes

    def shrink(self, nbytes: int) -> None:
        """``nbytes`` held so far have been let go of."""
        nbytes = min(max(nbytes, 0), self.held)
        if nbytes:
            self.held -= nbytes
            self.budget._give(nbytes)

    def release(self) -> None:
        self.shrink(self.held)


_current: ContextVar[Reservation | None] = ContextVar("heliograph_ingest_memory", default=None)


def current() -> Reservation | None:
    """The reservation of the request being handled (None outside one, e.g. in digest)."""
    return _current.get()


def charge(nbytes: int) -> None:
    """Grow the current request's reservation, if there is one."""
    reservation = _current.get()
    if reservation is not None:
        reservation.grow(nbytes)


def discharge(nbytes: int) -> None:
    """Shrink the current request's reservation, if there is one."""
    reservation = _current.get()
    if reservation is not None:
        reservation.shrink(nbytes)


# What parsing JSON costs beyond its bytes, per value: Python objects are far
# larger than their text. Counting "{", "[" and "," (C-speed scans) bounds the
# number of values. Measured with tracemalloc: parsed tiny events take 7x
# their text, posthog-js pageviews 3.7x, generations 2.2x; decoding them
# into events about doubles that. With these weights a body of tiny events
# is charged ~15x, pageviews ~4.3x: a 19 MiB batch of real events fits the
# default budget, a batch of hundreds of thousands of tiny ones does not.
_PER_CONTAINER = 256
_PER_VALUE = 64


def parsed_cost(payload: bytes) -> int:
    """A generous estimate of the memory that parsing ``payload`` as JSON takes."""
    containers = payload.count(b"{") + payload.count(b"[")
    return len(payload) + _PER_CONTAINER * containers + _PER_VALUE * payload.count(b",")


def joined(parts: list[bytes], size: int, reservation: Reservation | None) -> bytes:
    """``parts`` (``size`` bytes, already charged) as one bytes object.

    The copy is charged while it and the parts both exist; ``parts`` is
    emptied, so that the pieces go as soon as the copy is made.
    """
    if len(parts) <= 1:
        return parts[0] if parts else b""
    if reservation is not None:
        reservation.grow(size)
    body = b"".join(parts)
    parts.clear()
    if reservation is not None:
        reservation.shrink(size)
    return body


@contextmanager
def reserving(budget: MemoryBudget) -> Iterator[Reservation]:
    """A reservation for the code inside, made current, released however it ends."""
    reservation = Reservation(budget)
    token = _current.set(reservation)
    try:
        yield reservation
    finally:
        _current.reset(token)
        reservation.release()
