"""Server-side scrubbing: secrets never reach the store.

Runs on every canonical event before it is written, whatever SDK sent it and
whatever that SDK's own settings were. It replaces values, never keys, so a
reader still sees *that* a password was there.
"""

from __future__ import annotations

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


def is_sensitive_key(key: str, extra_keys: frozenset[str] = frozenset()) -> bool:
    lowered = key.lower()
    if lowered in SAFE_KEYS:
        return False
    return lowered in extra_keys or any(part in lowered for part in SENSITIVE_KEY_PARTS)


def scrub_text(text: str) -> str:
    """Mask credentials that hide inside free text (card numbers, bearer tokens, URLs)."""
    if len(text) < 8:
        return text
    text = _CARD_CANDIDATE.sub(_mask_cards, text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {FILTERED}", text)
    return _URL_CREDENTIALS.sub(FILTERED, text)


def scrub_value(value: Any, extra_keys: frozenset[str] = frozenset(), depth: int = 0) -> Any:
    """Scrub any JSON-like value: sensitive keys at any depth, secrets in strings.

    Only *string* values under sensitive keys are replaced: ``max_tokens: 512``
    or ``$ai_input_tokens: 30`` are counts, not credentials.
    """
    if depth > MAX_DEPTH:
        return value
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {
            key: (
                FILTERED
                if isinstance(value[key], str)
                and value[key]
                and isinstance(key, str)
                and is_sensitive_key(key, extra_keys)
                else scrub_value(value[key], extra_keys, depth + 1)
            )
            for key in value
        }
    if isinstance(value, list):
        return [scrub_value(item, extra_keys, depth + 1) for item in value]
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
