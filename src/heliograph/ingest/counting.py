"""Ingest's figures for ``/metrics``: payloads accepted, refused and rate-limited.

Each endpoint calls :func:`accepted` once its payload is queued and
:func:`refused` with the error it answers. Reasons are a fixed set (the
error's kind, or the rate limit's own reason), never the error's text,
which may quote what the client sent: a label per text would be unbounded.
"""

from __future__ import annotations

from typing import Literal

from heliograph.metrics import INGEST_PAYLOADS
from heliograph.protocols.errors import (
    AuthError,
    BadEncoding,
    BadRequest,
    ForbiddenError,
    IngestError,
    NotFoundError,
    PayloadTooLarge,
    RateLimited,
)

__all__ = ["Protocol", "accepted", "refusal_labels", "refused"]

Protocol = Literal["sentry", "posthog", "otlp"]

# Most specific first: BadEncoding is a BadRequest.
_REASONS: tuple[tuple[type[IngestError], str], ...] = (
    (AuthError, "auth"),
    (ForbiddenError, "forbidden"),
    (NotFoundError, "not_found"),
    (PayloadTooLarge, "too_large"),
    (BadEncoding, "bad_encoding"),
    (BadRequest, "bad_request"),
)
# The reasons a RateLimited may carry (ingest/http.py, ingest/limits.py, budget.py).
_LIMIT_REASONS = frozenset({"backlog", "key_quota", "project_quota", "memory"})

_ACCEPTED = {
    protocol: INGEST_PAYLOADS.labels(protocol, "accepted", "")
    for protocol in ("sentry", "posthog", "otlp")
}


def accepted(protocol: Protocol) -> None:
    """One payload of ``protocol`` was committed to the queue."""
    _ACCEPTED[protocol].inc()


def refusal_labels(exc: IngestError) -> tuple[str, str]:
    """(outcome, reason) of a refusal: ``rate_limited`` for every "retry later"
    answer (429, and 503 when ingest memory is full), else ``refused``."""
    if isinstance(exc, RateLimited):
        return "rate_limited", exc.reason if exc.reason in _LIMIT_REASONS else "other"
    for kind, reason in _REASONS:
        if isinstance(exc, kind):
            return "refused", reason
    return "refused", "other"


def refused(protocol: Protocol, exc: IngestError) -> None:
    """One request of ``protocol`` was answered with ``exc``."""
    outcome, reason = refusal_labels(exc)
    INGEST_PAYLOADS.labels(protocol, outcome, reason).inc()
