"""One HTTP POST of one gzip batch, classified for the retry loop.

Standard library only (``urllib.request``): the SDK must install anywhere
without pulling an HTTP client into the host application.
"""

from __future__ import annotations

import contextlib
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from heliograph_sdk._version import __version__

RETRY_STATUSES = frozenset({408, 429})
MAX_RETRY_AFTER = 300.0
USER_AGENT = f"heliograph-sdk/{__version__}"


@dataclass(frozen=True, slots=True)
class SendResult:
    """``ok``: delivered; ``retry``: worth another try; ``status``: 0 without a response."""

    ok: bool
    retry: bool
    status: int
    retry_after: float | None = None
    error: str | None = None


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if moment is None:
            return None
        seconds = moment.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def classify(status: int, retry_after: str | None) -> SendResult:
    if 200 <= status < 300:
        return SendResult(ok=True, retry=False, status=status)
    retry = status >= 500 or status in RETRY_STATUSES
    return SendResult(
        ok=False,
        retry=retry,
        status=status,
        retry_after=parse_retry_after(retry_after),
        error=f"HTTP {status}",
    )


def post(url: str, gzipped_json: bytes, timeout: float) -> SendResult:
    """POST the body; never raises."""
    request = urllib.request.Request(
        url,
        data=gzipped_json,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "User-Agent": USER_AGENT,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            return classify(response.status, response.headers.get("Retry-After"))
    except urllib.error.HTTPError as exc:
        with contextlib.suppress(Exception):
            exc.read()
        headers = exc.headers
        return classify(exc.code, headers.get("Retry-After") if headers else None)
    except Exception as exc:  # network down, timeout, DNS, TLS…
        return SendResult(ok=False, retry=True, status=0, error=f"{type(exc).__name__}: {exc}")
