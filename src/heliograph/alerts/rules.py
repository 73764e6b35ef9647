"""Alert rules: when to tell someone, and where; checked once for the API and the page.

A rule belongs to a project and has one trigger:

* ``new_issue``: an issue is seen for the first time;
* ``regression``: a resolved issue receives an event again;
* ``issue_events``: an issue receives ``threshold`` events within ``window`` seconds;
* ``issue_users``: an issue has affected ``threshold`` users (since first seen);
* ``llm_cost``: the project's LLM spend within ``window`` reaches ``threshold`` USD;
* ``llm_error_rate``: the share of failed LLM calls within ``window`` reaches
  ``threshold`` (0 to 1; over at least :data:`MIN_LLM_CALLS` calls);
* ``llm_p95_latency``: the 95th percentile LLM call latency within ``window``
  reaches ``threshold`` seconds;
* ``heartbeat``: no event at all reaches the project for ``window`` seconds.

Filters narrow the issue triggers (environment, level, release, tags: any
event of the batch must match them all) and the LLM triggers (model). A rule
fires at most once per subject (an issue, or the project's metric) per
``interval`` seconds; ``snoozed_until`` silences it for a while. Its actions
are where the notification goes: email, a Slack-compatible incoming webhook,
or a generic webhook signed with the rule's secret.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "ACTION_TYPES",
    "ISSUE_TRIGGERS",
    "LLM_TRIGGERS",
    "TRIGGERS",
    "AlertAction",
    "AlertRule",
    "RuleError",
    "check_rule",
]

ISSUE_TRIGGERS = ("new_issue", "regression", "issue_events", "issue_users")
LLM_TRIGGERS = ("llm_cost", "llm_error_rate", "llm_p95_latency")
TRIGGERS = (*ISSUE_TRIGGERS, *LLM_TRIGGERS, "heartbeat")
# Triggers that compare a number with a threshold.
_THRESHOLDS = {
    "issue_events": (1, 10_000_000),
    "issue_users": (1, 10_000_000),
    "llm_cost": (0.000001, 10_000_000),
    "llm_error_rate": (0.0001, 1),
    "llm_p95_latency": (0.001, 86_400),
}
ACTION_TYPES = ("email", "slack", "webhook")
LEVELS = ("fatal", "error", "warning", "info", "debug")
# An error rate over fewer calls than this says nothing: one failed call of one.
MIN_LLM_CALLS = 10

WINDOW = (60, 30 * 86_400)  # seconds
INTERVAL = (60, 30 * 86_400)
DEFAULT_WINDOW = 3600
DEFAULT_INTERVAL = 1800
MAX_ACTIONS = 10
MAX_RECIPIENTS = 50
MAX_TAGS = 20
# "members": every member of the project's organization who sees the project
# and has not turned alert emails off.
MEMBERS = "members"
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")


class RuleError(ValueError):
    """A rule we refuse; the message names the field and the rule, shown as is."""


@dataclass(frozen=True, slots=True)
class AlertAction:
    type: str  # email, slack, webhook
    targets: tuple[str, ...] = ()  # email: addresses, or "members"
    url: str | None = None  # slack, webhook
    secret: str | None = None  # webhook: signs each body (HMAC-SHA256)

    def as_json(self, *, with_secret: bool = False) -> dict[str, Any]:
        """The action as the API shows it; ``with_secret``: as stored (secret, whole URL).

        Incoming-webhook URLs usually carry their token in the path, so shown
        they keep only scheme and host; sending that back keeps the URL.
        """
        found: dict[str, Any] = {"type": self.type}
        if self.type == "email":
            found["targets"] = list(self.targets)
        else:
            found["url"] = self.url if with_secret else masked_url(self.url or "")
        if self.type == "webhook":
            found["secret"] = self.secret if with_secret else "********"
        return found


def masked_url(url: str) -> str:
    """``https://hooks.example.com/…``: where a webhook goes, without its token."""
    parts = urlsplit(url)
    tail = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{parts.netloc}{tail}"


@dataclass(frozen=True, slots=True)
class AlertRule:
    id: int
    project_id: int
    name: str
    trigger: str
    threshold: float | None
    window: int
    interval: int
    filters: dict[str, Any] = field(default_factory=dict)
    actions: tuple[AlertAction, ...] = ()
    enabled: bool = True
    snoozed_until: float | None = None
    created_at: float = 0.0
    updated_at: float = 0.0

    def active(self, now: float) -> bool:
        return self.enabled and (self.snoozed_until is None or self.snoozed_until <= now)


def _plain(value: float) -> str:
    """``10,000,000`` and ``0.0001``, never ``1e+07``."""
    return f"{int(value):,}" if value == int(value) else f"{value:f}".rstrip("0")


def _number(raw: Any, label: str, bounds: tuple[float, float]) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise RuleError(f"{label} must be a number.")
    try:
        value = float(raw)
    except ValueError:
        raise RuleError(f"{label} must be a number.") from None
    if not bounds[0] <= value <= bounds[1]:
        raise RuleError(f"{label} must be between {_plain(bounds[0])} and {_plain(bounds[1])}.")
    return value


def _text(raw: Any, label: str, limit: int) -> str:
    if not isinstance(raw, str) or not raw.strip() or len(raw.strip()) > limit:
        raise RuleError(f"{label} must be 1 to {limit} characters.")
    return raw.strip()


def check_filters(raw: Any, trigger: str) -> dict[str, Any]:
    if raw in (None, ""):
        return {}
    if not isinstance(raw, Mapping):
        raise RuleError("filters must be an object.")
    allowed = {"model"} if trigger in LLM_TRIGGERS else {"environment", "level", "release", "tags"}
    if trigger == "heartbeat":
        allowed = set()
    unknown = set(raw) - allowed
    if unknown:
        raise RuleError(f"filters {', '.join(sorted(unknown))} do not apply to {trigger} rules.")
    found: dict[str, Any] = {}
    for key in ("environment", "release", "model"):
        if raw.get(key) not in (None, ""):
            found[key] = _text(raw[key], f"The {key} filter", 200)
    if raw.get("level") not in (None, ""):
        if raw["level"] not in LEVELS:
            raise RuleError(f"The level filter must be one of {', '.join(LEVELS)}.")
        found["level"] = raw["level"]
    tags = raw.get("tags")
    if tags not in (None, {}):
        if not isinstance(tags, Mapping) or len(tags) > MAX_TAGS:
            raise RuleError(f"The tags filter is an object of at most {MAX_TAGS} key: value.")
        found["tags"] = {
            _text(k, "A tag key", 200): _text(v, "A tag value", 200) for k, v in tags.items()
        }
    return found


def check_action(raw: Any, existing: AlertAction | None = None) -> AlertAction:
    if not isinstance(raw, Mapping) or raw.get("type") not in ACTION_TYPES:
        raise RuleError(f"Each action needs a type: {', '.join(ACTION_TYPES)}.")
    kind = raw["type"]
    if kind == "email":
        targets = raw.get("targets") or [MEMBERS]
        if not isinstance(targets, list) or not 1 <= len(targets) <= MAX_RECIPIENTS:
            raise RuleError(f"An email action has 1 to {MAX_RECIPIENTS} targets.")
        for target in targets:
            if target != MEMBERS and not (isinstance(target, str) and _EMAIL.match(target)):
                raise RuleError(f"{str(target)[:80]!r} is not an email address (or 'members').")
        return AlertAction("email", tuple(dict.fromkeys(targets)))
    url = raw.get("url")
    if existing is not None and existing.url and url == masked_url(existing.url):
        url = existing.url  # shown masked by the API, sent back unchanged
    if not isinstance(url, str) or len(url) > 2000:
        raise RuleError(f"A {kind} action needs an http(s) URL.")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise RuleError(f"A {kind} action needs an http(s) URL.")
    if kind == "slack":
        return AlertAction("slack", url=url)
    secret = raw.get("secret")
    if secret in (None, "", "********"):
        # Unchanged on an update (the API shows it masked); a new webhook gets one.
        secret = existing.secret if existing and existing.secret else secrets.token_hex(24)
    secret = _text(secret, "The webhook secret", 200)
    return AlertAction("webhook", url=url, secret=secret)


def check_rule(raw: Mapping[str, Any], existing: AlertRule | None = None) -> dict[str, Any]:
    """The checked fields of a rule from API or form values (``existing``: an update,
    whose fields absent from ``raw`` stay as they are)."""
    if not isinstance(raw, Mapping):
        raise RuleError("expected a JSON object")
    trigger = raw.get("trigger", existing.trigger if existing else None)
    if trigger not in TRIGGERS:
        raise RuleError(f"trigger must be one of {', '.join(TRIGGERS)}.")
    name = raw.get("name", existing.name if existing else None)
    fields: dict[str, Any] = {"trigger": trigger, "name": _text(name, "The name", 200)}
    threshold = raw.get("threshold", existing.threshold if existing else None)
    if trigger in _THRESHOLDS:
        if threshold in (None, ""):
            raise RuleError(f"A {trigger} rule needs a threshold.")
        fields["threshold"] = _number(threshold, "The threshold", _THRESHOLDS[trigger])
    else:
        fields["threshold"] = None
    window = raw.get("window", existing.window if existing else DEFAULT_WINDOW)
    interval = raw.get("interval", existing.interval if existing else DEFAULT_INTERVAL)
    fields["window"] = int(_number(window, "The window (seconds)", WINDOW))
    fields["interval"] = int(_number(interval, "The interval (seconds)", INTERVAL))
    filters = raw.get("filters", existing.filters if existing else None)
    fields["filters"] = check_filters(filters, trigger)
    actions_raw = raw.get("actions")
    if actions_raw is None and existing is not None:
        fields["actions"] = existing.actions
    else:
        if not isinstance(actions_raw, list) or not 1 <= len(actions_raw) <= MAX_ACTIONS:
            raise RuleError(f"A rule has 1 to {MAX_ACTIONS} actions.")
        old = list(existing.actions) if existing else []
        fields["actions"] = tuple(
            check_action(action, old[i] if i < len(old) else None)
            for i, action in enumerate(actions_raw)
        )
    enabled = raw.get("enabled", existing.enabled if existing else True)
    if not isinstance(enabled, bool):
        raise RuleError("enabled must be true or false.")
    fields["enabled"] = enabled
    snoozed = raw.get("snoozed_until", existing.snoozed_until if existing else None)
    fields["snoozed_until"] = (
        None if snoozed in (None, "") else _number(snoozed, "snoozed_until", (0, 1e11))
    )
    return fields
