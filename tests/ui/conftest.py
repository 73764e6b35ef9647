"""Fixtures for the UI tests: one server, one browser and one logged-in session per module.

Chromium is Debian's (``/usr/bin/chromium``): Playwright's own browser
download is not available here. Every page the tests load is served with a
strict Content-Security-Policy added in the browser, so any inline script,
inline style or event-handler attribute the UI grows fails the tests.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Route, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from tests.conftest import LiveServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HERE = Path(__file__).parent
SENTRY_APP = HERE.parent / "e2e" / "sentry_app.py"
UI_APP = HERE / "ui_app.py"


def send_events(server: LiveServer) -> None:
    """Every scenario at once, each a real process with the real sentry-sdk."""
    commands = [
        [sys.executable, str(SENTRY_APP), server.dsn, scenario]
        for scenario in ("divide", "chain", "message")
    ] + [[sys.executable, str(UI_APP), server.dsn, scenario] for scenario in ("web", "xss")]
    processes = [subprocess.Popen(command) for command in commands]
    for process in processes:
        assert process.wait(timeout=60) == 0
    server.wait_for_digest()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


def _with_strict_csp(route: Route) -> None:
    try:
        response = route.fetch(max_redirects=0)
        headers = {**response.headers, "content-security-policy": STRICT_CSP}
        route.fulfill(response=response, headers=headers)
    except PlaywrightError as exc:
        # The page navigated away (a logout redirect, say) while this request was
        # in flight: Playwright dropped it, and there is nothing left to serve.
        if "disposed" not in str(exc) and "closed" not in str(exc):
            raise


def new_context(chromium: Browser, server: LiveServer) -> BrowserContext:
    context = chromium.new_context(base_url=server.url, viewport={"width": 1366, "height": 900})
    context.route(f"{server.url}/**", _with_strict_csp)
    return context


@pytest.fixture(scope="module")
def seeded_server(live_server: LiveServer) -> LiveServer:
    send_events(live_server)
    return live_server


@pytest.fixture(scope="module")
def session(chromium: Browser, seeded_server: LiveServer) -> Iterator[BrowserContext]:
    """A browser context logged in through the server's one-time login link."""
    context = new_context(chromium, seeded_server)
    page = context.new_page()
    page.goto(seeded_server.login_url)
    assert page.url.endswith("/default/default/issues/"), page.url
    page.close()
    yield context
    context.close()


@pytest.fixture(scope="module")
def admin_session(chromium: Browser, live_server: LiveServer) -> Iterator[BrowserContext]:
    """Logged in as the first-start admin, on a server with no events (settings, flags)."""
    context = new_context(chromium, live_server)
    tab = context.new_page()
    tab.goto(live_server.login_url)
    tab.close()
    yield context
    context.close()


class PageProblems:
    """What must never happen on a page: dialogs (injected script), CSP violations, JS errors.

    HTTP errors the test asked for (a 400 for a bad search, a 404) are not problems.
    """

    def __init__(self, page: Page) -> None:
        self.dialogs: list[str] = []
        self.console_errors: list[str] = []
        page.on("dialog", self._dialog)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.console_errors.append(str(error)))

    def _dialog(self, dialog: object) -> None:
        self.dialogs.append(getattr(dialog, "message", "?"))
        dialog.dismiss()  # type: ignore[attr-defined]

    def _console(self, message: object) -> None:
        text = str(getattr(message, "text", ""))
        if getattr(message, "type", "") == "error" and "Failed to load resource" not in text:
            self.console_errors.append(text)


@pytest.fixture
def page(session: BrowserContext) -> Iterator[Page]:
    """A fresh tab in the logged-in session; fails the test on dialogs or CSP errors."""
    tab = session.new_page()
    problems = PageProblems(tab)
    yield tab
    tab.close()
    assert problems.dialogs == [], f"a dialog fired: {problems.dialogs}"
    assert problems.console_errors == [], problems.console_errors


def session_client(server: LiveServer) -> httpx.Client:
    """An HTTP client logged in like a browser (cookie session), via a fresh login link."""
    result = subprocess.run(
        [sys.executable, "-m", "heliograph", "login-link", "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        check=True,
    )
    token = result.stdout.strip().rsplit("/", 1)[1]
    client = httpx.Client(base_url=server.url, timeout=10)
    response = client.get(f"/login/link/{token}")
    assert response.status_code == 303, response.text
    return client
