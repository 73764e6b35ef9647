"""Real recording clients in Chromium, on a page of another origin, into a live server.

posthog-js (session recording turned on by the project's remote config) and
``@sentry/browser`` with its Replay integration each record a checkout page:
the shop's heading, a card number typed into an input, a click, and an error.
Then, from outside: the page logged no console or CORS error; the replay is
listed by the Sentry-shaped API with its segments; what was typed is nowhere
in the database file or the blob store (decompressed); the page's text is
masked (the project's default); the error links to the replay and back; and
the replay page's player rebuilds the recorded page.
"""

from __future__ import annotations

import re
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, sync_playwright

from tests.conftest import LiveServer
from tests.customer_site import HTML, JAVASCRIPT, customer_site
from tests.js_clients import require, sentry_browser_bundle

pytestmark = pytest.mark.e2e

TYPED = "4111-1111-typed-secret"
HEADING = "Checkout for Ada Lovelace"
SHOP = """<!doctype html><html><head><title>Shop</title><link rel="icon" href="data:,">
<script src="/client.js"></script>
<script>{setup}</script></head>
<body><h1>{heading}</h1>
<label>Card <input id="card" autocomplete="off"></label>
<button id="pay" type="button">Pay</button>
<script>
  document.getElementById("pay").addEventListener("click", function () {{
    var p = document.createElement("p"); p.id = "done"; p.textContent = "Declined";
    document.body.appendChild(p);
  }});
</script></body></html>"""

POSTHOG_SETUP = """posthog.init("{key}", {{
  api_host: "{host}", opt_out_useragent_filter: true, autocapture: false,
  persistence: "memory", capture_pageview: true, disable_session_recording: false
}});"""

SENTRY_SETUP = """Sentry.init({{
  dsn: "{dsn}", integrations: [Sentry.replayIntegration({{minReplayDuration: 0}})],
  replaysSessionSampleRate: 1.0, replaysOnErrorSampleRate: 1.0
}});"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--headless=new"],
        )
        yield launched
        launched.close()


def _shop(client_js: bytes, setup: str) -> dict[str, tuple[bytes | str, str]]:
    page = SHOP.format(setup=setup, heading=HEADING)
    return {"/": (page, HTML), "/client.js": (client_js, JAVASCRIPT)}


def _record(browser: Browser, url: str, finish: str) -> tuple[str, list[str]]:
    """Use the shop like a customer; returns (what ``finish`` evaluates to, console errors)."""
    problems: list[str] = []
    page = browser.new_page()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "response",
        lambda r: problems.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None,
    )
    page.goto(url)
    page.wait_for_timeout(1500)  # remote config, the recorder, the first full snapshot
    page.click("#card")
    page.keyboard.type(TYPED, delay=15)
    page.click("#pay")
    page.wait_for_selector("#done")
    page.wait_for_timeout(500)
    result = str(page.evaluate(finish))
    page.wait_for_timeout(3000)  # the last recording flush
    page.close()  # and what the page sends as it goes
    return result, problems


def _everything_stored(server: LiveServer) -> bytes:
    """The database file and every blob, decompressed: where a secret would be."""
    stored = b""
    for path in server.data_dir.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if path.name.endswith(".json.gz"):
            data = zlib.decompress(data)
        stored += data
    return stored


def _check_replay(
    server: LiveServer, browser: Browser, replay_id: str, problems: list[str]
) -> dict[str, Any]:
    assert not [p for p in problems if re.search(r"CORS|blocked|Failed|HTTP", p)], problems
    api = server.api()
    projects = api.get("/api/0/projects/").json()
    org, project = projects[0]["organization"]["slug"], projects[0]["slug"]
    # The last segments may still be on their way (a loaded machine): up to 30 s.
    deadline = time.monotonic() + 30
    while True:
        server.wait_for_digest(timeout=30)
        listed = api.get(f"/api/0/organizations/{org}/replays/").json()["data"]
        if replay_id in [r["id"] for r in listed] or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert replay_id in [r["id"] for r in listed], listed
    detail = api.get(f"/api/0/projects/{org}/{project}/replays/{replay_id}/").json()["data"]
    assert detail["count_segments"] >= 1 and detail["duration"] >= 1
    segments = api.get(
        f"/api/0/projects/{org}/{project}/replays/{replay_id}/recording-segments/?download"
    ).json()
    events = [event for segment in segments for event in segment]
    assert any(event["type"] == 2 for event in events), "no full snapshot stored"
    played = str(events)
    assert TYPED not in played and "Lovelace" not in played  # inputs and text masked
    assert TYPED.encode() not in _everything_stored(server)
    # The error links to the replay, and back.
    assert detail["error_ids"], detail
    web = server.api()  # pages take the API token too
    replay_page = web.get(f"/{org}/{project}/replays/{replay_id}/").text
    issue_link = re.search(r'href="(/issues/\d+/)\?event=', replay_page)
    assert issue_link, "the replay page links no issue"
    assert f"/replays/{replay_id}/" in web.get(issue_link.group(1)).text
    # The player rebuilds the recorded page.
    page = browser.new_page(extra_http_headers={"Authorization": f"Bearer {server.api_token}"})
    page.goto(f"{server.url}/{org}/{project}/replays/{replay_id}/")
    # A selector, not a predicate: the page's CSP allows no eval.
    page.wait_for_selector(
        "#replay-player[data-state=paused], #replay-player[data-state=playing], "
        "#replay-player[data-state=finished]",
        timeout=15000,
    )
    frame = page.frame_locator("#replay-player iframe")
    assert frame.locator("#card").count() == 1
    assert frame.locator("h1").inner_text().strip("* ") == ""  # masked text, kept in shape
    page.close()
    return detail


def test_posthog_js_records_a_session_that_plays_back(
    live_server: LiveServer, browser: Browser
) -> None:
    bundle = (require("posthog-js") / "dist" / "array.full.js").read_bytes()
    setup = POSTHOG_SETUP.format(key=live_server.public_key, host=live_server.url)
    finish = (
        "(() => { posthog.captureException(new Error('Card declined'));"
        " return posthog.get_session_id(); })()"
    )
    with customer_site(_shop(bundle, setup)) as url:
        session_id, problems = _record(browser, url, finish)
    _check_replay(live_server, browser, session_id, problems)


def test_sentry_replay_records_a_session_that_plays_back(
    live_server: LiveServer, browser: Browser, tmp_path: Path
) -> None:
    bundle = sentry_browser_bundle(tmp_path).read_bytes()
    finish = (
        "(async () => { Sentry.captureException(new Error('Card declined'));"
        " await Sentry.getReplay().flush(); return Sentry.getReplay().getReplayId(); })()"
    )
    with customer_site(_shop(bundle, SENTRY_SETUP.format(dsn=live_server.dsn))) as url:
        replay_id, problems = _record(browser, url, finish)
    detail = _check_replay(live_server, browser, replay_id, problems)
    # From the User-Agent the replay_event carries (headless Chromium says so).
    assert detail["browser"]["name"] in ("Chrome", "HeadlessChrome")
