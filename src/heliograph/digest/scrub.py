"""Server-side scrubbing: secrets never reach the store.

Runs on every canonical event before it is written, whatever SDK sent it and
whatever that SDK's own settings were: errors (messages, exception values,
local variables, request data and headers, breadcrumbs, contexts, extra,
tags, user data) and analytics events (properties, LLM prompts and
completions included). It replaces values, never keys, so a reader still
sees *that* a password was there.

Two kinds of rules:

* **by key**: the value of any key with a sensitive word (``password``,
  ``secret``, ``token``, ``api_key``, ``authorization``, ``cookie``,
  ``sessionid``...) is replaced, at any depth, in objects and in ``[name,
  value]`` pairs (how some SDKs send headers). Keys are read as words
  (:func:`key_words`), so ``$ai_tokens_source`` or ``conversation_session``
  are kept. A project adds its own words (``scrub_extra_keys``, matched as
  substrings) and names *safe fields* (``scrub_safe_fields``, exact key
  names) whose values are kept untouched.
* **by shape**, in every string: card numbers that pass the Luhn check,
  ``Bearer``/``Basic`` credentials, passwords in URLs, ``key=value`` and
  ``"key": "value"`` pairs with a sensitive key, and well-known token
  formats (OpenAI/Anthropic ``sk-``, AWS, GitHub, Slack, Stripe, Google
  keys, JWTs, PEM private keys, Heliograph's own ``hgp_`` tokens).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from heliograph.bounds import MAX_DEPTH as BOUNDS_MAX_DEPTH
from heliograph.llm_vocabulary import AI_SESSION_ID
from heliograph.model import Event

FILTERED = "[Filtered]"

# Key names whose values are secrets. A key is cut into words (``db_password``,
# ``X-Api-Key``, ``refreshToken``: camelCase too) and is sensitive when a word
# is one of SENSITIVE_WORDS or ends with one of SENSITIVE_ENDINGS
# (``csrftoken``, ``dbpassword``, ``phpsessid``), or two adjacent words make
# one of SENSITIVE_PAIRS (``api_key``, ``private-key``). Whole words, not
# substrings: ``$ai_tokens_source``, ``max_tokens``, ``author`` and
# ``conversation_session`` are no secrets.
SENSITIVE_WORDS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "secret",
        "secrets",
        "token",
        "auth",
        "authorization",
        "credential",
        "credentials",
        "cookie",
        "cookies",
        "csrf",
        "xsrf",
        "sessionid",
        "cvv",
        "cvc",
        "ssn",
    }
)
SENSITIVE_ENDINGS = ("password", "passwd", "secret", "token", "apikey", "sessid", "privatekey")
SENSITIVE_PAIRS = frozenset(
    {
        "apikey",
        "privatekey",
        "secretkey",
        "accesskey",
        "signingkey",
        "encryptionkey",
        "sessionkey",
        "cardnumber",
        "ccnumber",
    }
)
# The substrings that make a key worth cutting into words, and what makes free
# text worth the key=value patterns (the prefilter, not the rule).
SENSITIVE_KEY_PARTS = (
    "pass",
    "pwd",
    "secret",
    "token",
    "key",
    "auth",
    "credential",
    "cookie",
    "csrf",
    "xsrf",
    "sess",
    "cvv",
    "cvc",
    "ssn",
    "card",
    "ccnumber",
)
# Keys containing a sensitive part that are still safe (they carry ids, not secrets).
SAFE_KEYS = frozenset({"session_id", "$session_id", AI_SESSION_ID, "sessionid_hash"})

_CARD_CANDIDATE = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
_BEARER = re.compile(r"\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE)
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/@\s:]+:[^/@\s]+(?=@)")
_KNOWN_SECRETS = re.compile(
    r"\bsk-[A-Za-z0-9_-]{20,}"  # OpenAI, Anthropic (sk-ant-...), most OpenAI-compatible APIs
    r"|\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"  # Stripe
    r"|\bAKIA[0-9A-Z]{16}\b"  # AWS access key id
    r"|\bAIza[0-9A-Za-z_-]{35}"  # Google API key
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}|\bgithub_pat_[A-Za-z0-9_]{22,}"  # GitHub
    r"|\bxox[abposr]-[A-Za-z0-9-]{10,}"  # Slack
    r"|\bhgp_[A-Za-z0-9_-]{20,}"  # Heliograph API tokens
    r"|\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"  # JWT
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)"
)
# Two cheap searches rule out most strings before the precise ones run: a run
# of digits long enough to be a card, or one of these words in the lower-cased
# text. (One case-insensitive pattern doing both cost ten times as much: it
# tries every alternative at every position.)
_LONG_DIGITS = re.compile(r"\d[\d -]{11,}\d")
_SECRET_WORDS = re.compile(
    r"bearer|basic|token|://|sk-|sk_|rk_|akia|aiza|gh[pousr]_|github_|xox|hgp_|eyj|private|"
    r"api|access|signing|encryption|"
    + "|".join(re.escape(part) for part in SENSITIVE_KEY_PARTS if part != "key")
)


def _may_hold_secret(text: str) -> bool:
    return _SECRET_WORDS.search(text.lower()) is not None or _LONG_DIGITS.search(text) is not None


# Digest trims events to this depth before scrubbing (heliograph.bounds), so
# the walk below reaches every value it keeps.
MAX_DEPTH = BOUNDS_MAX_DEPTH
# Shorter strings hold no credential worth masking (and are most strings).
_MIN_SECRET = 8


@dataclass(frozen=True, slots=True, eq=False)
class ScrubRules:
    """A project's additions to the defaults.

    Built through :meth:`of`, which hands out one object per distinct set of
    words, so that identity is equality: the key checks, cached per rules
    object, then hash a pointer instead of two sets for every key of every
    event.
    """

    extra_keys: frozenset[str] = frozenset()
    safe_keys: frozenset[str] = frozenset()

    @classmethod
    def of(cls, extra_keys: object = (), safe_keys: object = ()) -> ScrubRules:
        def words(value: object) -> frozenset[str]:
            items = value if isinstance(value, (tuple, list, set, frozenset)) else ()
            return frozenset(str(word).strip().lower() for word in items if str(word).strip())

        return _interned(words(extra_keys), words(safe_keys))


@functools.lru_cache(maxsize=1024)
def _interned(extra_keys: frozenset[str], safe_keys: frozenset[str]) -> ScrubRules:
    return ScrubRules(extra_keys, safe_keys)


DEFAULT_RULES = _interned(frozenset(), frozenset())


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
# Word boundaries in a key: camelCase humps, then anything not a letter or digit.
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def key_words(key: str) -> list[str]:
    """``X-Api-Key`` -> ``["x", "api", "key"]``; ``refreshToken`` -> ``["refresh", "token"]``."""
    return [word for word in _NOT_WORD.split(_CAMEL.sub("_", key).lower()) if word]


def _sensitive_words(words: list[str]) -> bool:
    for index, word in enumerate(words):
        if word in SENSITIVE_WORDS or word.endswith(SENSITIVE_ENDINGS):
            return True
        if index and words[index - 1] + word in SENSITIVE_PAIRS:
            return True
    return False


@functools.lru_cache(maxsize=8192)
def is_sensitive_key(key: str, rules: ScrubRules = DEFAULT_RULES) -> bool:
    """Cached: the same few hundred keys (headers, variable names) come back all day.

    The project's extra words still match as substrings: a team that names
    ``ref`` means every key containing it.
    """
    lowered = key.lower()
    if lowered in SAFE_KEYS or lowered in rules.safe_keys:
        return False
    if _SENSITIVE_KEY.search(lowered) is not None and _sensitive_words(key_words(key)):
        return True
    return any(word in lowered for word in rules.extra_keys)


@functools.lru_cache(maxsize=64)
def _pair_patterns(rules: ScrubRules) -> tuple[re.Pattern[str], ...]:
    """``key=value``, ``"key": "value"`` and ``'key': 'value'`` with a sensitive key.

    Each pattern's groups are (key as written, separator, value).
    """
    parts = "|".join(re.escape(p) for p in (*SENSITIVE_KEY_PARTS, *sorted(rules.extra_keys)))
    key = rf"[\w$.\-]*(?:{parts})[\w$.\-]*"
    return (
        re.compile(rf"(?i)(\b{key})(=)([^\s&;,'\"<>]+)"),
        re.compile(rf'(?i)("{key}")(\s*:\s*")((?:[^"\\]|\\.)+)(?=")'),
        re.compile(rf"(?i)('{key}')(\s*:\s*')((?:[^'\\]|\\.)+)(?=')"),
    )


def scrub_text(text: str, rules: ScrubRules = DEFAULT_RULES) -> str:
    """Mask credentials that hide inside free text (cards, tokens, key=value pairs, URLs)."""
    if len(text) < _MIN_SECRET:
        return text
    if not _may_hold_secret(text):
        lowered = text.lower() if rules.extra_keys else ""
        if not any(word in lowered for word in rules.extra_keys):
            return text
    text = _CARD_CANDIDATE.sub(_mask_cards, text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {FILTERED}", text)
    text = _URL_CREDENTIALS.sub(FILTERED, text)
    text = _KNOWN_SECRETS.sub(FILTERED, text)

    def keep_safe(match: re.Match[str]) -> str:
        if not is_sensitive_key(match.group(1).strip("'\""), rules):
            return match.group(0)
        return match.group(1) + match.group(2) + FILTERED

    for pattern in _pair_patterns(rules):
        text = pattern.sub(keep_safe, text)
    return text


def _is_safe(key: object, rules: ScrubRules) -> bool:
    return bool(rules.safe_keys) and isinstance(key, str) and key.lower() in rules.safe_keys


def _filtered(value: Any, depth: int) -> Any:
    """Everything under a sensitive key: strings go, numbers and booleans stay."""
    if isinstance(value, str):
        return FILTERED if value else value
    if depth > MAX_DEPTH:
        return FILTERED
    if isinstance(value, dict):
        return {key: _filtered(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [_filtered(item, depth + 1) for item in value]
    return value


def scrub_value(value: Any, rules: ScrubRules = DEFAULT_RULES, depth: int = 0) -> Any:
    """Scrub any JSON-like value: sensitive keys at any depth, secrets in strings.

    Only *strings* under sensitive keys are replaced: ``max_tokens: 512`` or
    ``$ai_input_tokens: 30`` are counts, not credentials.
    """
    if isinstance(value, str):
        return scrub_text(value, rules)
    if depth > MAX_DEPTH:
        return value
    if isinstance(value, dict):
        scrubbed = {}
        safe = rules.safe_keys
        for key, item in value.items():
            if safe and _is_safe(key, rules):
                scrubbed[key] = item
            elif isinstance(key, str) and is_sensitive_key(key, rules):
                scrubbed[key] = _filtered(item, depth + 1)
            elif isinstance(item, str):
                scrubbed[key] = scrub_text(item, rules) if len(item) >= _MIN_SECRET else item
            elif isinstance(item, (dict, list)):
                scrubbed[key] = scrub_value(item, rules, depth + 1)
            else:
                scrubbed[key] = item
        return scrubbed
    if isinstance(value, list):
        items = []
        for item in value:
            if isinstance(item, str):
                items.append(scrub_text(item, rules) if len(item) >= _MIN_SECRET else item)
            elif isinstance(item, dict):
                items.append(scrub_value(item, rules, depth + 1))
            elif isinstance(item, list):
                items.append(_scrub_item(item, rules, depth + 1))
            else:
                items.append(item)
        return items
    return value


def _scrub_item(item: Any, rules: ScrubRules, depth: int) -> Any:
    """A list item; ``[name, value]`` pairs (headers, cookies, query) are judged by name."""
    if isinstance(item, list) and len(item) == 2 and isinstance(item[0], str):
        name, value = item
        if _is_safe(name, rules):
            return item
        if is_sensitive_key(name, rules):
            return [name, _filtered(value, depth)]
    if isinstance(item, (str, dict, list)):
        return scrub_value(item, rules, depth)
    return item


def scrub_event(
    event: Event,
    extra_keys: object = (),
    safe_keys: object = (),
    *,
    rules: ScrubRules | None = None,
) -> None:
    """Scrub an event in place before it is stored.

    ``extra_keys`` / ``safe_keys`` are a project's additions (iterables of
    names); ``rules`` may be passed instead when already built.
    """
    rules = rules or ScrubRules.of(extra_keys, safe_keys)
    if event.message:
        event.message = scrub_text(event.message, rules)
    if event.message_template:
        event.message_template = scrub_text(event.message_template, rules)
    if event.transaction:
        event.transaction = scrub_text(event.transaction, rules)
    for exc in event.exceptions:
        exc.value = scrub_text(exc.value, rules)
        for frame in exc.frames:
            if frame.vars:
                frame.vars = scrub_value(frame.vars, rules)
    for frame in event.stacktrace:
        if frame.vars:
            frame.vars = scrub_value(frame.vars, rules)
    if event.request:
        event.request = scrub_value(event.request, rules)
    event.contexts = scrub_value(event.contexts, rules)
    event.extra = scrub_value(event.extra, rules)
    event.tags = scrub_value(event.tags, rules)
    event.properties = scrub_value(event.properties, rules)
    for crumb in event.breadcrumbs:
        if crumb.message:
            crumb.message = scrub_text(crumb.message, rules)
        if crumb.data:
            crumb.data = scrub_value(crumb.data, rules)
    if event.user and event.user.data:
        event.user.data = scrub_value(event.user.data, rules)
