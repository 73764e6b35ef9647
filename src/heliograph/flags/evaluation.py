"""A flag's value for one distinct id: PostHog's rules, so every evaluator agrees.

Bucketing is PostHog's documented hash: the first 15 hex digits of
``sha1("{flag key}.{distinct id}")`` over ``0xFFFFFFFFFFFFFFF`` place a user
in [0, 1); a condition with a rollout of 30% takes those below 0.3. The
variant is picked the same way with the salt ``variant`` appended, against
the variants' cumulative percentages. The conditions (``groups``) are tried
in order; the first whose property filters all match and whose rollout
takes the user decides: its variant override, else the hashed variant, else
``True``. None matching: ``False``.

Property filters compare the person properties the caller sends (PostHog's
operators and their conversions: values are compared as text, ASCII
case-insensitively, booleans as ``true``/``false``, numbers numerically).
A property the caller did not send matches nothing here; PostHog's SDKs,
evaluating locally, ask the server instead, which comes to the same when the
server is given the same properties.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from typing import Any

import orjson

from heliograph.flags.definition import FeatureFlag
from heliograph.flags.regex import compile_regex

__all__ = ["FlagValue", "bucket", "evaluate", "match_property", "payload_for"]

FlagValue = bool | str

# PostHog's scale: 15 hex digits, 60 bits.
_LONG_SCALE = float(0xFFFFFFFFFFFFFFF)
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def bucket(flag_key: str, distinct_id: str, salt: str = "") -> float:
    """Where ``distinct_id`` falls in [0, 1) for ``flag_key`` (PostHog's hash)."""
    digest = hashlib.sha1(f"{flag_key}.{distinct_id}{salt}".encode()).hexdigest()
    return int(digest[:15], 16) / _LONG_SCALE


def evaluate(
    flag: FeatureFlag,
    distinct_id: str,
    properties: Mapping[str, Any] | None = None,
    *,
    environment: str | None = None,
) -> FlagValue:
    """The flag's value for ``distinct_id``: a variant key, ``True`` or ``False``."""
    if not flag.is_on(environment):
        return False
    properties = properties or {}
    variant_keys = {variant["key"] for variant in flag.variants}
    for group in flag.filters.get("groups") or []:
        if not all(match_property(p, properties) for p in group.get("properties") or []):
            continue
        rollout = group.get("rollout_percentage")
        if rollout is not None and bucket(flag.key, distinct_id) > rollout / 100:
            continue
        override = group.get("variant")
        if override in variant_keys:
            return str(override)
        return _variant(flag, distinct_id) or True
    return False


def _variant(flag: FeatureFlag, distinct_id: str) -> str | None:
    position = bucket(flag.key, distinct_id, salt="variant")
    low = 0.0
    for variant in flag.variants:
        high = low + variant["rollout_percentage"] / 100
        if low <= position < high:
            return str(variant["key"])
        low = high
    return None


def payload_for(flag: FeatureFlag, value: FlagValue) -> str | None:
    """The payload (JSON text) served with ``value``: by variant key, or ``"true"``."""
    if value is False:
        return None
    payloads: dict[str, str] = flag.filters.get("payloads") or {}
    return payloads.get("true" if value is True else str(value))


# -- person properties ---------------------------------------------------------


def match_property(prop: Mapping[str, Any], properties: Mapping[str, Any]) -> bool:
    """Whether ``properties`` satisfy one filter; a missing property satisfies none."""
    key = str(prop.get("key"))
    operator = prop.get("operator") or "exact"
    if key not in properties:
        return False
    if operator in ("is_set", "is_not_set"):
        return operator == "is_set"
    actual = properties[key]
    expected = prop.get("value")
    if operator in ("gt", "gte", "lt", "lte"):
        return _compare_numbers(operator, expected, actual)
    if operator in ("exact", "is_not"):
        matched = _exact(expected, actual)
        return matched if operator == "exact" else not matched
    if actual is None and operator in ("regex", "not_regex"):
        return False
    text = _text(actual)
    if operator in ("regex", "not_regex"):
        pattern = _regex(str(expected))
        if pattern is None:
            return False
        found = pattern.search(text) is not None
        return found if operator == "regex" else not found
    wanted = _ascii_lower(_text(expected))
    have = _ascii_lower(text)
    if operator.endswith("icontains"):
        matched = wanted in have
    elif operator.endswith("starts_with"):
        matched = have.startswith(wanted)
    else:
        matched = have.endswith(wanted)
    return not matched if operator.startswith("not_") else matched


def _exact(expected: Any, actual: Any) -> bool:
    if expected == []:
        return _truthy(actual)
    if _boolean_like(expected):
        return _truthy(expected) == _truthy(actual)
    have = _ascii_lower(_text(actual))
    if isinstance(expected, list):
        return have in {_ascii_lower(_text(candidate)) for candidate in expected}
    return _ascii_lower(_text(expected)) == have


def _boolean_like(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, str):
        return value.lower() in ("true", "false")
    if isinstance(value, list):
        return all(_boolean_like(item) for item in value)
    return False


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.lower() == "true"
    if isinstance(value, list):
        return all(_truthy(item) for item in value)
    return False


def _text(value: Any) -> str:
    """A property value as the text filters compare (JSON for anything but a string)."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return repr(value)
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return str(value)


def _ascii_lower(text: str) -> str:
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    if isinstance(value, str) and not _NUMBER.fullmatch(value):
        return None
    try:
        parsed = float(value)
    except (ValueError, OverflowError):
        return None
    return parsed if math.isfinite(parsed) else None


def _compare_numbers(operator: str, expected: Any, actual: Any) -> bool:
    want, have = _number(expected), _number(actual)
    if want is None or have is None:
        return False
    if operator == "gt":
        return have > want
    if operator == "gte":
        return have >= want
    if operator == "lt":
        return have < want
    return have <= want


def _regex(pattern: str) -> Any:
    """RE2, in linear time whatever the input (see :mod:`heliograph.flags.regex`)."""
    return compile_regex(pattern)
