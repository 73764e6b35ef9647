"""Masks the shapes secrets take, in text about to leave the process.

A safety net, not the policy: no log call in Heliograph passes a request
body, a header, a key or a database URL on purpose (``docs/logging.md``).
But an exception's message can quote a URL it failed to reach, and a
driver's error can echo its connection string. Every log line and every
readiness reason goes through :func:`redact` before it is written, and
what is masked here never reaches a log shipper.
"""

from __future__ import annotations

import re
from collections.abc import Callable

MASK = "***"

_RULES: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    # scheme://user:password@host -> scheme://user:***@host (DSNs, database URLs).
    (re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@"), rf"\1{MASK}@"),
    # scheme://<key>@host: a Sentry DSN's public key (any long user name alone).
    (re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://)[A-Za-z0-9_-]{20,}@"), rf"\1{MASK}@"),
    # sentry_key=..., sentry_secret=..., password=..., api_key=..., token=... in
    # query strings, libpq conninfo strings, X-Sentry-Auth headers, and
    # HELIOGRAPH_SMTP_PASSWORD=... or HELIOGRAPH_AI_API_KEY=... quoted from a config file.
    (
        re.compile(
            r"(?i)((?:\b|_)(?:sentry_key|sentry_secret|password|passwd|api[_-]?key|access[_-]?token"
            r"|secret|token)\s*[=:]\s*)(['\"]?)[^\s'\",&;]+"
        ),
        rf"\1\2{MASK}",
    ),
    # Authorization: Bearer <token> (and Basic, or a bare value), as a header line
    # or as a dict's repr.
    (
        re.compile(
            r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(?:(bearer|basic|token)\s+)?[^\s'\",]+"
        ),
        lambda m: f"{m.group(1)}{m.group(2) + ' ' if m.group(2) else ''}{MASK}",
    ),
    # Heliograph API tokens (hgp_...), and the key shapes of LLM providers (sk-..., sk-ant-...).
    (re.compile(r"\bhgp_[A-Za-z0-9_-]{6,}"), f"hgp_{MASK}"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), f"sk-{MASK}"),
)


def redact(text: str) -> str:
    """``text`` with every known secret shape masked (``***``)."""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text
