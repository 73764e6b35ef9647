"""Reading settings forms: numbers in ranges, choices, and the error a user sees.

Settings pages re-render themselves with :class:`FormError`'s message (status
400) instead of guessing what a malformed value meant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from heliograph.bounds import parse_row_id

# Why a page was redirected to: ``?done=<name>`` shows one of these, never free text.
NOTICES = {
    "saved": "Settings saved.",
    "key_created": "New ingest key created.",
    "key_updated": "Ingest key updated.",
    "key_revoked": "Ingest key revoked: requests using it are now refused.",
    "token_revoked": "API token revoked.",
    "password_set": "Password changed.",
    "member_added": "Member added.",
    "member_updated": "Role changed.",
    "member_removed": "Member removed.",
    "team_created": "Team created.",
    "org_created": "Organization created: create its first project below, then add people.",
    "team_deleted": "Team deleted.",
    "team_updated": "Team updated.",
    "flag_created": "Feature flag created: it is served now.",
    "flag_saved": "Feature flag saved: it is served now.",
    "flag_deleted": "Feature flag deleted: clients now get no value for it.",
    "rule_created": "Alert rule created.",
    "rule_enabled": "Alert rule enabled.",
    "rule_disabled": "Alert rule disabled: it notifies nobody until enabled again.",
    "rule_snoozed": "Alert rule snoozed.",
    "rule_unsnoozed": "Alert rule unsnoozed.",
    "rule_tested": "Test notification queued: the history below shows how it went.",
    "rule_deleted": "Alert rule deleted.",
    "alert_emails_on": "You will receive alert emails for the projects you can see.",
    "alert_emails_off": "You will no longer receive alert emails.",
    "bundle_deleted": "Source map bundle deleted: events are no longer resolved with it here.",
}


class FormError(ValueError):
    """A field has a value we refuse; the message names the field and the rule."""


def notice(params: Mapping[str, str]) -> str | None:
    return NOTICES.get(params.get("done", ""))


def text(form: Mapping[str, str], name: str, label: str, *, max_length: int = 100) -> str:
    value = (form.get(name) or "").strip()
    if not value:
        raise FormError(f"{label} is required.")
    if len(value) > max_length:
        raise FormError(f"{label} must be at most {max_length} characters.")
    return value


def integer(form: Mapping[str, str], name: str, label: str, low: int, high: int) -> int:
    raw = (form.get(name) or "").strip()
    try:
        value = int(raw)
    except ValueError:
        raise FormError(f"{label} must be a whole number.") from None
    if not low <= value <= high:
        raise FormError(f"{label} must be between {low} and {high}.")
    return value


def optional_integer(
    form: Mapping[str, str], name: str, label: str, low: int, high: int
) -> int | None:
    """Empty means None (no value of its own); otherwise as :func:`integer`."""
    if not (form.get(name) or "").strip():
        return None
    return integer(form, name, label, low, high)


def choice(form: Mapping[str, str], name: str, label: str, choices: Sequence[str]) -> str:
    value = form.get(name) or ""
    if value not in choices:
        raise FormError(f"{label} must be one of: {', '.join(choices)}.")
    return value


def identifier(form: Mapping[str, str], name: str) -> int:
    """A row id from a hidden field; anything else is a request we cannot act on."""
    row_id = parse_row_id(form.get(name) or "")
    if row_id is None:
        raise FormError(f"Missing or invalid {name}.")
    return row_id
