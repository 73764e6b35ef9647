"""Project settings, account tokens and members pages, driven in Chromium.

The pages must work under the strict CSP (no inline anything): the ``page``
fixture fails a test on any CSP violation, script error or dialog.
"""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.accounts import make_user, server_store
from tests.conftest import LiveServer
from tests.ui.conftest import STRICT_CSP

pytestmark = pytest.mark.ui
SETTINGS = "/default/default/settings/"


@pytest.fixture(scope="module")
def session(admin_session: BrowserContext) -> BrowserContext:
    """These pages need no events: the admin's session on a fresh server."""
    return admin_session


def test_server_sends_the_strict_policy_itself(live_server: LiveServer) -> None:
    response = httpx.get(f"{live_server.url}/login")
    assert response.headers["content-security-policy"] == STRICT_CSP
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_keys_can_be_created_limited_and_revoked(page: Page, live_server: LiveServer) -> None:
    page.goto("/")
    page.click("a.navlink:has-text('Settings')")
    expect(page).to_have_url(re.compile(SETTINGS + "$"))
    expect(page.locator("h1")).to_have_text("Project settings")
    expect(page.locator("#keys")).to_contain_text(live_server.dsn)

    page.fill(".new-key input[name=label]", "web frontend")
    page.fill(".new-key input[name=rate_limit]", "5")
    page.click(".new-key button")
    expect(page.locator(".alert-ok")).to_have_text("New ingest key created.")
    row = page.locator("tr", has_text="web frontend")
    expect(row).to_contain_text("5 events/s")
    expect(row.locator("button", has_text="Copy").first).to_be_visible()
    public_key = row.get_attribute("data-key")
    assert public_key

    row.locator("input[name=rate_limit]").fill("")
    row.locator("button", has_text="Save").click()
    expect(page.locator(".alert-ok")).to_have_text("Ingest key updated.")
    row = page.locator(f"tr[data-key='{public_key}']")
    expect(row).to_contain_text("none")

    row.locator("summary", has_text="Revoke…").click()
    row.locator("button", has_text="Revoke key").click()
    expect(page.locator(".alert-ok")).to_contain_text("Ingest key revoked")
    expect(page.locator(f"tr[data-key='{public_key}']")).to_contain_text("Revoked")
    refused = httpx.post(
        f"{live_server.url}/api/{live_server.project_id}/envelope/",
        content=b'{}\n{"type":"event"}\n{}\n',
        headers={"X-Sentry-Auth": f"Sentry sentry_key={public_key}"},
    )
    assert refused.status_code == 403


def test_project_settings_are_saved(page: Page, live_server: LiveServer) -> None:
    page.goto(SETTINGS)
    form = page.locator("form#settings")
    form.locator("input[name=retention_days]").fill("30")
    form.locator("input[name=rate_limit]").fill("250")
    form.locator("input[name=keep_llm_payloads]").check()
    form.locator("select[name=ai_policy]").select_option("consent_required")
    form.locator("textarea[name=scrub_extra_keys]").fill("customer_ref\ninternal_id")
    form.locator("textarea[name=scrub_safe_fields]").fill("build_token")
    form.locator("button", has_text="Save settings").click()
    expect(page.locator(".alert-ok")).to_have_text("Settings saved.")
    page.reload()
    form = page.locator("form#settings")
    expect(form.locator("input[name=retention_days]")).to_have_value("30")
    expect(form.locator("input[name=rate_limit]")).to_have_value("250")
    expect(form.locator("input[name=keep_llm_payloads]")).to_be_checked()
    expect(form.locator("select[name=ai_policy]")).to_have_value("consent_required")
    expect(form.locator("textarea[name=scrub_extra_keys]")).to_have_value(
        "customer_ref\ninternal_id"
    )
    with live_server.api() as api:
        project = api.get("/api/0/projects/default/default/").json()
    assert project["retentionDays"] == 30 and project["sensitiveFields"] == [
        "customer_ref",
        "internal_id",
    ]
    # A value the browser would not send is refused with the reason, not guessed at.
    token = page.locator("form#settings input[name=csrf_token]").get_attribute("value") or ""
    response = page.request.post(
        SETTINGS,
        form={"action": "save_settings", "csrf_token": token, "retention_days": "0"},
    )
    assert response.status == 400
    assert "Retention (days) must be between 1 and 3650" in response.text()


def test_api_tokens_are_shown_once_and_revocable(page: Page, live_server: LiveServer) -> None:
    page.goto("/")
    page.click(".user-menu summary")
    page.click("a:has-text('Account and API tokens')")
    expect(page.locator("h1")).to_have_text("Account")
    page.fill("#tokens input[name=label]", "deploy script")
    page.check("#tokens input[value=write]")
    page.click("#tokens button:has-text('Create token')")
    token = page.locator("#new-token").inner_text()
    assert token.startswith("hgp_")
    row = page.locator("tr", has_text="deploy script")
    expect(row).to_contain_text("read")
    expect(row).to_contain_text("write")
    expect(row).not_to_contain_text("admin")
    with httpx.Client(
        base_url=live_server.url, headers={"Authorization": f"Bearer {token}"}
    ) as api:
        assert api.get("/api/0/projects/").status_code == 200
        assert api.put("/api/0/projects/default/default/", json={"name": "x"}).status_code == 403
        page.goto("/account/")
        expect(page.locator("#new-token")).to_have_count(0)  # never shown again
        assert token not in page.content()
        row = page.locator("tr", has_text="deploy script")
        expect(row).to_contain_text(token[:10])
        row.locator("summary").click()
        row.locator("button", has_text="Revoke token").click()
        expect(page.locator(".alert-ok")).to_have_text("API token revoked.")
        assert api.get("/api/0/projects/").status_code == 401


def test_owners_manage_members_and_teams(page: Page, live_server: LiveServer) -> None:
    with server_store(live_server) as store:
        make_user(store, "newcomer@example.com", None)
    page.goto("/")
    page.click(".user-menu summary")
    page.click("a:has-text('Members and teams')")
    expect(page.locator("h1")).to_have_text("Members and teams")
    add = page.locator("#members form:has(input[name=email])")
    add.locator("input[name=email]").fill("newcomer@example.com")
    add.locator("select[name=role]").select_option("viewer")
    add.locator("button").click()
    expect(page.locator(".alert-ok")).to_have_text("Member added.")
    row = page.locator("tr[data-member='newcomer@example.com']")
    expect(row.locator("select[name=role]")).to_have_value("viewer")
    row.locator("select[name=role]").select_option("admin")
    row.locator("button", has_text="Change").click()
    expect(page.locator(".alert-ok")).to_have_text("Role changed.")

    page.fill("#teams input[name=name]", "Payments")
    page.click("#teams button:has-text('Create team')")
    team = page.locator(".team[data-team='payments']")
    expect(team).to_contain_text("nobody")
    team.locator("form:has(input[value=add_team_project]) select").select_option(label="default")
    team.locator("button", has_text="Add project").click()
    expect(page.locator(".team[data-team='payments']")).to_contain_text("default/default")
    team = page.locator(".team[data-team='payments']")
    team.locator("form:has(input[value=add_team_member]) select").select_option(
        label="newcomer@example.com"
    )
    team.locator("button", has_text="Add person").click()
    expect(page.locator(".team[data-team='payments']")).to_contain_text("newcomer@example.com")
    row = page.locator("tr[data-member='newcomer@example.com']")
    expect(row).to_contain_text("Payments")

    # The last owner cannot be demoted.
    admin_row = page.locator("tr[data-member='admin@heliograph.local']")
    admin_row.locator("select[name=role]").select_option("member")
    admin_row.locator("button", has_text="Change").click()
    expect(page.locator(".alert-error")).to_contain_text("at least one owner")

    row = page.locator("tr[data-member='newcomer@example.com']")
    row.locator("summary", has_text="Remove…").click()
    row.locator("button", has_text="Remove from default").click()
    expect(page.locator(".alert-ok")).to_have_text("Member removed.")
    expect(page.locator("tr[data-member='newcomer@example.com']")).to_have_count(0)
