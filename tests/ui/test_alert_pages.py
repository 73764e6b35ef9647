"""The alerts page, the issue page's mute box and the account's alert-email switch,
driven in Chromium under the strict CSP.

Nothing is sent from the test server: a test notification is recorded in
the history with its delivery, whatever its status.
"""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect

from tests.conftest import LiveServer
from tests.payloads import sentry_event

pytestmark = pytest.mark.ui
ALERTS = "/default/default/alerts/"


@pytest.fixture(scope="module")
def session(admin_session: BrowserContext) -> BrowserContext:
    """These pages need (almost) no events: the admin's session on a fresh server."""
    return admin_session


def rule_row(page: Page, name: str) -> Locator:
    return page.locator(f"#rule-list tr[data-rule='{name}']")


def create_rule(page: Page, name: str, **fields: str) -> None:
    page.goto(ALERTS)
    form = page.locator("#new-rule")
    form.locator("input[name=name]").fill(name)
    for field, value in fields.items():
        if field in ("trigger", "level", "action_type"):
            form.locator(f"select[name={field}]").select_option(value)
        else:
            form.locator(f"input[name={field}]").fill(value)
    form.locator("button[type=submit]").click()


def test_a_rule_is_created_from_the_form_and_listed(page: Page) -> None:
    page.goto("/")
    page.click("a.navlink:has-text('Alerts')")
    expect(page).to_have_url(re.compile(ALERTS + "$"))
    expect(page.locator("#rule-list")).to_contain_text("No alert rules yet.")
    expect(page.locator("#alert-history")).to_contain_text("Nothing sent yet.")

    create_rule(
        page,
        "Busy in production",
        trigger="issue_events",
        threshold="100",
        window="15",
        interval="120",
        environment="production",
        tag="os=linux",
        action_type="email",
        email_to="oncall@example.com, lead@example.com",
    )
    expect(page.locator(".alert-ok")).to_contain_text("Alert rule created.")
    row = rule_row(page, "Busy in production")
    expect(row.locator(".rule-trigger")).to_have_text("An issue gets 100 events within 15 min")
    expect(row.locator(".rule-filters")).to_contain_text("environment: production")
    expect(row.locator(".rule-filters")).to_contain_text("tag os = linux")
    expect(row.locator(".rule-actions")).to_have_text("Email oncall@example.com, lead@example.com")
    expect(row).to_contain_text("2 h")
    expect(row.locator(".rule-status")).to_have_text("Enabled")


def test_webhook_secrets_and_url_paths_are_never_shown(page: Page) -> None:
    create_rule(
        page,
        "Spend",
        trigger="llm_cost",
        threshold="5",
        model="gpt-4o-mini",
        action_type="webhook",
        url="https://ops.example.com/hooks/abc123",
        secret="do-not-show-me",
    )
    expect(page.locator(".alert-ok")).to_contain_text("Alert rule created.")
    row = rule_row(page, "Spend")
    expect(row.locator(".rule-trigger")).to_have_text("LLM spend reaches $5.00 within 1 h")
    expect(row.locator(".rule-filters")).to_have_text("model: gpt-4o-mini")
    expect(row.locator(".rule-actions")).to_have_text("Webhook https://ops.example.com/… (signed)")
    html = page.content()
    assert "do-not-show-me" not in html and "abc123" not in html


def test_a_bad_threshold_is_refused_with_the_reason(page: Page) -> None:
    create_rule(page, "Many users", trigger="issue_users", threshold="lots")
    expect(page.locator(".alert-error")).to_have_text("The threshold must be a number.")
    expect(page.locator("#new-rule input[name=name]")).to_have_value("Many users")
    expect(page.locator("#new-rule select[name=trigger]")).to_have_value("issue_users")
    expect(rule_row(page, "Many users")).to_have_count(0)

    create_rule(page, "Quiet", trigger="heartbeat", environment="production")
    expect(page.locator(".alert-error")).to_contain_text("do not apply to heartbeat rules")


def test_snoozing_and_disabling_change_what_is_shown(page: Page) -> None:
    create_rule(page, "New issues", trigger="new_issue")
    row = rule_row(page, "New issues")
    row.locator("button:has-text('Snooze 1 h')").click()
    expect(page.locator(".alert-ok")).to_contain_text("Alert rule snoozed.")
    expect(row.locator(".rule-snoozed")).to_contain_text("Snoozed until")
    expect(row.locator("button:has-text('Snooze 1 h')")).to_have_count(0)
    row.locator("button:has-text('Unsnooze')").click()
    expect(page.locator(".alert-ok")).to_contain_text("Alert rule unsnoozed.")
    expect(row.locator(".rule-snoozed")).to_have_count(0)

    row.locator("button:has-text('Disable')").click()
    expect(page.locator(".alert-ok")).to_contain_text("Alert rule disabled")
    expect(row.locator(".rule-status")).to_have_text("Disabled")
    row.locator("button:has-text('Enable')").click()
    expect(row.locator(".rule-status")).to_have_text("Enabled")
    row.locator("button:has-text('Snooze 24 h')").click()
    expect(row.locator(".rule-snoozed")).to_contain_text("Snoozed until")


def test_the_test_button_records_a_notification(page: Page, live_server: LiveServer) -> None:
    create_rule(page, "Pager", trigger="new_issue", email_to="pager@example.com")
    rule_row(page, "Pager").locator("button:has-text('Send test notification')").click()
    expect(page.locator(".alert-ok")).to_contain_text("Test notification queued")
    sent = page.locator("#alert-history tr[data-notification]").first
    expect(sent).to_contain_text("Pager")
    expect(sent.locator(".history-subject")).to_have_text("Test notification")
    expect(sent.locator(".deliveries li")).to_have_count(1)
    expect(sent.locator(".deliveries li")).to_contain_text("email → pager@example.com")
    with live_server.api() as api:
        history = api.get("/api/0/projects/default/default/alert-history/").json()
    assert history[0]["payload"]["test"] is True

    # Deleting the rule keeps its history, marked as such.
    rule_row(page, "Pager").locator("summary:has-text('Delete…')").click()
    rule_row(page, "Pager").locator("button:has-text('Delete rule')").click()
    expect(page.locator(".alert-ok")).to_contain_text("Alert rule deleted.")
    expect(rule_row(page, "Pager")).to_have_count(0)
    expect(page.locator("#alert-history tr[data-notification]").first).to_contain_text(
        "Pager (deleted)"
    )


def test_muting_an_issue_shows_it_and_unmuting_clears_it(
    page: Page, live_server: LiveServer
) -> None:
    answer = httpx.post(
        f"{live_server.url}/api/{live_server.project_id}/store/",
        json=sentry_event("mute me", "KeyError"),
        headers={"X-Sentry-Auth": f"Sentry sentry_version=7, sentry_key={live_server.public_key}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    live_server.wait_for_digest()
    with live_server.api() as api:
        issues = api.get("/api/0/projects/default/default/issues/?query=").json()
    issue_id = next(i["id"] for i in issues if "mute me" in i["title"])

    page.goto(f"/issues/{issue_id}/")
    box = page.locator("#issue-alerts")
    expect(box).to_contain_text("Alert rules notify about this issue.")
    box.locator("button:has-text('Mute alerts for this issue')").click()
    expect(box).to_contain_text("Alerts muted until you unmute them")
    with live_server.api() as api:
        assert api.get(f"/api/0/issues/{issue_id}/alert-mute/").json()["muted"] is True
    box.locator("button:has-text('Unmute')").click()
    expect(box).not_to_contain_text("muted")
    box.locator("button:has-text('Mute for 24 h')").click()
    expect(box.locator(".alerts-muted")).to_contain_text(re.compile(r"Alerts muted until \d{4}-"))
    box.locator("button:has-text('Unmute')").click()
    expect(box.locator(".alerts-muted")).to_have_count(0)


def test_the_alert_email_switch_persists(page: Page, live_server: LiveServer) -> None:
    page.goto("/account/")
    switch = page.locator("#alert-emails input[name=alert_emails]")
    expect(switch).to_be_checked()
    switch.uncheck()
    page.locator("#alert-emails button[type=submit]").click()
    expect(page.locator(".alert-ok")).to_contain_text("no longer receive alert emails")
    page.goto("/account/")
    expect(switch).not_to_be_checked()
    with live_server.api() as api:
        assert api.get("/api/0/users/me/alert-emails/").json() == {"enabled": False}
    switch.check()
    page.locator("#alert-emails button[type=submit]").click()
    expect(page.locator(".alert-ok")).to_contain_text("You will receive alert emails")
    expect(switch).to_be_checked()
