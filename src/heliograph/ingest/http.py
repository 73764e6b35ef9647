"""What every ingest endpoint shares: error answers, CORS, backpressure, rate limits.

Ingest endpoints raise :class:`~heliograph.protocols.errors.IngestError`; one
place turns it into the 4xx answer of the endpoint's protocol dialect.
:func:`admit` is the one gate every authenticated payload passes: the
backlog bound, then the key's and the project's rate limits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse

from heliograph import budget
from heliograph.ingest.gate import IngestGate
from heliograph.protocols.errors import IngestError, PayloadTooLarge, RateLimited

BACKLOG_RETRY_AFTER = 10
# X-Sentry-Error carries the detail, shortened past this many characters.
MAX_ERROR_HEADER = 512
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def cors_headers(request: Request, allow_headers: str) -> dict[str, str]:
    """Browser SDKs post cross-origin: mirror the origin, expose the limit headers."""
    origin = request.headers.get("origin")
    # An origin is ASCII (RFC 6454 §6.2, hosts in punycode): anything else is not mirrored.
    if not origin or not origin.isascii():
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Allow-Headers": allow_headers,
        "Access-Control-Expose-Headers": "X-Sentry-Error, X-Sentry-Rate-Limits, Retry-After",
        "Access-Control-Max-Age": "3600",
        "Vary": "Origin",
    }


async def read_raw_body(request: Request, max_bytes: int) -> bytes:
    """The body as it arrived (no decoding), refused past ``max_bytes``.

    What is held is charged to the request's memory reservation, if any
    (:mod:`heliograph.budget`).
    """
    reservation = budget.current()
    received: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"request body exceeds {max_bytes} bytes")
        if reservation is not None:
            reservation.grow(len(chunk))
        received.append(chunk)
    return budget.joined(received, size, reservation)


def check_backlog(gate: IngestGate) -> None:
    """Refuse new work while digest is too far behind, instead of growing without bound."""
    if gate.backlog.depth >= gate.max_backlog:
        raise RateLimited(
            "the server is busy digesting a backlog; retry later",
            retry_after=BACKLOG_RETRY_AFTER,
            scope="organization",
            reason="backlog",
        )


def admit(
    gate: IngestGate, public_key: str, project_id: int, *, category: str, cost: int = 1
) -> None:
    """Let an authenticated payload of ``cost`` events in, or raise ``RateLimited``.

    Refusals are counted (in memory) as ``rate_limited`` outcomes of the project.
    """
    try:
        check_backlog(gate)
    except RateLimited:
        gate.limiter.count_refused(project_id, category, "backlog", cost)
        raise
    refusal = gate.limiter.check(public_key, project_id, cost)
    if refusal is not None:
        gate.limiter.count_refused(project_id, category, refusal.reason, cost)
        raise RateLimited(
            f"rate limit of {refusal.limit} events per second exceeded for this "
            f"{refusal.scope}; retry in {refusal.retry_after} s",
            retry_after=refusal.retry_after,
            scope=refusal.scope,
            reason=refusal.reason,
        )


def error_response(
    exc: IngestError, extra_headers: Mapping[str, str], *, sentry: bool
) -> JSONResponse:
    headers = dict(extra_headers)
    if sentry:
        headers["X-Sentry-Error"] = header_text(exc.detail)
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
        if sentry:
            # <seconds>:<categories>:<scope>:<reason>; empty categories means all of them.
            categories = ";".join(exc.categories)
            headers["X-Sentry-Rate-Limits"] = (
                f"{exc.retry_after}:{categories}:{exc.scope}:{exc.reason or ''}"
            )
    return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=headers)


def header_text(text: str, limit: int = MAX_ERROR_HEADER) -> str:
    """``text`` as a safe HTTP header value: printable ASCII, at most ``limit`` characters.

    Header values go out as Latin-1 and may not hold control characters, but
    an error detail may quote what the client sent (a project id of "€", a
    ``length`` of "中"). Non-ASCII becomes Python escapes (``\\u20ac``),
    control characters ``\\x0a``; the JSON body keeps the exact text.
    """
    safe = text.encode("ascii", "backslashreplace").decode("ascii")
    safe = _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", safe)
    if len(safe) > limit:
        safe = safe[: limit - 3] + "..."
    return safe
