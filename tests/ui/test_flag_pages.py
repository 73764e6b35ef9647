"""The feature flags pages, driven in Chromium under the strict CSP.

A flag is created from the list, rolled out with the slider, split into
variants, checked for one person, and its history read; what the pages show
is what ``/flags`` serves.
"""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.conftest import LiveServer

pytestmark = pytest.mark.ui
FLAGS = "/default/default/flags/"


@pytest.fixture(scope="module")
def session(admin_session: BrowserContext) -> BrowserContext:
    """These pages need no events: the admin's session on a fresh server."""
    return admin_session


def served(server: LiveServer, distinct_id: str) -> dict[str, object]:
    answer = httpx.post(
        f"{server.url}/flags/?v=2", json={"token": server.public_key, "distinct_id": distinct_id}
    ).json()
    return dict(answer["featureFlags"])


def test_a_flag_is_created_rolled_out_split_and_checked(
    page: Page, live_server: LiveServer
) -> None:
    page.goto("/")
    page.click("a.navlink:has-text('Flags')")
    expect(page).to_have_url(re.compile(FLAGS + "$"))
    expect(page.locator("#flag-list")).to_contain_text("No flags yet.")

    page.fill("#new-flag input[name=key]", "new-checkout")
    page.fill("#new-flag input[name=name]", "The new checkout")
    page.locator("#new-rollout").fill("30")
    expect(page.locator("output[data-mirror-of=new-rollout]")).to_have_text("30")
    page.click("#new-flag button")
    expect(page.locator(".alert-ok")).to_contain_text("Feature flag created")
    expect(page.locator("h1")).to_contain_text("new-checkout")
    expect(page.locator(".page-head")).to_contain_text("30% of people")
    share = sum(served(live_server, f"user-{n}")["new-checkout"] is True for n in range(200))
    assert 40 <= share <= 80  # about 30% of 200

    page.locator("#rollout").fill("100")
    page.fill("#flag-settings textarea[name=variants]", "control 50\ntest 50")
    page.fill("#flag-settings textarea[name=payloads]", '{"test": {"color": "blue"}}')
    page.click("#flag-settings button[type=submit]")
    expect(page.locator(".alert-ok")).to_contain_text("Feature flag saved")
    expect(page.locator(".page-head")).to_contain_text("control 50%, test 50%")
    values = {served(live_server, f"user-{n}")["new-checkout"] for n in range(50)}
    assert values == {"control", "test"}

    test_user = next(f"user-{n}" for n in range(50)
                     if served(live_server, f"user-{n}")["new-checkout"] == "test")  # fmt: skip
    page.fill("#who-sees-what input[name=distinct_id]", test_user)
    page.click("#who-sees-what button")
    expect(page.locator("#check-result")).to_contain_text('"test"')
    expect(page.locator("#check-result")).to_contain_text('"color":"blue"')

    reads = [("test", 2), ("control", 1)]
    batch = [
        {"event": "$feature_flag_called", "distinct_id": f"reader-{value}-{n}",
         "properties": {"$feature_flag": "new-checkout", "$feature_flag_response": value}}
        for value, count in reads for n in range(count)
    ]  # fmt: skip
    sent = httpx.post(f"{live_server.url}/batch/",
                      json={"api_key": live_server.public_key, "batch": batch})  # fmt: skip
    assert sent.status_code == 200
    live_server.wait_for_digest()
    page.reload()
    expect(page.locator("#recent tr[data-value=test]")).to_contain_text("2")
    expect(page.locator("#recent tr[data-value=control]")).to_contain_text("1")

    history = page.locator("#history tbody tr")
    expect(history).to_have_count(2)
    expect(history.first).to_contain_text("updated")


def test_a_bad_definition_is_refused_with_the_reason(page: Page) -> None:
    page.goto(FLAGS)
    page.fill("#new-flag input[name=key]", "split")
    page.fill("#new-flag textarea[name=variants]", "a 70\nb 20")
    page.click("#new-flag button")
    expect(page.locator(".alert-error")).to_contain_text("add up to 100, not 90")
    expect(page.locator("#new-flag input[name=key]")).to_have_value("split")


def test_switching_a_flag_off_and_deleting_it(page: Page, live_server: LiveServer) -> None:
    page.goto(FLAGS)
    page.fill("#new-flag input[name=key]", "kill-switch")
    page.click("#new-flag button")
    expect(page.locator("h1")).to_contain_text("kill-switch")
    assert served(live_server, "u1")["kill-switch"] is True
    page.uncheck("#flag-settings input[name=active]")
    page.click("#flag-settings button[type=submit]")
    expect(page.locator("h1 .badge")).to_have_text("Off")
    assert served(live_server, "u1")["kill-switch"] is False
    page.click("text=Delete this flag…")
    page.click("button:has-text('Delete flag')")
    expect(page.locator(".alert-ok")).to_contain_text("deleted")
    assert "kill-switch" not in served(live_server, "u1")
