"""rrweb's event vocabulary, and posthog-js's packing of it.

Every client records the page with rrweb: a stream of JSON events, each with
a ``type``, a ``timestamp`` in milliseconds and ``data``. A full snapshot
serialises the DOM as a tree of nodes; incremental snapshots carry what
changed (mutations, input, mouse, scroll...). The numbers below are rrweb's.

posthog-js (since its "2024-10" format, marked ``cv``) gzips the bulky parts
of some events in the browser and sends the bytes as a latin-1 string:
:func:`unpack_posthog` turns them back into plain rrweb events, so that what
is stored, masked and played is the same whatever the client.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any

import orjson

from heliograph.protocols.errors import IngestError

# EventType
FULL_SNAPSHOT = 2
INCREMENTAL_SNAPSHOT = 3
META = 4
CUSTOM = 5
PLUGIN = 6

# IncrementalSource
MUTATION = 0
MOUSE_INTERACTION = 2
INPUT = 5
CANVAS_MUTATION = 9

# MouseInteractions
CLICK = 2
DOUBLE_CLICK = 4

# rrweb-snapshot's NodeType
ELEMENT_NODE = 2
TEXT_NODE = 3

# The most one payload's recordings may grow to when their packed parts are
# unpacked (all its $snapshot events together), or a Sentry recording inflated.
MAX_UNPACKED_BYTES = 32 * 1024 * 1024
# Deeper DOM nodes lose their children: what is stored must be written back
# out as JSON (orjson stops at 254 levels; each DOM level is two).
MAX_DOM_DEPTH = 100

_MUTATION_FIELDS = ("texts", "attributes", "removes", "adds")


class UnpackBudget:
    """Bytes left to unpack for one payload: no packed field is a gzip bomb, and
    neither are many of them together."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def inflate(self, packed: str) -> Any:
        try:
            raw = packed.encode("latin-1")
        except UnicodeEncodeError:
            raise IngestError("a packed recording field is not latin-1 text") from None
        inflater = zlib.decompressobj(wbits=47)  # gzip or zlib header, detected
        try:
            data = inflater.decompress(raw, self.left + 1)
        except zlib.error as exc:
            raise IngestError(f"a packed recording field does not inflate: {exc}") from None
        if len(data) > self.left or inflater.unconsumed_tail:
            raise IngestError("the recording is too large once unpacked")
        self.left -= len(data)
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise IngestError(f"a packed recording field is not JSON: {exc}") from None


def unpack_posthog(events: list[Any], budget: UnpackBudget) -> list[dict[str, Any]]:
    """posthog-js's ``$snapshot_data``, with every packed (``cv``) part unpacked.

    Anything that is not an rrweb event (not an object with a numeric type and
    timestamp) is dropped rather than stored; so are parts left packed without
    a ``cv`` mark (text nobody could mask).
    """
    unpacked: list[dict[str, Any]] = []
    for event in events:
        if not is_event(event):
            continue
        if event.get("cv"):
            event = dict(event)
            event.pop("cv")
            data = event.get("data")
            if event["type"] == FULL_SNAPSHOT and isinstance(data, str):
                event["data"] = budget.inflate(data)
            elif event["type"] == INCREMENTAL_SNAPSHOT and isinstance(data, dict):
                data = dict(data)
                for name in _MUTATION_FIELDS:
                    if isinstance(data.get(name), str):
                        data[name] = budget.inflate(data[name])
                event["data"] = data
        unpacked.append(event)
    return unpacked


def is_event(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("type"), int)
        and not isinstance(value.get("type"), bool)
        and isinstance(value.get("timestamp"), int | float)
        and not isinstance(value.get("timestamp"), bool)
    )


def inflate_recording(body: bytes, limit: int = MAX_UNPACKED_BYTES) -> bytes:
    """A Sentry ``replay_recording`` body: zlib- or gzip-compressed, or plain JSON."""
    if not body or body[:1] in (b"[", b"{"):
        return body
    inflater = zlib.decompressobj(wbits=47)  # gzip or zlib header, detected
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise IngestError(f"the replay recording does not inflate: {exc}") from None
    if len(data) > limit or inflater.unconsumed_tail:
        raise IngestError("the replay recording is too large once inflated")
    return data


def walk_nodes(node: Any) -> Iterator[tuple[dict[str, Any], str | None]]:
    """Every serialised DOM node under ``node`` with its parent's tag, without recursion.

    DOMs nest deep; a recursive walk would be one hostile recording away
    from Python's recursion limit. A node :data:`MAX_DOM_DEPTH` levels down
    loses its children (the replay shows it empty).
    """
    stack: list[tuple[Any, str | None, int]] = [(node, None, 0)]
    while stack:
        current, parent_tag, depth = stack.pop()
        if not isinstance(current, dict):
            continue
        yield current, parent_tag
        children = current.get("childNodes")
        if not isinstance(children, list):
            continue
        if depth >= MAX_DOM_DEPTH:
            current["childNodes"] = []
            continue
        tag = current.get("tagName")
        tag = tag.lower() if isinstance(tag, str) else parent_tag
        stack.extend((child, tag, depth + 1) for child in reversed(children))
