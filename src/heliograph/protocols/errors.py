"""Exceptions raised at the ingest edge, each carrying its HTTP status.

Protocol modules (envelope parsing, body decoding, auth parsing, adapters)
raise these; the HTTP layer turns any :class:`IngestError` into a response in
one place (``status`` becomes the status code, ``detail`` the JSON body and the
``X-Sentry-Error`` header). Nothing here knows about HTTP frameworks.

The tree::

    IngestError                      400  base class, never raised directly
    ├── AuthError                    401  no credentials / unusable credentials
    ├── ForbiddenError               403  unknown or revoked key, key of another project
    ├── NotFoundError                404  unknown project
    ├── BadRequest                   400  the request itself is malformed
    │   ├── EnvelopeParseError       400  envelope framing or header JSON is broken
    │   └── BadEncoding              400  corrupt / truncated compressed body
    │       └── UnsupportedEncoding  415  a Content-Encoding we do not implement
    ├── PayloadTooLarge              413  a byte or count limit was exceeded
    └── RateLimited                  429  carries ``retry_after`` and ``categories``
        └── Overloaded               503  no room for the body in memory right now

Why ``UnsupportedEncoding`` answers 415 rather than 400: RFC 9110 §15.5.16
says of 415 Unsupported Media Type that "the origin server is refusing to
service the request because the content is in a format not supported by this
method on the target resource. The format problem might be due to the
request's indicated Content-Type or Content-Encoding". It stays a subclass of
:class:`BadEncoding` so that code catching ``BadRequest`` still catches it.
"""

from __future__ import annotations

from collections.abc import Iterable


class IngestError(Exception):
    """Base of every ingest error: an HTTP ``status`` and a human ``detail``.

    ``status`` is a class attribute so that subclasses change one attribute
    only; ``detail`` is what the client sees, so it must say precisely what
    was wrong (which item, which limit, which header) and never leak secrets.
    """

    status: int = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def __str__(self) -> str:
        return self.detail


class AuthError(IngestError):
    """No usable credentials: no ``sentry_key`` anywhere, or a malformed one."""

    status = 401


class ForbiddenError(IngestError):
    """Credentials were understood but refused (unknown, revoked, wrong project)."""

    status = 403


class NotFoundError(IngestError):
    """The project in the URL does not exist."""

    status = 404


class BadRequest(IngestError):
    """The request is malformed; retrying it unchanged will fail again."""

    status = 400


class EnvelopeParseError(BadRequest):
    """The envelope framing is broken (header JSON, item lengths, newlines)."""


class BadEncoding(BadRequest):
    """The body does not decode with its Content-Encoding (corrupt or truncated)."""


class UnsupportedEncoding(BadEncoding):
    """A Content-Encoding token we do not implement (RFC 9110 §15.5.16: 415)."""

    status = 415


class PayloadTooLarge(IngestError):
    """A size or count limit was exceeded; ``detail`` names the limit."""

    status = 413


class RateLimited(IngestError):
    """Too many requests. Becomes ``Retry-After`` and ``X-Sentry-Rate-Limits``.

    ``categories`` lists Sentry data categories (``error``, ``transaction``,
    ``attachment``, ...); empty means all categories, as in the header format
    ``<seconds>:<categories;...>:<scope>:<reason>``.
    """

    status = 429

    def __init__(
        self,
        detail: str,
        *,
        retry_after: int,
        categories: Iterable[str] = (),
        scope: str = "project",
        reason: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.retry_after = max(0, int(retry_after))
        self.categories: tuple[str, ...] = tuple(categories)
        self.scope = scope
        self.reason = reason


class Overloaded(RateLimited):
    """The server has no room right now (memory for request bodies): 503, retry later.

    RFC 9110 §15.6.4: 503 "indicates that the server is currently unable to
    handle the request due to a temporary overload", and "the server MAY send
    a Retry-After header field". A :class:`RateLimited` so that every
    endpoint answers it with ``Retry-After`` (and, for Sentry SDKs,
    ``X-Sentry-Rate-Limits``, which they honour whatever the status).
    """

    status = 503
