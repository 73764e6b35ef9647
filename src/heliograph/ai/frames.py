"""Which frames of a long stack the model sees.

:func:`fold_recursion` folds direct recursion (identical consecutive frames)
into one :class:`FoldedFrame` standing for all of them. :func:`select_frames`
then keeps at most ``limit`` frames, doing better than the reference
(``docs/protocols.md`` "Frames shown to a model"), whose edge cases drop more
than needed, or nothing when its half-allowance rounds to zero: the crash
frame first, then the in-app frames (nearest the crash first, with a third of
the room for the oldest ones: both ends of the app's stack), then the other
frames nearest the crash, then both ends of the rest. Exactly
``min(len, limit)`` frames survive.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from heliograph.model import Frame

__all__ = ["FoldedFrame", "fold_recursion", "select_frames"]


def select_frames(in_app: Sequence[bool], limit: int) -> list[int]:
    """Indices (oldest first) of the frames to keep out of ``len(in_app)``.

    The last frame is the crash frame and is always kept. Keeps exactly
    ``min(len, max(limit, 1))`` frames; see the module docstring for the order.
    """
    n = len(in_app)
    limit = max(1, limit)
    if n <= limit:
        return list(range(n))
    keep = {n - 1}
    app = [i for i in range(n - 2, -1, -1) if in_app[i]]  # nearest the crash first
    other = [i for i in range(n - 2, -1, -1) if not in_app[i]]
    keep.update(_both_ends(app, limit - len(keep), near_share=2 / 3))
    room = limit - len(keep)
    near = other[: (room + 1) // 2]
    keep.update(near)
    keep.update(_both_ends(other[len(near) :], limit - len(keep), near_share=1 / 2))
    return sorted(keep)


def _both_ends(candidates: list[int], room: int, *, near_share: float) -> list[int]:
    """``room`` of ``candidates`` (nearest the crash first): near ones and oldest ones."""
    if room <= 0:
        return []
    if len(candidates) <= room:
        return candidates
    near = max(1, math.ceil(room * near_share))
    far = room - near
    return candidates[:near] + (candidates[-far:] if far else [])


@dataclass(frozen=True, slots=True)
class FoldedFrame:
    """A frame after folding direct recursion: it stands for ``count`` identical frames."""

    frame: Frame
    count: int


def fold_recursion(frames: Sequence[Frame]) -> list[FoldedFrame]:
    entries: list[FoldedFrame] = []
    previous: tuple[Any, ...] | None = None
    for frame in frames:
        key = (
            frame.function,
            frame.module,
            frame.filename or frame.abs_path,
            frame.lineno,
            frame.context_line,
        )
        if entries and key == previous:
            # Keep the most recent occurrence: when it is the crash frame, it stays one.
            entries[-1] = FoldedFrame(frame, entries[-1].count + 1)
        else:
            entries.append(FoldedFrame(frame, 1))
        previous = key
    return entries
