"""The browser snippet (served by the Heliograph server) in headless Chromium.

Skipped when the snippet file, Playwright or Chromium is not available: the
snippet ships with the server, not with this distribution.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

SNIPPET = Path(__file__).resolve().parents[2] / "src/heliograph/web/static/heliograph.js"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = pytest.mark.skipif(
    not SNIPPET.exists() or not Path(CHROMIUM).exists(), reason="needs the snippet and chromium"
)

PAGE = """<!doctype html><html><head><title>Snippet test</title>
<script src="/static/heliograph.js" data-api-key="phc_browser" data-host="{host}"
 data-environment="test" data-release="9.9" data-identify="email" defer></script>
</head><body><h1>hello</h1>
<script>
function thrower() { throw new TypeError("kaboom in page"); }
</script></body></html>"""


def flag_answer(distinct_id: str) -> dict[str, Any]:
    """What /flags answers here: a variant that depends on who asks, and a payload."""
    variant = "long" if distinct_id == "user-7" else "short"
    return {
        "flags": {
            "checkout-copy": {"key": "checkout-copy", "enabled": True, "variant": variant,
                              "metadata": {"payload": json.dumps({"headline": variant})}},
            "dark-mode": {"key": "dark-mode", "enabled": False, "variant": None,
                          "metadata": {"payload": None}},
        }
    }  # fmt: skip


class SiteServer:
    def __init__(self, page: str = PAGE) -> None:
        self.batches: list[dict[str, Any]] = []
        self.flag_requests: list[dict[str, Any]] = []
        self.content_types: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.startswith("/static/heliograph.js"):
                    self._send(200, SNIPPET.read_bytes(), "application/javascript")
                else:
                    self._send(200, page.replace("{host}", site.url).encode(), "text/html")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length))
                if self.path.startswith("/flags"):
                    site.flag_requests.append(body)
                    answer = json.dumps(flag_answer(body["distinct_id"])).encode()
                    self._send(200, answer, "application/json")
                    return
                site.content_types.append(self.headers.get("Content-Type", ""))
                site.batches.append(body)
                self._send(200, b'{"status":"Ok"}', "application/json")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def events(self) -> list[dict[str, Any]]:
        return [e for b in list(self.batches) for e in b["batch"]]

    def wait(self, name: str, count: int = 1, timeout: float = 10) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in self.events() if e["event"] == name]
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"no {name}: {[e['event'] for e in self.events()]}")

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def site() -> Iterator[SiteServer]:
    server = SiteServer()
    yield server
    server.close()


@contextlib.contextmanager
def browsing(page_html: str) -> Iterator[tuple[SiteServer, Any]]:
    """A site serving ``page_html``, and a Chromium tab that has loaded it."""
    playwright = pytest.importorskip("playwright.sync_api")
    site = SiteServer(page_html)
    try:
        with playwright.sync_playwright() as p:
            browser = _browser(p)
            page = browser.new_page()
            page.goto(site.url + "/")
            yield site, page
            browser.close()
    finally:
        site.close()


def test_snippet_in_chromium(site: SiteServer) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page()
        page.goto(site.url + "/start")
        (view,) = site.wait("$pageview")
        assert view["properties"]["$pathname"] == "/start"
        assert view["properties"]["environment"] == "test"
        assert view["properties"]["release"] == "9.9"
        assert view["properties"]["$lib"] == "heliograph-js"
        assert view["properties"]["$process_person_profile"] is False
        assert set(view) == {"event", "distinct_id", "properties", "timestamp", "uuid"}
        assert site.batches[0]["api_key"] == "phc_browser"
        assert site.content_types[0].startswith("text/plain")
        anonymous = view["distinct_id"]

        page.evaluate("history.pushState({}, '', '/next')")
        views = site.wait("$pageview", 2)
        assert views[1]["properties"]["$pathname"] == "/next"

        page.evaluate("setTimeout(thrower, 0)")
        (error,) = site.wait("$exception")
        (exc,) = error["properties"]["$exception_list"]
        assert exc["type"] == "TypeError"
        assert exc["value"] == "kaboom in page"
        assert exc["mechanism"]["type"] == "onerror"
        assert exc["mechanism"]["handled"] is False
        assert exc["stacktrace"]["frames"][-1]["function"] == "thrower"
        assert exc["stacktrace"]["frames"][-1]["in_app"] is True

        page.evaluate(
            "() => { Promise.reject(new Error('rejected', {cause: new RangeError('root')})); }"
        )
        errors = site.wait("$exception", 2)
        chain = errors[1]["properties"]["$exception_list"]
        assert [e["type"] for e in chain] == ["Error", "RangeError"]
        assert chain[0]["mechanism"]["type"] == "onunhandledrejection"

        page.evaluate(
            "heliograph.identify('user-7', {email: 'u@example.com', name: 'Hidden'});"
            "heliograph.register({plan: 'pro'});"
            "heliograph.capture('clicked', {button: 'buy'})"
        )
        (clicked,) = site.wait("clicked")
        assert clicked["distinct_id"] == "user-7"
        assert clicked["properties"]["$user"] == {"id": "user-7", "email": "u@example.com"}
        assert clicked["properties"]["plan"] == "pro"
        assert clicked["properties"]["button"] == "buy"

        storage = page.evaluate("[document.cookie, localStorage.length]")
        assert storage == ["", 0]  # no cookies, no localStorage

        page.goto("about:blank")  # pagehide: $pageleave via sendBeacon
        (leave,) = site.wait("$pageleave")
        assert leave["distinct_id"] == "user-7"
        assert anonymous != "user-7"
        browser.close()


BOOTSTRAPPED = """<!doctype html><html><head><title>Flags</title>
<script src="/static/heliograph.js" data-api-key="phc_browser" data-host="{host}"
 data-flags='{"distinctId": "user-9", "flags": {"checkout-copy": "long", "beta": true},
 "payloads": {"checkout-copy": "{\\"headline\\": \\"Buy it now\\"}"}}'></script>
<script>window.firstPaint = heliograph.getFeatureFlag("checkout-copy");</script>
</head><body><h1>flags</h1></body></html>"""


def _browser(p: Any) -> Any:
    return p.chromium.launch(
        executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
    )


def test_flags_load_for_the_person_and_follow_identify(site: SiteServer) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = _browser(p)
        page = browser.new_page()
        page.goto(site.url + "/start")
        page.wait_for_function("heliograph.getFeatureFlag('checkout-copy') !== undefined")
        anonymous = page.evaluate("heliograph.getDistinctId()")
        assert site.flag_requests[0]["distinct_id"] == anonymous
        assert site.flag_requests[0]["token"] == "phc_browser"
        assert page.evaluate("heliograph.getFeatureFlag('checkout-copy')") == "short"
        assert page.evaluate("heliograph.isFeatureEnabled('dark-mode')") is False
        assert page.evaluate("heliograph.getFeatureFlagPayload('checkout-copy')") == {
            "headline": "short"
        }
        assert page.evaluate("heliograph.getFeatureFlag('unknown')") is None

        page.evaluate(
            "window.seen = [];"
            "heliograph.onFeatureFlags(f => window.seen.push(f['checkout-copy']));"
            "heliograph.identify('user-7')"
        )
        page.wait_for_function("window.seen.includes('long')")
        assert page.evaluate("heliograph.getFeatureFlag('checkout-copy')") == "long"
        page.evaluate("heliograph.capture('clicked')")
        (clicked,) = site.wait("clicked")
        assert clicked["properties"]["$feature/checkout-copy"] == "long"
        assert clicked["properties"]["$feature/dark-mode"] is False
        called = site.wait("$feature_flag_called", 3)
        assert [(e["distinct_id"], e["properties"]["$feature_flag_response"]) for e in called
                if e["properties"]["$feature_flag"] == "checkout-copy"] == [
            (anonymous, "short"), ("user-7", "long")
        ]  # fmt: skip
        browser.close()


def test_bootstrapped_flags_are_there_before_the_first_paint() -> None:
    with browsing(BOOTSTRAPPED) as (site, page):
        assert page.evaluate("window.firstPaint") == "long"
        assert page.evaluate("heliograph.getDistinctId()") == "user-9"
        assert page.evaluate("heliograph.getFeatureFlagPayload('checkout-copy')") == {
            "headline": "Buy it now"
        }
        assert page.evaluate("heliograph.isFeatureEnabled('beta')") is True
        page.evaluate("heliograph.flush()")
        (view,) = site.wait("$pageview")
        assert view["distinct_id"] == "user-9"
        assert view["properties"]["$feature/checkout-copy"] == "long"
        assert site.flag_requests == []  # nothing asked: no request, no flash


SIGNED_IN = """<!doctype html><html><head><title>Signed in</title>
<script src="/static/heliograph.js" data-api-key="phc_browser" data-host="{host}"
 data-user='{"id": "user-42", "email": "ada@example.com"}'></script>
</head><body>hello</body></html>"""


def test_the_servers_user_is_the_pages_person_from_the_start() -> None:
    with browsing(SIGNED_IN) as (site, page):
        assert page.evaluate("heliograph.getDistinctId()") == "user-42"
        page.evaluate("heliograph.flush()")
        (view,) = site.wait("$pageview")
        assert view["distinct_id"] == "user-42"
        assert view["properties"]["$user"] == {"id": "user-42", "email": "ada@example.com"}
        assert site.flag_requests[0]["distinct_id"] == "user-42"
