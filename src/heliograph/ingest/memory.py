"""Ingest's side of the memory budget: every endpoint runs inside a reservation.

The budget itself, and how decoders charge it, is :mod:`heliograph.budget`.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from heliograph.budget import MemoryBudget, reserving

__all__ = ["budgeted", "return_large_blocks"]

# glibc's mallopt(3) parameter, and the threshold it starts with.
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 128 * 1024

Endpoint = Callable[[Request], Awaitable[Response]]


def budgeted(endpoint: Endpoint) -> Endpoint:
    """Run an ingest endpoint inside a reservation on the gate's memory budget.

    Refusals raise from inside the endpoint, so its own ``except IngestError``
    answers them in its protocol's dialect. The reservation is released when
    the endpoint returns or raises (``ClientDisconnect`` included).
    """

    @functools.wraps(endpoint)
    async def wrapper(request: Request) -> Response:
        budget: MemoryBudget = request.app.state.ingest.memory
        with reserving(budget):
            return await endpoint(request)

    return wrapper


def return_large_blocks() -> bool:
    """Have the C allocator give large blocks (request bodies) back to the system when freed.

    glibc serves blocks over its mmap threshold (128 KiB) with ``mmap``, and
    unmaps them when freed, but raises the threshold to the size of each one
    freed (up to 32 MiB): after one large body, bodies that size come from
    the heap, which fragments and keeps what it grew to. Measured with 16
    simultaneous 16 MiB bodies under a 128 MiB budget: 310 MiB peak RSS
    with the moving threshold, 228 MiB with it fixed. Setting the threshold
    explicitly fixes it (mallopt(3): "disables dynamic adjustment").
    Returns False where there is no glibc ``mallopt`` (nothing changes).
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD))
