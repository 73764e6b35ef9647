"""The deterministic evaluators: regex, JSON Schema validity, length, contains.

Each takes a checked config (:mod:`heliograph.evals.definition`) and the text
it looks at, and says passed or failed with a reason a person can act on
("missing 'refund'", "'$.total' is not of type 'number'"). They cost
nothing and call nothing, so they run on every sampled generation.
Patterns run on RE2 (linear time): a project's pattern never stalls the job.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from heliograph.flags.regex import compile_regex

__all__ = ["run_check"]

_MAX_REASON = 500


def _regex(config: Mapping[str, Any], text: str) -> tuple[bool, str]:
    compiled = compile_regex(config["pattern"])
    if compiled is None:
        return False, "the pattern cannot be run"
    found = compiled.search(text) is not None
    if config.get("must_match", True):
        return found, "matches the pattern" if found else "does not match the pattern"
    return not found, "matches the forbidden pattern" if found else "no forbidden match"


def _json_schema(config: Mapping[str, Any], text: str) -> tuple[bool, str]:
    from jsonschema import Draft202012Validator

    stripped = _unfence(text)
    try:
        document = orjson.loads(stripped)
    except orjson.JSONDecodeError as exc:
        return False, f"not valid JSON: {exc}"
    validator = Draft202012Validator(config["schema"])
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if not errors:
        return True, "valid against the schema"
    first = errors[0]
    where = first.json_path
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return False, f"{where}: {first.message}{more}"


def _unfence(text: str) -> str:
    """JSON inside a Markdown code fence, as models often answer, else the text."""
    stripped = text.strip()
    if stripped.startswith("```"):
        body = stripped.split("\n", 1)[1] if "\n" in stripped else ""
        return body.rsplit("```", 1)[0].strip()
    return stripped


def _length(config: Mapping[str, Any], text: str) -> tuple[bool, str]:
    words = config.get("unit") == "words"
    size = len(text.split()) if words else len(text)
    unit = "words" if words else "characters"
    low, high = config.get("min"), config.get("max")
    if low is not None and size < low:
        return False, f"{size} {unit}, fewer than {low}"
    if high is not None and size > high:
        return False, f"{size} {unit}, more than {high}"
    return True, f"{size} {unit}"


def _contains(config: Mapping[str, Any], text: str) -> tuple[bool, str]:
    sensitive = bool(config.get("case_sensitive"))
    haystack = text if sensitive else text.casefold()
    values = list(config["values"])
    present = [v for v in values if (v if sensitive else v.casefold()) in haystack]
    missing = [v for v in values if v not in present]
    mode = config.get("mode", "any")
    if mode == "all":
        return (not missing, "contains every value" if not missing else f"missing {missing!r}")
    if mode == "none":
        return (not present, "contains none" if not present else f"contains {present!r}")
    return (bool(present), f"contains {present[0]!r}" if present else f"none of {values!r}")


_CHECKS = {"regex": _regex, "json_schema": _json_schema, "length": _length, "contains": _contains}


def run_check(kind: str, config: Mapping[str, Any], text: str) -> tuple[bool, str]:
    """(passed, why) of the deterministic check ``kind`` on ``text``."""
    passed, reason = _CHECKS[kind](config, text)
    return passed, reason[:_MAX_REASON]
