"""Keyset pagination cursors: the last row's sort value and id, opaque to clients.

Keyset rather than offset pagination: a page costs the same however deep
the reader goes, and rows arriving meanwhile never shift a page.
"""

from __future__ import annotations


def encode_cursor(value: float, row_id: int) -> str:
    return f"{value!r}:{row_id}"


def decode_cursor(cursor: str | None) -> tuple[float, int] | None:
    """The cursor's (value, id); None for no cursor. ValueError when malformed."""
    if not cursor:
        return None
    try:
        value, row_id = cursor.rsplit(":", 1)
        return float(value), int(row_id)
    except ValueError:
        raise ValueError(f"invalid cursor {cursor!r}") from None
