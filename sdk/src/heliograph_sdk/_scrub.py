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

_SECRET_KEY = re.compile(
    r"passw(or)?d|secret|token|api[-_]?key|authori[sz]ation|cookie|session|csrf|xsrf|"
    r"credit[-_ ]?card|card[-_ ]?number|cvv",
    re.IGNORECASE,
)
_SECRET_VALUE = re.compile(r"^\s*(bearer|basic|token)\s+\S+", re.IGNORECASE)
_CARD = re.compile(r"^\s*(?:\d[ -]?){12,18}\d\s*$")

_MAX_DEPTH = 10


def is_secret_key(key: object) -> bool:
    return isinstance(key, str) and _SECRET_KEY.search(key) is not None


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
