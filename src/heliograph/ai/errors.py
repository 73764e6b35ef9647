"""Exceptions of the AI-fix feature, each carrying the HTTP status to answer.

``ai/`` raises these; the HTTP endpoint turns any :class:`AIError` into a
response in one place: ``status`` is the status code, :meth:`AIError.body` the
JSON body and :meth:`AIError.headers` extra headers (``Retry-After``). The CLI
prints ``detail``. Nothing here knows about HTTP frameworks, and no message
ever contains an API key.

The tree::

    AIError                        500  base class, never raised directly
    ├── NotConfigured              404  no LLM provider is configured
    ├── NotCached                  204  asked for the cached answer only, and none is cached
    ├── PolicyRefused              403  the project's AI policy refuses; body {"restriction": state}
    └── UpstreamError              502  the LLM provider failed (base; also "other API errors")
        ├── UpstreamRateLimited    429  the provider rate-limited us; carries ``retry_after``
        ├── UpstreamAuthError      502  the provider rejected the API key
        ├── UpstreamTimeout        504  no answer within the timeout
        └── UpstreamUnreachable    502  connection refused / DNS / TLS: cannot reach the provider

Why 502 for an API-key problem rather than 401: the *caller* of Heliograph is
authenticated fine; it is Heliograph's own credentials upstream that were
refused, which is a bad-gateway situation. A 401 would make browsers and API
clients think their Heliograph session expired.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AIError",
    "NotCached",
    "NotConfigured",
    "PolicyRefused",
    "UpstreamAuthError",
    "UpstreamError",
    "UpstreamRateLimited",
    "UpstreamTimeout",
    "UpstreamUnreachable",
]


class AIError(Exception):
    """Base of every AI-fix error: an HTTP ``status`` and a human ``detail``."""

    status: int = 500

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def __str__(self) -> str:
        return self.detail

    def body(self) -> dict[str, Any]:
        """The JSON body the endpoint answers with."""
        return {"detail": self.detail}

    def headers(self) -> dict[str, str]:
        """Extra response headers (none by default)."""
        return {}


class NotConfigured(AIError):
    """No provider: ``HELIOGRAPH_AI_PROVIDER`` is unset (the endpoint answers 404)."""

    status = 404

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(
            detail
            or "no LLM provider is configured: set HELIOGRAPH_AI_PROVIDER (openai or anthropic), "
            "HELIOGRAPH_AI_MODEL and HELIOGRAPH_AI_API_KEY; see docs/ai-fixes.md"
        )


class NotCached(AIError):
    """A cached-only request (the issue page on load) found no cached answer.

    204: nothing to show, and nothing went wrong; the endpoint sends no body.
    """

    status = 204

    def __init__(self) -> None:
        super().__init__("no cached suggestion for this issue")


class PolicyRefused(AIError):
    """The effective AI policy refuses this request; ``restriction`` is the state."""

    status = 403

    def __init__(self, restriction: str, reason: str) -> None:
        super().__init__(reason)
        self.restriction = restriction

    def body(self) -> dict[str, Any]:
        return {"restriction": self.restriction, "detail": self.detail}


class UpstreamError(AIError):
    """The LLM provider failed. Raised as such for API errors without a finer class.

    ``upstream_status`` is the provider's HTTP status when there was one (0
    otherwise), for self-monitoring (``$ai_http_status``).
    """

    status = 502

    def __init__(self, detail: str, *, upstream_status: int = 0) -> None:
        super().__init__(detail)
        self.upstream_status = upstream_status


class UpstreamRateLimited(UpstreamError):
    """The provider answered 429; ``retry_after`` seconds when it said so."""

    status = 429

    def __init__(self, detail: str, *, retry_after: float | None = None) -> None:
        super().__init__(detail, upstream_status=429)
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        body = super().body()
        if self.retry_after is not None:
            body["retry_after"] = self.retry_after
        return body

    def headers(self) -> dict[str, str]:
        if self.retry_after is None:
            return {}
        return {"Retry-After": str(max(1, round(self.retry_after)))}


class UpstreamAuthError(UpstreamError):
    """The provider rejected the API key (401/403). The message is fixed: provider
    messages for this case often echo part of the key."""

    def __init__(self, *, upstream_status: int = 401) -> None:
        super().__init__("the LLM provider rejected the API key", upstream_status=upstream_status)


class UpstreamTimeout(UpstreamError):
    """No (further) answer from the provider within the configured timeout."""

    status = 504


class UpstreamUnreachable(UpstreamError):
    """The connection could not be made (refused, DNS, TLS) or broke mid-answer."""
