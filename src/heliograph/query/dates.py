"""Times as the API writes them: ISO 8601 in UTC, to the millisecond, ``Z``-suffixed.

Its own module so that every serializer (Sentry-shaped events, LLM records)
can use it without importing the others.
"""

from __future__ import annotations

from datetime import datetime, timezone

__all__ = ["iso"]


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    moment = datetime.fromtimestamp(ts, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
