"""Sentry authentication: which public key did the client present?

Three places may carry the key (Sentry develop docs, "Authentication" and
"Envelopes / Authentication"):

* the ``X-Sentry-Auth`` header (or ``Authorization`` with the same content):
  ``Sentry sentry_version=7, sentry_client=<name/ver>, sentry_key=<key>,
  sentry_secret=<secret>``;
* the query string, "useful for clients that cannot send headers, such as
  browser-based JavaScript": ``?sentry_key=<key>&sentry_version=7``;
* the ``dsn`` envelope header: "an envelope can be self authenticated ... the
  full DSN must be stored in this key".

"If multiple forms of authentication are given, the endpoint validates that
the information matches and otherwise rejects the request." The secret is
deprecated and never required; it is ignored.

Only the public key is returned: looking it up (unknown key -> 403, key of
another project -> 403) is the caller's business, and so is comparing the
DSN's project id with the URL's, for which :func:`parse_dsn` is public.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from heliograph.protocols.errors import AuthError, BadRequest

__all__ = ["parse_auth", "parse_auth_header", "parse_dsn"]

# Real keys are 32 hex digits; self-hosted installs may mint others, so any
# URL-safe token is accepted, but not spaces, quotes or kilobytes of junk.
_KEY_RE = re.compile(r"[A-Za-z0-9_.~-]{1,128}")


def parse_auth_header(header: str) -> dict[str, str]:
    """``Sentry a=1, b=2`` -> ``{"a": "1", "b": "2"}``; keys lose ``sentry_``.

    The ``Sentry`` scheme word is optional (case-insensitive); values may be
    quoted. Malformed pairs are skipped rather than fatal: only the key
    matters and its absence is reported by :func:`parse_auth`.
    """
    text = header.strip()
    if text[:7].lower() == "sentry ":
        text = text[7:]
    fields: dict[str, str] = {}
    for pair in text.split(","):
        name, sep, value = pair.partition("=")
        if not sep:
            continue
        name = name.strip().lower().removeprefix("sentry_")
        fields[name] = value.strip().strip('"')
    return fields


def parse_dsn(dsn: str) -> tuple[str, int]:
    """``https://<key>[:secret]@host[/path]/<project_id>`` -> ``(key, project_id)``.

    Raises :class:`AuthError` for anything that is not such a URL.
    """
    try:
        parts = urlsplit(dsn.strip())
        host = parts.hostname
    except ValueError as exc:
        raise AuthError(f"invalid DSN: {exc}") from None
    if parts.scheme not in ("http", "https") or not host:
        raise AuthError("invalid DSN: expected http(s)://<public_key>@<host>/<project_id>")
    key = parts.username or ""
    if not _KEY_RE.fullmatch(key):
        raise AuthError("invalid DSN: missing or malformed public key")
    project = parts.path.rstrip("/").rpartition("/")[2]
    if not project.isascii() or not project.isdigit():
        raise AuthError("invalid DSN: the path must end with a numeric project id")
    return key, int(project)


def _checked(key: str, source: str) -> str:
    if not _KEY_RE.fullmatch(key):
        raise AuthError(f"malformed sentry_key in {source}")
    return key


def parse_auth(
    header: str | None,
    query: Mapping[str, str],
    envelope_dsn: str | None = None,
) -> str:
    """Return the public key presented by any of the three sources.

    ``header`` is the value of ``X-Sentry-Auth`` (or ``Authorization``),
    ``query`` the query parameters, ``envelope_dsn`` the envelope header's
    ``dsn``. Raises :class:`AuthError` when no source has a key (or a key is
    malformed) and :class:`BadRequest` when two sources disagree.
    """
    found: list[tuple[str, str]] = []
    if header and header.strip():
        key = parse_auth_header(header).get("key")
        if key:
            found.append(("auth header", _checked(key, "auth header")))
    query_key = query.get("sentry_key")
    if query_key:
        found.append(("query string", _checked(query_key.strip(), "query string")))
    if envelope_dsn:
        found.append(("envelope dsn", parse_dsn(envelope_dsn)[0]))
    if not found:
        raise AuthError(
            "missing authentication: no sentry_key in the X-Sentry-Auth header, "
            "the query string or the envelope's dsn"
        )
    keys = {key for _, key in found}
    if len(keys) > 1:
        sources = " and ".join(source for source, _ in found)
        raise BadRequest(f"conflicting authentication: {sources} carry different keys")
    return found[0][1]
