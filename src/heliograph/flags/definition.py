"""A feature flag as stored and served, and the checks on what users send.

The shape is PostHog's, so that its SDKs evaluate our definitions unchanged
and tools written for its API work: ``key``, ``name``, ``active`` and
``filters`` with ``groups`` (each: person-property conditions, a rollout
percentage, optionally a variant to serve), ``multivariate.variants`` (keys
and percentages summing to 100) and ``payloads`` (by ``"true"`` or variant
key, each a JSON document kept as its text, as PostHog serves it).

Heliograph adds ``environments``: per environment, on or off in place of
``active`` (a flag on in staging and off in production).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from heliograph.flags.regex import compile_regex

try:  # Python 3.11+
    import re._parser as sre_parse
except ImportError:  # Python 3.10
    import sre_parse

__all__ = [
    "OPERATORS",
    "FeatureFlag",
    "FlagChange",
    "FlagError",
    "check_environments",
    "check_filters",
    "check_key",
]

# Person-property operators every evaluator here understands (PostHog's names).
OPERATORS = frozenset(
    {
        "exact",
        "is_not",
        "is_set",
        "is_not_set",
        "icontains",
        "not_icontains",
        "regex",
        "not_regex",
        "starts_with",
        "not_starts_with",
        "ends_with",
        "not_ends_with",
        "gt",
        "gte",
        "lt",
        "lte",
    }
)
_KEY = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
_MAX_GROUPS = 100
_MAX_PROPERTIES = 100
_MAX_VARIANTS = 50
_MAX_PAYLOAD_BYTES = 64 * 1024


class FlagError(ValueError):
    """A flag definition that cannot be stored, with the reason (a 400 to the caller)."""


@dataclass(frozen=True, slots=True)
class FeatureFlag:
    id: int
    project_id: int
    key: str
    name: str
    active: bool
    filters: dict[str, Any]
    environments: dict[str, bool] = field(default_factory=dict)
    version: int = 1
    created_at: float = 0.0
    updated_at: float = 0.0
    created_by: int | None = None

    def is_on(self, environment: str | None) -> bool:
        """On or off in ``environment`` (its own setting, else ``active``)."""
        if environment is not None and environment in self.environments:
            return self.environments[environment]
        return self.active

    @property
    def variants(self) -> list[dict[str, Any]]:
        return list((self.filters.get("multivariate") or {}).get("variants") or [])


@dataclass(frozen=True, slots=True)
class FlagChange:
    """One line of a flag's audit log: who did what, and the fields before and after."""

    flag_id: int
    user_id: int | None
    action: str  # created, updated, deleted
    before: dict[str, Any]
    after: dict[str, Any]
    at: float


def check_key(key: Any) -> str:
    if not isinstance(key, str) or not _KEY.match(key):
        raise FlagError(
            "key must be 1-200 letters, digits, '-' or '_' (it is what the code asks for)"
        )
    return key


def _percentage(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise FlagError(f"{where} must be a number from 0 to 100")
    if not 0 <= value <= 100:
        raise FlagError(f"{where} must be from 0 to 100, got {value}")
    return float(value) if not float(value).is_integer() else int(value)


def _check_property(prop: Any, where: str) -> dict[str, Any]:
    if not isinstance(prop, dict):
        raise FlagError(f"{where} must be an object")
    key = prop.get("key")
    if not isinstance(key, str) or not key:
        raise FlagError(f"{where}.key must name a person property")
    kind = prop.get("type", "person")
    if kind != "person":
        raise FlagError(f"{where}.type {kind!r} is not supported: only person properties")
    operator = prop.get("operator") or "exact"
    if operator not in OPERATORS:
        known = ", ".join(sorted(OPERATORS))
        raise FlagError(f"{where}.operator {operator!r} is not one of {known}")
    value = prop.get("value")
    if operator in ("regex", "not_regex"):
        _check_regex(str(value), where)
    if operator in ("gt", "gte", "lt", "lte") and not _is_number(value):
        raise FlagError(f"{where}.value must be a number for {operator}")
    checked: dict[str, Any] = {"key": key, "type": "person", "operator": operator}
    if operator not in ("is_set", "is_not_set"):
        checked["value"] = value
    return checked


def _check_regex(pattern: str, where: str) -> None:
    """A pattern every evaluator can run safely, or :class:`FlagError` saying why not.

    The server matches with RE2 (linear time, as PostHog's own server does):
    lookaround and backreferences are refused. Nested repetition such as
    ``(a+)+`` is refused too: PostHog's SDKs evaluate locally with
    backtracking engines, where it takes exponential time on some inputs.
    """
    try:
        re.compile(pattern)
    except re.error as exc:
        raise FlagError(f"{where}.value is not a valid regular expression: {exc}") from None
    if compile_regex(pattern) is None:
        raise FlagError(
            f"{where}.value uses lookaround or backreferences, which flags do not support "
            "(patterns are matched in linear time)"
        )
    if _nested_repetition(pattern):
        raise FlagError(
            f"{where}.value repeats a repetition (like (a+)+): on some inputs that takes "
            "exponential time in the SDKs that evaluate flags locally; rewrite it"
        )


def _nested_repetition(pattern: str) -> bool:
    """Whether an unbounded repetition contains another repetition."""
    try:
        parsed = sre_parse.parse(pattern)
    except Exception:
        return False

    def walk(items: Any, inside: bool) -> bool:
        for op, argument in items:
            name = getattr(op, "name", str(op))
            if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
                _low, high, body = argument
                if inside and high > 1:
                    return True
                if walk(body, inside or high > 1000):
                    return True
            elif any(walk(child, inside) for child in _groups_in(name, argument)):
                return True
        return False

    return walk(parsed, False)


def _groups_in(name: str, argument: Any) -> list[Any]:
    """The sub-patterns a parsed group or alternation holds (none for anything else)."""
    if name == "SUBPATTERN":
        return [argument[-1]]
    if name == "ATOMIC_GROUP":
        return [argument]
    if name == "BRANCH":
        return list(argument[1])
    return []


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def check_filters(filters: Any) -> dict[str, Any]:
    """``filters`` checked and normalised, or :class:`FlagError` saying what is wrong."""
    if filters is None:
        filters = {}
    if not isinstance(filters, dict):
        raise FlagError("filters must be an object")
    variants = _check_variants(filters.get("multivariate"))
    keys = {variant["key"] for variant in variants}
    groups_in = filters.get("groups")
    if groups_in is None:
        groups_in = [{"properties": [], "rollout_percentage": 100}]
    if not isinstance(groups_in, list) or len(groups_in) > _MAX_GROUPS:
        raise FlagError(f"filters.groups must be a list of at most {_MAX_GROUPS} conditions")
    groups = []
    for n, group in enumerate(groups_in):
        where = f"filters.groups[{n}]"
        if not isinstance(group, dict):
            raise FlagError(f"{where} must be an object")
        properties = group.get("properties") or []
        if not isinstance(properties, list) or len(properties) > _MAX_PROPERTIES:
            raise FlagError(f"{where}.properties must be a list of at most {_MAX_PROPERTIES}")
        checked: dict[str, Any] = {
            "properties": [
                _check_property(p, f"{where}.properties[{i}]") for i, p in enumerate(properties)
            ],
            "rollout_percentage": None,
        }
        rollout = group.get("rollout_percentage")
        if rollout is not None:
            checked["rollout_percentage"] = _percentage(rollout, f"{where}.rollout_percentage")
        variant = group.get("variant")
        if variant is not None:
            if variant not in keys:
                raise FlagError(f"{where}.variant {variant!r} is not one of the flag's variants")
            checked["variant"] = variant
        groups.append(checked)
    result: dict[str, Any] = {"groups": groups, "payloads": _check_payloads(filters, keys)}
    if variants:
        result["multivariate"] = {"variants": variants}
    return result


def _check_variants(multivariate: Any) -> list[dict[str, Any]]:
    if multivariate is None:
        return []
    raw = multivariate.get("variants") if isinstance(multivariate, dict) else None
    if not isinstance(raw, list) or len(raw) > _MAX_VARIANTS:
        raise FlagError(f"filters.multivariate.variants must be a list of at most {_MAX_VARIANTS}")
    variants: list[dict[str, Any]] = []
    for n, variant in enumerate(raw):
        where = f"filters.multivariate.variants[{n}]"
        if not isinstance(variant, dict):
            raise FlagError(f"{where} must be an object")
        key = variant.get("key")
        if not isinstance(key, str) or not _KEY.match(key):
            raise FlagError(f"{where}.key must be 1-200 letters, digits, '-' or '_'")
        if any(v["key"] == key for v in variants):
            raise FlagError(f"{where}.key {key!r} is there twice")
        checked = {
            "key": key,
            "name": str(variant.get("name") or ""),
            "rollout_percentage": _percentage(
                variant.get("rollout_percentage"), f"{where}.rollout_percentage"
            ),
        }
        variants.append(checked)
    total = sum(v["rollout_percentage"] for v in variants)
    if variants and abs(total - 100) > 1e-9:
        raise FlagError(f"the variants' percentages must add up to 100, not {total:g}")
    return variants


def _check_payloads(filters: dict[str, Any], variant_keys: set[str]) -> dict[str, str]:
    """Payloads by ``"true"`` (a boolean flag) or variant key, each kept as JSON text."""
    raw = filters.get("payloads") or {}
    if not isinstance(raw, dict):
        raise FlagError("filters.payloads must be an object")
    allowed = variant_keys or {"true"}
    payloads: dict[str, str] = {}
    for key, value in raw.items():
        if key not in allowed:
            names = ", ".join(sorted(allowed))
            raise FlagError(f"filters.payloads[{key!r}]: a payload belongs to one of {names}")
        if value is None:
            continue
        if isinstance(value, str):
            try:
                orjson.loads(value)
                text = value
            except orjson.JSONDecodeError:
                text = orjson.dumps(value).decode()  # a plain string payload
        else:
            text = orjson.dumps(value).decode()
        if len(text.encode()) > _MAX_PAYLOAD_BYTES:
            raise FlagError(f"filters.payloads[{key!r}] is over {_MAX_PAYLOAD_BYTES} bytes")
        payloads[key] = text
    return payloads


def check_environments(environments: Any) -> dict[str, bool]:
    if environments is None:
        return {}
    if not isinstance(environments, dict) or not all(
        isinstance(name, str) and name and isinstance(on, bool) for name, on in environments.items()
    ):
        raise FlagError("environments must map environment names to true or false")
    return dict(environments)
