"""``/{org}/{project}/alerts/``: the project's alert rules, and what they sent.

The page lists every rule in words (what sets it off, its filters, where it
notifies; webhook secrets and webhook URLs' paths are never shown), and below
it the latest notifications with how each delivery went. Users who may change
issues (:func:`heliograph.auth.can_write`, as the alerts API asks) create
rules there, and enable, disable, snooze, test and delete each one.

Every change goes through :func:`heliograph.alerts.rules.check_rule`, the
API's check: a rule it refuses is shown with its message, never stored.
The form takes windows and intervals in minutes; the rules keep seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from starlette.responses import RedirectResponse, Response

from heliograph.alerts.rules import (
    ACTION_TYPES,
    LEVELS,
    LLM_TRIGGERS,
    MEMBERS,
    MIN_LLM_CALLS,
    TRIGGERS,
    AlertAction,
    AlertRule,
    RuleError,
    check_rule,
)
from heliograph.auth import can_write
from heliograph.store.alert_store import NotificationRecord
from heliograph.store.base import Project
from heliograph.web.common import BadRequest, Forbidden, NotFound, PageRequest, page
from heliograph.web.forms import identifier, notice

# What each trigger is called in the form's select.
TRIGGER_CHOICES = {
    "new_issue": "A new issue is seen",
    "regression": "A resolved issue comes back (regression)",
    "issue_events": "An issue gets N events within the window",
    "issue_users": "An issue affects N users",
    "llm_cost": "LLM spend reaches N USD within the window",
    "llm_error_rate": "LLM error rate reaches N (0 to 1) within the window",
    "llm_p95_latency": "LLM p95 latency reaches N seconds within the window",
    "heartbeat": "No events at all for the window",
}
assert set(TRIGGER_CHOICES) == set(TRIGGERS)
ACTION_CHOICES = {"email": "Email", "slack": "Slack webhook", "webhook": "Webhook"}
assert set(ACTION_CHOICES) == set(ACTION_TYPES)
# The form's minutes, bounded as check_rule bounds seconds (1 minute to 30 days).
MAX_MINUTES = 30 * 24 * 60
SNOOZES = {"snooze_1h": 3600, "snooze_24h": 86400}
HISTORY_LIMIT = 50


def alerts_url(project: Project) -> str:
    return f"/{project.organization_slug}/{project.slug}/alerts/"


# -- words for rules and notifications ----------------------------------------------


def duration(seconds: float | None) -> str:
    """``"30 min"``, ``"1 h"``, ``"1 h 30 min"``, ``"2 d"``, ``"1 d 6 h"`` (two parts at most)."""
    total = round(seconds or 0)
    if total < 60:
        return f"{total} s"
    minutes = total // 60
    parts = []
    for unit, size in (("d", 1440), ("h", 60), ("min", 1)):
        if minutes >= size:
            parts.append(f"{minutes // size} {unit}")
            minutes %= size
    return " ".join(parts[:2])


def threshold_text(trigger: str, value: float | None) -> str:
    """A threshold in its unit: ``"100 events"``, ``"$5.00"``, ``"5%"``, ``"2 s"``."""
    if value is None:
        return ""
    if trigger == "issue_events":
        return f"{value:,.0f} event{'s' if value != 1 else ''}"
    if trigger == "issue_users":
        return f"{value:,.0f} user{'s' if value != 1 else ''}"
    if trigger == "llm_cost":
        return f"${value:,.2f}" if value >= 0.01 else f"${value:g}"
    if trigger == "llm_error_rate":
        return f"{value * 100:g}%"
    if trigger == "llm_p95_latency":
        return f"{value:g} s"
    return f"{value:g}"


def describe_trigger(trigger: str, threshold: float | None, window: int) -> str:
    """What sets a rule off, in a sentence."""
    limit = threshold_text(trigger, threshold)
    within = duration(window)
    if trigger == "new_issue":
        return "A new issue is seen"
    if trigger == "regression":
        return "A resolved issue comes back (regression)"
    if trigger == "issue_events":
        return f"An issue gets {limit} within {within}"
    if trigger == "issue_users":
        return f"An issue affects {limit}"
    if trigger == "llm_cost":
        return f"LLM spend reaches {limit} within {within}"
    if trigger == "llm_error_rate":
        return (
            f"LLM error rate reaches {limit} within {within} (over at least {MIN_LLM_CALLS} calls)"
        )
    if trigger == "llm_p95_latency":
        return f"LLM p95 latency reaches {limit} within {within}"
    if trigger == "heartbeat":
        return f"No events at all for {within}"
    return trigger


def describe_filters(filters: Mapping[str, Any]) -> list[str]:
    """``["environment: production", "tag os = linux"]``."""
    found = [
        f"{key}: {filters[key]}"
        for key in ("environment", "level", "release", "model")
        if filters.get(key)
    ]
    found += [f"tag {key} = {value}" for key, value in sorted((filters.get("tags") or {}).items())]
    return found


def url_text(url: str | None) -> str:
    """A webhook URL without what may be a secret (its path and query): ``https://host/…``."""
    parts = urlsplit(url or "")
    if not parts.netloc:
        return "(no URL)"
    rest = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{parts.hostname or parts.netloc}{rest}"


def target_text(kind: str, target: str) -> str:
    """Where a delivery went, as the history shows it (URLs shortened as :func:`url_text`)."""
    if kind == "email":
        return "the project's members" if target == MEMBERS else target
    return url_text(target)


def describe_action(action: AlertAction) -> str:
    if action.type == "email":
        who = ", ".join(
            "the project's members" if target == MEMBERS else target for target in action.targets
        )
        return f"Email {who}"
    if action.type == "slack":
        return f"Slack {url_text(action.url)}"
    return f"Webhook {url_text(action.url)} (signed)"


@dataclass(frozen=True, slots=True)
class RuleView:
    rule: AlertRule
    trigger_text: str
    filters: list[str]
    actions: list[str]
    interval_text: str
    snoozed: bool  # snoozed now (snoozed_until in the future)


def rule_view(rule: AlertRule, now: float) -> RuleView:
    return RuleView(
        rule=rule,
        trigger_text=describe_trigger(rule.trigger, rule.threshold, rule.window),
        filters=describe_filters(rule.filters),
        actions=[describe_action(action) for action in rule.actions],
        interval_text=duration(rule.interval),
        snoozed=rule.snoozed_until is not None and rule.snoozed_until > now,
    )


@dataclass(frozen=True, slots=True)
class Subject:
    text: str
    url: str | None = None


def notification_subject(payload: Mapping[str, Any]) -> Subject:
    """What a notification was about: a test, an issue (linked), a metric, a silence."""
    if payload.get("test"):
        return Subject("Test notification")
    issue = payload.get("issue")
    if isinstance(issue, Mapping):
        return Subject(str(issue.get("title") or "(untitled issue)"), f"/issues/{issue.get('id')}/")
    metric = payload.get("metric")
    if isinstance(metric, Mapping):
        name = str(metric.get("name") or "")
        what = {
            "llm_cost": "LLM spend",
            "llm_error_rate": "LLM error rate",
            "llm_p95_latency": "LLM p95 latency",
        }.get(name, name)
        model = f" ({metric['model']})" if metric.get("model") else ""
        value = threshold_text(name, _number(metric.get("value")))
        threshold = threshold_text(name, _number(metric.get("threshold")))
        window = duration(_number(metric.get("window")))
        return Subject(f"{what}{model}: {value} within {window}, threshold {threshold}")
    beat = payload.get("heartbeat")
    if isinstance(beat, Mapping):
        return Subject(f"No events for {duration(_number(beat.get('window')))}")
    return Subject("—")


def _number(raw: Any) -> float | None:
    return float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None


@dataclass(frozen=True, slots=True)
class HistoryRow:
    record: NotificationRecord
    rule_name: str
    rule_deleted: bool
    subject: Subject
    targets: list[str]  # one per delivery, as target_text shows it


def history_rows(records: list[NotificationRecord], rules: list[AlertRule]) -> list[HistoryRow]:
    names = {rule.id: rule.name for rule in rules}
    rows = []
    for record in records:
        fired = record.payload.get("rule") or {}
        name = names.get(record.rule_id or 0)
        rows.append(
            HistoryRow(
                record=record,
                rule_name=name if name is not None else str(fired.get("name") or "—"),
                rule_deleted=name is None,
                subject=notification_subject(record.payload),
                targets=[target_text(d.action, d.target) for d in record.deliveries],
            )
        )
    return rows


# -- the form -> check_rule's input ---------------------------------------------------


def _minutes(form: Mapping[str, str], name: str, label: str) -> int | None:
    """Seconds from a minutes field; None when empty (the rule's default)."""
    raw = (form.get(name) or "").strip()
    if not raw:
        return None
    try:
        minutes = float(raw)
    except ValueError:
        raise RuleError(f"{label} must be a number of minutes.") from None
    if not 1 <= minutes <= MAX_MINUTES:
        raise RuleError(f"{label} must be from 1 to {MAX_MINUTES} minutes (30 days).")
    return round(minutes * 60)


def rule_input(form: Mapping[str, str]) -> dict[str, Any]:
    """The create form as :func:`check_rule` takes a rule (which then checks it all).

    Filters that are left empty are not sent; one that does not fit the trigger
    (an environment for a heartbeat) is check_rule's to refuse, by name.
    """
    trigger = (form.get("trigger") or "").strip()
    raw: dict[str, Any] = {"name": form.get("name") or "", "trigger": trigger}
    threshold = (form.get("threshold") or "").strip()
    if threshold:
        raw["threshold"] = threshold
    for name, label in (("window", "The window"), ("interval", "The interval")):
        seconds = _minutes(form, name, label)
        if seconds is not None:
            raw[name] = seconds
    filters: dict[str, Any] = {}
    for key in ("environment", "level", "release", "model"):
        value = (form.get(key) or "").strip()
        if value:
            filters[key] = value
    tag = (form.get("tag") or "").strip()
    if tag:
        key, sep, value = tag.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise RuleError("The tag filter is written key=value, like os=linux.")
        filters["tags"] = {key.strip(): value.strip()}
    raw["filters"] = filters
    raw["actions"] = [_action_input(form)]
    return raw


def _action_input(form: Mapping[str, str]) -> dict[str, Any]:
    kind = form.get("action_type") or ""
    if kind == "email":
        text = (form.get("email_to") or "").strip()
        targets = [part.strip() for part in text.split(",") if part.strip()] or [MEMBERS]
        return {"type": "email", "targets": targets}
    if kind in ("slack", "webhook"):
        found: dict[str, Any] = {"type": kind, "url": (form.get("url") or "").strip()}
        secret = (form.get("secret") or "").strip()
        if kind == "webhook" and secret:
            found["secret"] = secret
        return found
    return {"type": kind}


# -- the page ---------------------------------------------------------------------


def _project(ctx: PageRequest) -> tuple[Project, str]:
    return ctx.path_project()


@page
def alert_rules(ctx: PageRequest) -> Response:
    """``GET`` the rules and history; ``POST`` with ``action``: create or change a rule."""
    project, role = _project(ctx)
    if ctx.request.method == "GET":
        return _render(ctx, project, role)
    if not can_write(ctx.principal, role):
        raise Forbidden("You have read-only access to this project.")
    action = ctx.form.get("action", "")
    if action == "create":
        try:
            fields = check_rule(rule_input(ctx.form))
        except RuleError as exc:
            return _render(ctx, project, role, error=str(exc), status=400, form=ctx.form)
        ctx.store.create_alert_rule(project.id, fields, user_id=ctx.principal.user.id)
        return _done(project, "rule_created")
    change = ACTIONS.get(action)
    if change is None:
        raise BadRequest(f"Unknown action; use one of: create, {', '.join(ACTIONS)}.")
    rule = _rule(ctx, project)
    try:
        done = change(ctx, rule)
    except RuleError as exc:
        return _render(ctx, project, role, error=str(exc), status=400)
    return _done(project, done)


def _done(project: Project, done: str) -> Response:
    return RedirectResponse(f"{alerts_url(project)}?done={done}", status_code=303)


def _rule(ctx: PageRequest, project: Project) -> AlertRule:
    try:
        rule_id = identifier(ctx.form, "rule_id")
    except ValueError:
        raise NotFound() from None
    rule = ctx.store.get_alert_rule(rule_id)
    if rule is None or rule.project_id != project.id:
        raise NotFound()
    return rule


def _update(ctx: PageRequest, rule: AlertRule, changes: dict[str, Any]) -> None:
    if ctx.store.update_alert_rule(rule.id, check_rule(changes, rule)) is None:
        raise NotFound()


def _enable(ctx: PageRequest, rule: AlertRule) -> str:
    _update(ctx, rule, {"enabled": True})
    return "rule_enabled"


def _disable(ctx: PageRequest, rule: AlertRule) -> str:
    _update(ctx, rule, {"enabled": False})
    return "rule_disabled"


def _snoozer(seconds: int) -> Callable[[PageRequest, AlertRule], str]:
    def snooze(ctx: PageRequest, rule: AlertRule) -> str:
        _update(ctx, rule, {"snoozed_until": time.time() + seconds})
        return "rule_snoozed"

    return snooze


def _unsnooze(ctx: PageRequest, rule: AlertRule) -> str:
    _update(ctx, rule, {"snoozed_until": None})
    return "rule_unsnoozed"


def _test(ctx: PageRequest, rule: AlertRule) -> str:
    ctx.store.notify(rule, "test", {"test": True}, test=True)
    return "rule_tested"


def _delete(ctx: PageRequest, rule: AlertRule) -> str:
    ctx.store.delete_alert_rule(rule.id)
    return "rule_deleted"


ACTIONS: dict[str, Callable[[PageRequest, AlertRule], str]] = {
    "enable": _enable,
    "disable": _disable,
    **{name: _snoozer(seconds) for name, seconds in SNOOZES.items()},
    "unsnooze": _unsnooze,
    "test": _test,
    "delete": _delete,
}


def _render(
    ctx: PageRequest,
    project: Project,
    role: str,
    *,
    error: str | None = None,
    status: int = 200,
    form: Mapping[str, str] | None = None,
) -> Response:
    now = time.time()
    rules = ctx.store.list_alert_rules(project.id)
    context = {
        "project": project,
        "nav_active": "alerts",
        "page_title": f"Alerts · {project.name}",
        "can_write": can_write(ctx.principal, role),
        "rules": [rule_view(rule, now) for rule in rules],
        "history": history_rows(ctx.store.alert_history(project.id, limit=HISTORY_LIMIT), rules),
        "triggers": TRIGGER_CHOICES,
        "llm_triggers": LLM_TRIGGERS,
        "levels": LEVELS,
        "action_types": ACTION_CHOICES,
        "max_minutes": MAX_MINUTES,
        "form": form or {},  # the create form's values, kept when it was refused
        "notice": notice(ctx.params),
        "error": error,
    }
    return ctx.render("alerts.html", context, project=project, status_code=status)
