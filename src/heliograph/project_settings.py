"""What a project's settings may be, checked once for the settings page and the API.

Both hand a mapping of raw values (form strings or JSON values) to
:func:`parse_settings` / :func:`parse_key`, which return the changes to store
or raise :class:`SettingsError` naming the field and the rule. Bounds live
here so the page, the API, its OpenAPI schema and the docs agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from heliograph.ai.policy import POLICY_STATES

RETENTION_DAYS = (1, 3650)
PAYLOAD_MAX_CHARS = (100, 1_000_000)
RATE_LIMIT = (0, 1_000_000)  # events per second; 0 means unlimited
KEY_LABEL_MAX = 100
REPLAY_SAMPLE_PERCENT = (0, 100)
REPLAY_MIN_SECONDS = (0, 3600)
MAX_SCRUB_WORDS = 200
MAX_WORD_LENGTH = 100
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


# The replay switches (checkboxes on the settings page), and their labels.
REPLAY_SWITCHES = {
    "replay_enabled": "Record sessions",
    "replay_unmask_text": "Keep page text unmasked",
    "replay_record_media": "Keep images and canvas",
}


class SettingsError(ValueError):
    """A value we refuse; the message is shown to the user as is."""


def _number(raw: object, label: str, bounds: tuple[int, int]) -> int:
    if isinstance(raw, bool):
        raise SettingsError(f"{label} must be a whole number.")
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
        value = int(raw.strip())
    else:
        raise SettingsError(f"{label} must be a whole number.")
    if not bounds[0] <= value <= bounds[1]:
        raise SettingsError(f"{label} must be between {bounds[0]} and {bounds[1]}.")
    return value


def _optional_number(raw: object, label: str, bounds: tuple[int, int]) -> int | None:
    """None or an empty string: no value of its own (the default applies)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    return _number(raw, label, bounds)


def _flag(raw: object, label: str) -> bool:
    """A checkbox (``on`` or absent) or a JSON boolean."""
    if isinstance(raw, bool):
        return raw
    if raw is None:
        return False
    if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    raise SettingsError(f"{label} must be true or false.")


def _words(raw: object, label: str) -> tuple[str, ...]:
    """A key list: text (one per line, or comma-separated) or a JSON list of strings."""
    if isinstance(raw, str):
        items = raw.replace(",", "\n").splitlines()
    elif isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        items = list(raw)
    else:
        raise SettingsError(f"{label} must be a list of key names.")
    words = tuple(dict.fromkeys(item.strip().lower() for item in items if item.strip()))
    if len(words) > MAX_SCRUB_WORDS:
        raise SettingsError(f"{label}: at most {MAX_SCRUB_WORDS} names.")
    for word in words:
        if len(word) > MAX_WORD_LENGTH or any(ch.isspace() for ch in word):
            raise SettingsError(f"{label}: {word[:40]!r} is not a key name.")
    return words


def parse_settings(raw: Mapping[str, Any], *, checkboxes: bool = False) -> dict[str, object]:
    """Validated project settings changes, from the fields present in ``raw``.

    ``checkboxes``: an absent ``keep_llm_payloads`` means off (HTML forms send
    nothing for an unticked box); in JSON an absent field is left unchanged.
    """
    changes: dict[str, object] = {}
    if "name" in raw:
        name = raw["name"]
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > 100:
            raise SettingsError("The name must be 1 to 100 characters.")
        changes["name"] = name.strip()
    if "retention_days" in raw:
        changes["retention_days"] = _number(
            raw["retention_days"], "Retention (days)", RETENTION_DAYS
        )
    if "keep_llm_payloads" in raw or checkboxes:
        changes["keep_llm_payloads"] = _flag(raw.get("keep_llm_payloads"), "Keep LLM payloads")
    if "payload_max_chars" in raw:
        changes["payload_max_chars"] = _number(
            raw["payload_max_chars"], "Payload size limit", PAYLOAD_MAX_CHARS
        )
    if "ai_policy" in raw:
        if raw["ai_policy"] not in POLICY_STATES:
            raise SettingsError(f"The AI-fix policy must be one of: {', '.join(POLICY_STATES)}.")
        changes["ai_policy"] = raw["ai_policy"]
    if "rate_limit" in raw:
        changes["rate_limit"] = _optional_number(
            raw["rate_limit"], "Project rate limit", RATE_LIMIT
        )
    if "scrub_extra_keys" in raw:
        changes["scrub_extra_keys"] = _words(raw["scrub_extra_keys"], "Extra sensitive keys")
    if "scrub_safe_fields" in raw:
        changes["scrub_safe_fields"] = _words(raw["scrub_safe_fields"], "Safe fields")
    if "store_ip_addresses" in raw or checkboxes:
        changes["store_ip_addresses"] = _flag(raw.get("store_ip_addresses"), "Store IP addresses")
    for key, label in REPLAY_SWITCHES.items():
        if key in raw or checkboxes:
            changes[key] = _flag(raw.get(key), label)
    if "replay_sample_percent" in raw:
        changes["replay_sample_percent"] = _number(
            raw["replay_sample_percent"], "Sessions recorded (%)", REPLAY_SAMPLE_PERCENT
        )
    if "replay_min_seconds" in raw:
        changes["replay_min_seconds"] = _number(
            raw["replay_min_seconds"], "Shortest replay kept (seconds)", REPLAY_MIN_SECONDS
        )
    return changes


def parse_key(raw: Mapping[str, Any], *, creating: bool) -> dict[str, object]:
    """An ingest key's label and own rate limit (None or empty: no key limit)."""
    changes: dict[str, object] = {}
    if "label" in raw or creating:
        label = raw.get("label")
        label = label.strip() if isinstance(label, str) else ""
        if creating and not label:
            label = "Key"
        if not label or len(label) > KEY_LABEL_MAX:
            raise SettingsError(f"The key label must be 1 to {KEY_LABEL_MAX} characters.")
        changes["label"] = label
    if "rate_limit" in raw:
        # 0 and empty both mean "no limit of its own" for a key.
        changes["rate_limit"] = (
            _optional_number(raw["rate_limit"], "Key rate limit", RATE_LIMIT) or None
        )
    return changes
