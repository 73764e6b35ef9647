"""Server-side scrubbing: secrets never reach the store.

Runs on every canonical event before it is written, whatever SDK sent it and
whatever that SDK's own settings were. It replaces values, never keys, so a
reader still sees *that* a password was there.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from heliograph.model import Event

FILTERED = "[Filtered]"

# Key names whose values are secrets, matched as substrings of the lower-cased key.
SENSITIVE_KEY_PARTS = (
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "api-key",
    "authorization",
    "credentials",
    "cookie",
    "session",
    "csrf",
    "xsrf",
    "private_key",
    "privatekey",
    "card_number",
    "cardnumber",
    "cvv",
    "ssn",
)
# Keys containing a sensitive part that are still safe (they carry ids, not secrets).
SAFE_KEYS = frozenset({"session_id", "$session_id", "$ai_session_id", "sessionid_hash"})

_CARD_CANDIDATE = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
_BEARER = re.compile(r"\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE)
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/@\s:]+:[^/@\s]+(?=@)")
# One cheap search that rules out most strings before the three precise ones run.
_MAY_HOLD_SECRET = re.compile(r"\d[ -]?\d[ -]?\d[ -]?\d|bearer|basic|token|://", re.IGNORECASE)
MAX_DEPTH = 20


def _luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _mask_cards(match: re.Match[str]) -> str:
    digits = re.sub(r"[ -]", "", match.group(0))
    if 13 <= len(digits) <= 19 and _luhn_valid(digits):
        return FILTERED
    return match.group(0)


_SENSITIVE_KEY = re.compile("|".join(re.escape(part) for part in SENSITIVE_KEY_PARTS))


@functools.lru_cache(maxsize=8192)
def is_sensitive_key(key: str, extra_keys: frozenset[str] = frozenset()) -> bool:
    """Cached: the same few hundred keys (headers, variable names) come back all day."""
    lowered = key.lower()
    if lowered in SAFE_KEYS:
        return False
    return lowered in extra_keys or _SENSITIVE_KEY.search(lowered) is not None


def scrub_text(text: str) -> str:
    """Mask credentials that hide inside free text (card numbers, bearer tokens, URLs)."""
    if len(text) < 8 or _MAY_HOLD_SECRET.search(text) is None:
        return text
    text = _CARD_CANDIDATE.sub(_mask_cards, text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {FILTERED}", text)
    return _URL_CREDENTIALS.sub(FILTERED, text)


def scrub_value(value: Any, extra_keys: frozenset[str] = frozenset(), depth: int = 0) -> Any:
    """Scrub any JSON-like value: sensitive keys at any depth, secrets in strings.

    Only *string* values under sensitive keys are replaced: ``max_tokens: 512``
    or ``$ai_input_tokens: 30`` are counts, not credentials.
    """
    if isinstance(value, str):
        return scrub_text(value)
    if depth > MAX_DEPTH:
        return value
    if isinstance(value, dict):
        scrubbed = {}
        for key, item in value.items():
            if isinstance(item, str):
                sensitive = item and isinstance(key, str) and is_sensitive_key(key, extra_keys)
                scrubbed[key] = FILTERED if sensitive else scrub_text(item)
            elif isinstance(item, (dict, list)):
                scrubbed[key] = scrub_value(item, extra_keys, depth + 1)
            else:
                scrubbed[key] = item
        return scrubbed
    if isinstance(value, list):
        return [
            scrub_value(item, extra_keys, depth + 1)
            if isinstance(item, (str, dict, list))
            else item
            for item in value
        ]
    return value


def scrub_event(event: Event, extra_keys: frozenset[str] = frozenset()) -> None:
    """Scrub an event in place before it is stored."""
    if event.message:
        event.message = scrub_text(event.message)
    for exc in event.exceptions:
        exc.value = scrub_text(exc.value)
        for frame in exc.frames:
            if frame.vars:
                frame.vars = scrub_value(frame.vars, extra_keys)
    for frame in event.stacktrace:
        if frame.vars:
            frame.vars = scrub_value(frame.vars, extra_keys)
    if event.request:
        event.request = scrub_value(event.request, extra_keys)
    event.contexts = scrub_value(event.contexts, extra_keys)
    event.extra = scrub_value(event.extra, extra_keys)
    event.tags = scrub_value(event.tags, extra_keys)
    event.properties = scrub_value(event.properties, extra_keys)
    for crumb in event.breadcrumbs:
        if crumb.message:
            crumb.message = scrub_text(crumb.message)
        if crumb.data:
            crumb.data = scrub_value(crumb.data, extra_keys)
    if event.user and event.user.data:
        event.user.data = scrub_value(event.user.data, extra_keys)
