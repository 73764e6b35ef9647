"""Keyset pagination cursors: the last row's sort value and id, opaque to clients.

Keyset rather than offset pagination: a page costs the same however deep
the reader goes, and rows arriving meanwhile never shift a page.
"""

from __future__ import annotations

import math


def encode_cursor(value: float, row_id: int) -> str:
    return f"{value!r}:{row_id}"


# Row ids are 63-bit (SQLite INTEGER, PostgreSQL BIGINT, ClickHouse UInt64 from them).
_MAX_ROW_ID = 2**63


def decode_cursor(cursor: str | None) -> tuple[float, int] | None:
    """The cursor's (value, id); None for no cursor. ValueError when malformed: not two
    numbers, a value that is not finite, or an id out of ``0 <= id < 2**63`` (a crafted
    link, which a database would refuse with an overflow, not a 400)."""
    if not cursor:
        return None
    try:
        text, row_text = cursor.rsplit(":", 1)
        value, row_id = float(text), int(row_text)
    except ValueError:
        raise ValueError(f"invalid cursor {cursor[:100]!r}") from None
    if not math.isfinite(value) or not 0 <= row_id < _MAX_ROW_ID:
        raise ValueError(f"invalid cursor {cursor[:100]!r}")
    return value, row_id
