"""A flag's value for one distinct id, the way the server and PostHog's SDKs decide it.

The same rules as the server's ``heliograph.flags.evaluation`` (the SDK
installs without the server, so they are restated here, and the test suite
holds both to posthog-python's own evaluator): PostHog's SHA-1 bucketing,
conditions in order, variant overrides, PostHog's person-property operators.
A filter on a property the caller did not give matches nothing.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

FlagValue = bool | str

_LONG_SCALE = float(0xFFFFFFFFFFFFFFF)
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def bucket(flag_key: str, distinct_id: str, salt: str = "") -> float:
    digest = hashlib.sha1(f"{flag_key}.{distinct_id}{salt}".encode()).hexdigest()
    return int(digest[:15], 16) / _LONG_SCALE


def evaluate(
    definition: Mapping[str, Any],
    distinct_id: str,
    properties: Mapping[str, Any],
    environment: str | None = None,
) -> FlagValue:
    """The value of a served definition (``/flags/definitions``) for ``distinct_id``."""
    environments = definition.get("environments") or {}
    active = environments.get(environment, definition.get("active", True))
    if not active or definition.get("deleted"):
        return False
    key = str(definition["key"])
    filters = definition.get("filters") or {}
    variants = (filters.get("multivariate") or {}).get("variants") or []
    keys = {variant["key"] for variant in variants}
    for group in filters.get("groups") or []:
        if not all(match_property(p, properties) for p in group.get("properties") or []):
            continue
        rollout = group.get("rollout_percentage")
        if rollout is not None and bucket(key, distinct_id) > rollout / 100:
            continue
        if group.get("variant") in keys:
            return str(group["variant"])
        position = bucket(key, distinct_id, "variant")
        low = 0.0
        for variant in variants:
            high = low + variant["rollout_percentage"] / 100
            if low <= position < high:
                return str(variant["key"])
            low = high
        return True
    return False


def payload(definition: Mapping[str, Any], value: FlagValue) -> Any:
    """The payload served with ``value``, decoded from its JSON text (None: none)."""
    if value is False:
        return None
    text = ((definition.get("filters") or {}).get("payloads") or {}).get(
        "true" if value is True else str(value)
    )
    return decode_payload(text)


def decode_payload(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def match_property(prop: Mapping[str, Any], properties: Mapping[str, Any]) -> bool:
    key = str(prop.get("key"))
    operator = prop.get("operator") or "exact"
    if key not in properties:
        return False
    if operator in ("is_set", "is_not_set"):
        return operator == "is_set"
    actual, expected = properties[key], prop.get("value")
    if operator in ("gt", "gte", "lt", "lte"):
        want, have = _number(expected), _number(actual)
        if want is None or have is None:
            return False
        return {
            "gt": have > want,
            "gte": have >= want,
            "lt": have < want,
            "lte": have <= want,
        }[operator]
    if operator in ("exact", "is_not"):
        matched = _exact(expected, actual)
        return matched if operator == "exact" else not matched
    if operator in ("regex", "not_regex"):
        if actual is None:
            return False
        pattern = _regex(str(expected))
        if pattern is None:
            return False
        found = pattern.search(_text(actual)) is not None
        return found if operator == "regex" else not found
    wanted, have_text = _lower(_text(expected)), _lower(_text(actual))
    if operator.endswith("icontains"):
        matched = wanted in have_text
    elif operator.endswith("starts_with"):
        matched = have_text.startswith(wanted)
    elif operator.endswith("ends_with"):
        matched = have_text.endswith(wanted)
    else:
        return False  # an operator this SDK does not know
    return not matched if operator.startswith("not_") else matched


def _exact(expected: Any, actual: Any) -> bool:
    if expected == []:
        return _truthy(actual)
    if _boolean_like(expected):
        return _truthy(expected) == _truthy(actual)
    have = _lower(_text(actual))
    if isinstance(expected, list):
        return have in {_lower(_text(candidate)) for candidate in expected}
    return _lower(_text(expected)) == have


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
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return repr(value)
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def _lower(text: str) -> str:
    return text.translate(_ASCII_LOWER)


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


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None
