"""An evaluator as stored and run, and the checks on what users send.

An evaluator belongs to a project and scores its generations. Five kinds:

* ``llm_judge``: a prompt template (``{{input}}``, ``{{output}}``,
  ``{{expected}}``, ``{{metadata.key}}``) sent to the server's configured
  AI provider, whose JSON answer ``{"score": ..., "reasoning": "..."}`` is
  checked against the evaluator's output schema (a numeric range, a boolean,
  or categories);
* ``regex``, ``json_schema``, ``length``, ``contains``: deterministic checks,
  free, each a boolean (passed or failed) with the reason as its comment.

The same record carries when it runs (enabled, the sampled share of new
generations, a filter on model, prompt or a property, a daily budget in USD)
and when a low score becomes an issue (``threshold``, ``window``: see
``docs/evaluations.md`` "Quality regressions"). Every path that makes one
(the API, the form, tests) goes through :func:`make_evaluator`, so a bad
definition is refused with an :class:`EvaluatorError` saying why.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from heliograph.flags.regex import compile_regex

__all__ = [
    "KINDS",
    "OUTPUT_TYPES",
    "Evaluator",
    "EvaluatorError",
    "EvaluatorFilter",
    "make_evaluator",
]

KINDS = ("llm_judge", "regex", "json_schema", "length", "contains")
DETERMINISTIC = ("regex", "json_schema", "length", "contains")
OUTPUT_TYPES = ("numeric", "boolean", "categorical")
TARGETS = ("output", "input")
MAX_NAME = 100
MAX_TEMPLATE = 20_000
MAX_CONFIG_BYTES = 32_768
MAX_CATEGORIES = 50
MAX_WINDOW = 1000
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")

DEFAULT_TEMPLATE = """\
Rate how well the assistant's answer serves the user's request, from 0 (useless or \
wrong) to 1 (fully correct and helpful).

Request:
{{input}}

Answer:
{{output}}"""


class EvaluatorError(ValueError):
    """A definition that cannot be an evaluator; the message says why (a 4xx)."""


@dataclass(frozen=True, slots=True)
class EvaluatorFilter:
    """Which generations an evaluator looks at: all of them, or those matching every
    field given (the model exactly, the ``$ai_prompt_name``, a property's value)."""

    model: str | None = None
    prompt_name: str | None = None
    property_key: str | None = None
    property_value: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in _slots(self).items() if v is not None}


@dataclass(frozen=True, slots=True)
class Evaluator:
    """One evaluator, as stored. ``id`` is 0 until the store gives it one.

    ``config`` is the kind's own: ``template``, ``max_tokens``, token prices
    (``llm_judge``); ``pattern``, ``target``, ``must_match`` (``regex``);
    ``schema`` (``json_schema``); ``min``, ``max``, ``unit`` (``length``);
    ``values``, ``mode``, ``case_sensitive`` (``contains``). ``output`` is
    what a judge's score must be: ``{"type": "numeric", "min", "max"}``,
    ``{"type": "boolean"}`` or ``{"type": "categorical", "categories",
    "passing"}``; deterministic kinds always score a boolean.
    """

    project_id: int
    name: str
    kind: str
    config: dict[str, Any]
    output: dict[str, Any]
    id: int = 0
    model: str = ""
    sampling_rate: float = 1.0
    daily_budget_usd: float = 1.0
    filter: EvaluatorFilter = field(default_factory=EvaluatorFilter)
    threshold: float | None = None
    window: int = 1
    enabled: bool = True
    created_at: float = 0.0
    updated_at: float = 0.0
    # Where the background run is: the last generation looked at (time, event id).
    cursor_timestamp: float = 0.0
    cursor_event_id: str = ""

    @property
    def deterministic(self) -> bool:
        return self.kind in DETERMINISTIC

    @property
    def output_type(self) -> str:
        return "boolean" if self.deterministic else str(self.output["type"])

    def with_changes(self, **changes: Any) -> Evaluator:
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        """The definition as the API shows it (state included, read-only there)."""
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "config": self.config,
            "output": self.output,
            "model": self.model,
            "sampling_rate": self.sampling_rate,
            "daily_budget_usd": self.daily_budget_usd,
            "filter": self.filter.to_json(),
            "threshold": self.threshold,
            "window": self.window,
            "enabled": self.enabled,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def _slots(value: Any) -> dict[str, Any]:
    return {name: getattr(value, name) for name in type(value).__slots__}


# -- checks ----------------------------------------------------------------------------


def _text(value: Any, what: str, limit: int, *, required: bool = False) -> str | None:
    if value is None or value == "":
        if required:
            raise EvaluatorError(f"{what} is required")
        return None
    if not isinstance(value, str):
        raise EvaluatorError(f"{what} must be a string")
    if len(value) > limit:
        raise EvaluatorError(f"{what} is longer than {limit} characters")
    if "\x00" in value:
        raise EvaluatorError(f"{what} must not contain NUL characters")
    return value


def _number(
    value: Any, what: str, *, low: float | None = None, high: float | None = None
) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise EvaluatorError(f"{what} must be a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise EvaluatorError(f"{what} must be a number") from None
    if not math.isfinite(number):
        raise EvaluatorError(f"{what} must be a finite number")
    if low is not None and number < low:
        raise EvaluatorError(f"{what} must be at least {low:g}")
    if high is not None and number > high:
        raise EvaluatorError(f"{what} must be at most {high:g}")
    return number


def _flag(value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "on", "1", "yes"):
        return True
    if isinstance(value, str) and value.lower() in ("false", "off", "0", "no"):
        return False
    raise EvaluatorError(f"expected true or false, got {value!r}")


def _object(value: Any, what: str) -> dict[str, Any]:
    if value is None or value == "":
        return {}
    if isinstance(value, str):  # a form's textarea
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise EvaluatorError(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise EvaluatorError(f"{what} must be a JSON object")
    return dict(value)


def _check_llm_judge(config: dict[str, Any]) -> dict[str, Any]:
    template = _text(config.get("template"), "template", MAX_TEMPLATE) or DEFAULT_TEMPLATE
    if "{{" not in template:
        raise EvaluatorError("template must use {{output}} (or another variable)")
    checked: dict[str, Any] = {"template": template}
    max_tokens = _number(config.get("max_tokens"), "max_tokens", low=16, high=8192)
    checked["max_tokens"] = int(max_tokens or 512)
    for key in ("input_token_price", "output_token_price"):
        price = _number(config.get(key), key, low=0, high=1)
        if price is not None:
            checked[key] = price
    return checked


def _check_regex(config: dict[str, Any]) -> dict[str, Any]:
    pattern = _text(config.get("pattern"), "pattern", 2000, required=True)
    assert pattern is not None
    if compile_regex(pattern) is None:
        raise EvaluatorError("pattern is not a regular expression RE2 can run")
    return {
        "pattern": pattern,
        "target": _target(config.get("target")),
        "must_match": _flag(config.get("must_match"), True),
    }


def _target(value: Any) -> str:
    target = value or "output"
    if target not in TARGETS:
        raise EvaluatorError(f"target must be one of {', '.join(TARGETS)}")
    return str(target)


def _check_json_schema(config: dict[str, Any]) -> dict[str, Any]:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    schema = _object(config.get("schema"), "schema")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise EvaluatorError(f"schema is not a valid JSON Schema: {exc.message}") from None
    return {"schema": schema}


def _check_length(config: dict[str, Any]) -> dict[str, Any]:
    low = _number(config.get("min"), "min", low=0)
    high = _number(config.get("max"), "max", low=0)
    if low is None and high is None:
        raise EvaluatorError("a length check needs min, max or both")
    if low is not None and high is not None and low > high:
        raise EvaluatorError("min must not exceed max")
    unit = config.get("unit") or "characters"
    if unit not in ("characters", "words"):
        raise EvaluatorError("unit must be characters or words")
    return {
        "min": None if low is None else int(low),
        "max": None if high is None else int(high),
        "unit": unit,
        "target": _target(config.get("target")),
    }


def _check_contains(config: dict[str, Any]) -> dict[str, Any]:
    values = config.get("values")
    if isinstance(values, str):
        values = [v.strip() for v in values.splitlines() if v.strip()]
    if not isinstance(values, list) or not values:
        raise EvaluatorError("values must be a non-empty list of strings")
    checked_values = [_text(v, "each value", 1000, required=True) for v in values[:100]]
    mode = config.get("mode") or "any"
    if mode not in ("any", "all", "none"):
        raise EvaluatorError("mode must be any, all or none")
    return {
        "values": checked_values,
        "mode": mode,
        "case_sensitive": _flag(config.get("case_sensitive"), False),
        "target": _target(config.get("target")),
    }


_CONFIG_CHECKS = {
    "llm_judge": _check_llm_judge,
    "regex": _check_regex,
    "json_schema": _check_json_schema,
    "length": _check_length,
    "contains": _check_contains,
}


def _check_output(kind: str, output: dict[str, Any]) -> dict[str, Any]:
    if kind in DETERMINISTIC:
        return {"type": "boolean"}
    kind_of = output.get("type") or "numeric"
    if kind_of not in OUTPUT_TYPES:
        raise EvaluatorError(f"output type must be one of {', '.join(OUTPUT_TYPES)}")
    if kind_of == "boolean":
        return {"type": "boolean"}
    if kind_of == "numeric":
        low = _number(output.get("min"), "output min")
        high = _number(output.get("max"), "output max")
        low = 0.0 if low is None else low
        high = 1.0 if high is None else high
        if low >= high:
            raise EvaluatorError("output min must be below output max")
        return {"type": "numeric", "min": low, "max": high}
    categories = output.get("categories")
    if isinstance(categories, str):
        categories = [c.strip() for c in categories.split(",") if c.strip()]
    if not isinstance(categories, list) or not 2 <= len(categories) <= MAX_CATEGORIES:
        raise EvaluatorError(f"categorical output needs 2 to {MAX_CATEGORIES} categories")
    names = [_text(c, "each category", 200, required=True) for c in categories]
    passing = output.get("passing") or []
    if isinstance(passing, str):
        passing = [c.strip() for c in passing.split(",") if c.strip()]
    if not isinstance(passing, list) or any(p not in names for p in passing):
        raise EvaluatorError("passing must list some of the categories")
    return {"type": "categorical", "categories": names, "passing": list(passing)}


def _check_filter(value: Any) -> EvaluatorFilter:
    data = _object(value, "filter")
    key = _text(data.get("property_key"), "filter property", 200)
    prop_value = _text(data.get("property_value"), "filter property value", 1000)
    if (key is None) != (prop_value is None):
        raise EvaluatorError("a property filter needs both a key and a value")
    return EvaluatorFilter(
        model=_text(data.get("model"), "filter model", 200),
        prompt_name=_text(data.get("prompt_name"), "filter prompt name", 200),
        property_key=key,
        property_value=prop_value,
    )


def make_evaluator(project_id: int, data: Mapping[str, Any], *, id: int = 0) -> Evaluator:
    """A checked :class:`Evaluator` from what a user sent (JSON, or a form's fields)."""
    name = _text(data.get("name"), "name", MAX_NAME, required=True)
    assert name is not None
    if not _NAME.match(name):
        raise EvaluatorError("name may hold letters, digits, '_', '.' and '-' only")
    kind = data.get("kind")
    if kind not in KINDS:
        raise EvaluatorError(f"kind must be one of {', '.join(KINDS)}")
    config = _CONFIG_CHECKS[kind](_object(data.get("config"), "config"))
    if len(orjson.dumps(config)) > MAX_CONFIG_BYTES:
        raise EvaluatorError(f"config is larger than {MAX_CONFIG_BYTES} bytes")
    output = _check_output(kind, _object(data.get("output"), "output"))
    rate = _number(data.get("sampling_rate"), "sampling_rate", low=0, high=1)
    budget = _number(data.get("daily_budget_usd"), "daily_budget_usd", low=0, high=100_000)
    threshold = _number(data.get("threshold"), "threshold")
    if threshold is None and (output["type"] == "boolean" or output.get("passing")):
        # Passed is 1, failed 0: a failure is below 0.5, and so is a window mostly failing.
        threshold = 0.5
    window = _number(data.get("window"), "window", low=1, high=MAX_WINDOW)
    return Evaluator(
        project_id=project_id,
        id=id,
        name=name,
        kind=kind,
        config=config,
        output=output,
        model=_text(data.get("model"), "model", 200) or "",
        sampling_rate=1.0 if rate is None else rate,
        daily_budget_usd=1.0 if budget is None else budget,
        filter=_check_filter(data.get("filter")),
        threshold=threshold,
        window=int(window or (1 if kind in DETERMINISTIC else 5)),
        enabled=_flag(data.get("enabled"), True),
    )
