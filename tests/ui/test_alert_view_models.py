"""The alert page's words and form reading, without a server or a browser."""

from __future__ import annotations

import pytest

from heliograph.alerts.rules import AlertAction, AlertRule, RuleError, check_rule
from heliograph.store.alert_store import DeliveryRecord, NotificationRecord
from heliograph.web.pages.alerts import (
    describe_action,
    describe_filters,
    describe_trigger,
    duration,
    history_rows,
    notification_subject,
    rule_input,
    rule_view,
    threshold_text,
    url_text,
)

pytestmark = pytest.mark.ui


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0 s"),
        (45, "45 s"),
        (60, "1 min"),
        (1800, "30 min"),
        (3600, "1 h"),
        (5400, "1 h 30 min"),
        (86400, "1 d"),
        (86400 + 6 * 3600 + 60, "1 d 6 h"),  # two parts at most
        (30 * 86400, "30 d"),
        (None, "0 s"),
    ],
)
def test_durations_read_in_the_largest_units(seconds: float | None, expected: str) -> None:
    assert duration(seconds) == expected


def test_thresholds_in_their_units() -> None:
    assert threshold_text("issue_events", 1) == "1 event"
    assert threshold_text("issue_events", 1500) == "1,500 events"
    assert threshold_text("issue_users", 50) == "50 users"
    assert threshold_text("llm_cost", 5) == "$5.00"
    assert threshold_text("llm_cost", 0.001) == "$0.001"
    assert threshold_text("llm_error_rate", 0.05) == "5%"
    assert threshold_text("llm_p95_latency", 2.5) == "2.5 s"
    assert threshold_text("new_issue", None) == ""


def test_each_trigger_in_words() -> None:
    assert describe_trigger("new_issue", None, 3600) == "A new issue is seen"
    assert "regression" in describe_trigger("regression", None, 3600)
    assert describe_trigger("issue_events", 100, 3600) == "An issue gets 100 events within 1 h"
    assert describe_trigger("issue_users", 20, 3600) == "An issue affects 20 users"
    assert describe_trigger("llm_cost", 5, 86400) == "LLM spend reaches $5.00 within 1 d"
    assert describe_trigger("llm_error_rate", 0.1, 900).startswith(
        "LLM error rate reaches 10% within 15 min"
    )
    assert describe_trigger("llm_p95_latency", 3, 3600) == "LLM p95 latency reaches 3 s within 1 h"
    assert describe_trigger("heartbeat", None, 7200) == "No events at all for 2 h"


def test_filters_and_actions_never_show_secrets() -> None:
    assert describe_filters(
        {"environment": "production", "level": "error", "tags": {"os": "linux"}}
    ) == ["environment: production", "level: error", "tag os = linux"]
    assert describe_filters({"model": "gpt-4o"}) == ["model: gpt-4o"]
    assert describe_action(AlertAction("email", ("members", "a@example.com"))) == (
        "Email the project's members, a@example.com"
    )
    slack = AlertAction("slack", url="https://hooks.slack.com/services/T0/B0/SECRET")
    assert describe_action(slack) == "Slack https://hooks.slack.com/…"
    hook = AlertAction("webhook", url="https://ops.example.com/hook?token=abc", secret="s3cret")
    text = describe_action(hook)
    assert "s3cret" not in text and "abc" not in text
    assert text == "Webhook https://ops.example.com/… (signed)"
    assert url_text("https://example.com") == "https://example.com"


def test_the_form_becomes_what_check_rule_takes() -> None:
    form = {
        "name": " Busy ",
        "trigger": "issue_events",
        "threshold": "100",
        "window": "15",
        "interval": "60",
        "environment": "production",
        "level": "error",
        "release": "",
        "tag": " os = linux ",
        "model": "",
        "action_type": "email",
        "email_to": "a@example.com, b@example.com",
    }
    fields = check_rule(rule_input(form))
    assert fields["name"] == "Busy"
    assert fields["threshold"] == 100
    assert (fields["window"], fields["interval"]) == (900, 3600)
    assert fields["filters"] == {
        "environment": "production",
        "level": "error",
        "tags": {"os": "linux"},
    }
    assert fields["actions"] == (AlertAction("email", ("a@example.com", "b@example.com")),)

    plain = check_rule(rule_input({"name": "New", "trigger": "new_issue", "action_type": "email"}))
    assert plain["actions"][0].targets == ("members",)  # no address: the members
    assert (plain["window"], plain["interval"]) == (3600, 1800)  # the defaults

    hook = rule_input(
        {"name": "h", "trigger": "heartbeat", "action_type": "webhook", "url": "https://x.io/h"}
    )
    assert hook["actions"] == [{"type": "webhook", "url": "https://x.io/h"}]  # secret: made


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"window": "soon"}, "The window must be a number of minutes."),
        ({"interval": "0"}, "The interval must be from 1 to 43200 minutes"),
        ({"tag": "linux"}, "written key=value"),
    ],
)
def test_form_mistakes_are_named(form: dict[str, str], message: str) -> None:
    base = {"name": "r", "trigger": "new_issue", "action_type": "email"}
    with pytest.raises(RuleError, match=message):
        rule_input({**base, **form})


def rule(**changes: object) -> AlertRule:
    fields: dict[str, object] = {
        "id": 7,
        "project_id": 1,
        "name": "Spend",
        "trigger": "llm_cost",
        "threshold": 5.0,
        "window": 3600,
        "interval": 1800,
        "actions": (AlertAction("email", ("members",)),),
        **changes,
    }
    return AlertRule(**fields)  # type: ignore[arg-type]


def test_a_rule_view_knows_when_it_is_snoozed() -> None:
    assert not rule_view(rule(), now=1000.0).snoozed
    assert rule_view(rule(snoozed_until=2000.0), now=1000.0).snoozed
    assert not rule_view(rule(snoozed_until=500.0), now=1000.0).snoozed
    view = rule_view(rule(), now=0.0)
    assert view.interval_text == "30 min"
    assert view.actions == ["Email the project's members"]


def test_history_rows_say_what_each_notification_was_about() -> None:
    assert notification_subject({"test": True}).text == "Test notification"
    issue = notification_subject({"issue": {"id": 42, "title": "ValueError: boom"}})
    assert (issue.text, issue.url) == ("ValueError: boom", "/issues/42/")
    metric = notification_subject(
        {"metric": {"name": "llm_cost", "value": 6.5, "threshold": 5, "window": 3600}}
    )
    assert metric.text == "LLM spend: $6.50 within 1 h, threshold $5.00"
    assert notification_subject({"heartbeat": {"window": 600}}).text == "No events for 10 min"

    slack = "https://hooks.slack.com/services/X"
    delivery = DeliveryRecord("slack", slack, "pending", 0, None, None)
    records = [
        NotificationRecord(1, 1, 7, "test", {"rule": {"name": "Spend"}, "test": True}, 0.0, ()),
        NotificationRecord(
            2, 1, 9, "issue:3", {"rule": {"name": "Gone"}, "issue": {"id": 3}}, 0.0, (delivery,)
        ),
    ]
    rows = history_rows(records, [rule()])
    assert (rows[0].rule_name, rows[0].rule_deleted) == ("Spend", False)
    assert (rows[1].rule_name, rows[1].rule_deleted) == ("Gone", True)
    assert rows[1].targets == ["https://hooks.slack.com/…"]
