"""How deeply nested the JSON we accept may be.

Ingest and digest write what they receive back out with ``orjson.dumps``,
which refuses values nested more than 254 levels ("Recursion limit
reached"), while ``orjson.loads`` reads up to 1024. A document between the
two would be accepted and then fail where it is written out again (a 500
at ingest). So every JSON document
or item ingest accepts is held to :data:`MAX_JSON_DEPTH` levels, far below
what the serialiser handles and far above what any SDK sends (Sentry's trim
data bags at a handful of levels).

Depth counts containers: ``{}`` and ``[]`` are 1 level, ``{"a": [1]}`` 2.
"""

from __future__ import annotations

import threading
from typing import Any

import orjson

__all__ = ["MAX_JSON_DEPTH", "depth_exceeds"]

MAX_JSON_DEPTH = 100

# orjson.dumps serialises at most this many nested levels.
_ORJSON_MAX_DEPTH = 254
_local = threading.local()


def depth_exceeds(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when ``value`` (as ``orjson.loads`` returns it) nests deeper than ``limit``.

    The fast path lets orjson's C serialiser do the walk: wrapped in
    ``254 - limit`` lists, ``value`` serialises exactly when it is at most
    ``limit`` deep. The wrapping lists are built once per thread and limit
    (building them per call cost more than the walk). Any other refusal (an
    integer past 64 bits, which values built in Python may hold) falls back
    to counting in Python, so the answer is always about depth.
    """
    if not isinstance(value, dict | list):
        return False
    outer, inner = _wrapping(limit)
    inner[0] = value
    try:
        orjson.dumps(outer)
    except TypeError:  # orjson.JSONEncodeError
        return _walk_exceeds(value, limit)
    finally:
        inner[0] = None
    return False


def _wrapping(limit: int) -> tuple[list[Any], list[Any]]:
    """This thread's ``254 - limit`` nested lists: the outermost and the innermost."""
    chains: dict[int, tuple[list[Any], list[Any]]] | None = getattr(_local, "chains", None)
    if chains is None:
        chains = _local.chains = {}
    chain = chains.get(limit)
    if chain is None:
        inner: list[Any] = [None]
        outer = inner
        for _ in range(_ORJSON_MAX_DEPTH - limit - 1):
            outer = [outer]
        chain = chains[limit] = (outer, inner)
    return chain


def _walk_exceeds(value: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if depth > limit:
            return True
        children = current.values() if isinstance(current, dict) else current
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False
