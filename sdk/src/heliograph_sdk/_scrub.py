"""Client-side scrubbing of obvious secrets before anything leaves the process.

The server scrubs again; this pass exists so that a password in a local
variable or an ``Authorization`` header never travels at all. It is
deliberately simple: a key that *looks* secret hides its value, and a value
that *looks* like a credential (``Bearer …``, a card number) is hidden
whatever its key.
"""

from __future__ import annotations

import re
from typing import Any

FILTERED = "[Filtered]"

# A key is read as words (``X-Api-Key``: x, api, key; ``refreshToken``: refresh,
# token): a word that names a secret, a word ending in one (``csrftoken``), or
# two words that do together (``api_key``). Whole words, so ``max_tokens``,
# ``$ai_tokens_source`` and ``conversation_session`` are kept.
_SECRET_WORDS = frozenset(
    {"password", "passwd", "pwd", "passphrase", "secret", "secrets", "token", "auth",
     "authorization", "authorisation", "credential", "credentials", "cookie", "cookies",
     "csrf", "xsrf", "sessionid", "cvv", "cvc", "ssn"}
)  # fmt: skip
_SECRET_ENDINGS = ("password", "passwd", "secret", "token", "apikey", "sessid", "privatekey")
_SECRET_PAIRS = frozenset(
    {"apikey", "privatekey", "secretkey", "accesskey", "signingkey", "sessionkey", "cardnumber",
     "creditcard", "ccnumber"}
)  # fmt: skip
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_SECRET_VALUE = re.compile(r"^\s*(bearer|basic|token)\s+\S+", re.IGNORECASE)
_CARD = re.compile(r"^\s*(?:\d[ -]?){12,18}\d\s*$")

_MAX_DEPTH = 10


def is_secret_key(key: object) -> bool:
    if not isinstance(key, str):
        return False
    words = [w for w in _NOT_WORD.split(_CAMEL.sub("_", key).lower()) if w]
    for index, word in enumerate(words):
        if word in _SECRET_WORDS or word.endswith(_SECRET_ENDINGS):
            return True
        if index and words[index - 1] + word in _SECRET_PAIRS:
            return True
    return False


def _luhn(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = ord(char) - 48
        if i % 2:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def is_secret_value(value: str) -> bool:
    if _SECRET_VALUE.match(value):
        return True
    if _CARD.match(value):
        digits = "".join(c for c in value if c.isdigit())
        return _luhn(digits)
    return False


def scrub(value: Any, depth: int = 0) -> Any:
    """A scrubbed copy of ``value`` (dicts, lists and tuples walked, others kept)."""
    if isinstance(value, str):
        return FILTERED if is_secret_value(value) else value
    if depth >= _MAX_DEPTH:
        return value
    if isinstance(value, dict):
        return {
            k: (FILTERED if is_secret_key(k) and v is not None else scrub(v, depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [scrub(v, depth + 1) for v in value]
    return value


def scrub_headers(headers: list[tuple[str, str]]) -> dict[str, str]:
    """Request headers as a dict, secret ones (``Authorization``, ``Cookie``…) hidden."""
    result: dict[str, str] = {}
    for name, value in headers:
        lower = name.lower()
        if is_secret_key(lower) or lower in ("x-api-key", "proxy-authorization"):
            result[lower] = FILTERED
        else:
            result[lower] = FILTERED if is_secret_value(value) else value
    return result
