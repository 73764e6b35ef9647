"""A new project's setup page: filled-in snippets, and "waiting for the first event…"
that turns green in the browser when the first event arrives."""

from __future__ import annotations

import subprocess
import sys

import pytest
from playwright.sync_api import sync_playwright

from tests.conftest import LiveServer

pytestmark = pytest.mark.e2e


def test_the_setup_page_notices_the_first_event(live_server: LiveServer) -> None:
    with live_server.api() as api:
        project = api.get("/api/0/projects/").json()[0]
    path = f"/{project['organization']['slug']}/{project['slug']}/setup/"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--headless=new"],
        )
        try:
            page = browser.new_page(
                extra_http_headers={"Authorization": f"Bearer {live_server.api_token}"}
            )
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.goto(live_server.url + path)
            assert page.locator("#dsn").inner_text() == live_server.dsn
            python = page.locator("#snippet-sentry-python").inner_text()
            assert live_server.dsn in python and "pip install sentry-sdk" in python
            assert live_server.public_key in page.locator("#snippet-posthog-js").inner_text()
            assert "Waiting for the first event" in page.locator("#first-event").inner_text()
            # The first event, from the snippet's own client.
            script = f"import sentry_sdk\nsentry_sdk.init(dsn={live_server.dsn!r})\n"
            script += "sentry_sdk.capture_message('hello from setup')\nsentry_sdk.flush()\n"
            subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
            page.wait_for_selector("#first-event.received", timeout=20_000)
            assert "First event received" in page.locator("#first-event").inner_text()
            assert page.locator(".first-event-link").is_visible()
            assert not problems, problems
        finally:
            browser.close()
