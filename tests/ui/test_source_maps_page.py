"""The Source maps page in Chromium, under the strict CSP: from Settings to deleting a bundle."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.conftest import LiveServer

pytestmark = pytest.mark.ui


@pytest.fixture(scope="module")
def session(admin_session: BrowserContext) -> BrowserContext:
    """No events needed: the first-start admin on a fresh server."""
    return admin_session


def test_a_release_file_is_listed_and_deleted(page: Page, live_server: LiveServer) -> None:
    with live_server.api() as api:
        made = api.post(
            "/api/0/projects/default/default/releases/shop@1.0/files/",
            data={"name": "~/static/app.min.js", "header": "Sourcemap:app.min.js.map"},
            files={"file": ("app.min.js", b"function t(){}\n")},
        )
        assert made.status_code == 201, made.text
    page.goto("/default/default/settings/")
    page.click("#source-maps a")
    expect(page).to_have_url(re.compile("/default/default/source-maps/$"))
    row = page.locator(f"tr[data-bundle='{made.json()['id']}']")
    expect(row).to_contain_text("shop@1.0")
    expect(row).to_contain_text("release file")
    row.locator(".file-list summary").click()
    expect(row.locator(".file-list li")).to_contain_text("~/static/app.min.js")
    row.locator("summary", has_text="Delete…").click()
    row.locator("button", has_text="Delete bundle").click()
    expect(page.locator(".alert-ok")).to_contain_text("Source map bundle deleted")
    expect(page.locator("#bundles")).to_contain_text("No source maps uploaded yet.")
