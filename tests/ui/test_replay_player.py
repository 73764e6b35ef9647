"""The session replay player in Chromium: a real rrweb recording, replayed under our CSP.

The page is the player's documented contract (``static/replay_player.js``)
served on a made-up origin by request interception, with the files from
``static/`` and the replay page's policy from ``web/security.py``: the
recorded DOM must render with its inline styles, seeking must move it, and
the same page under the UI's strict policy shows why the replay page needs
its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route

from heliograph.web.security import CONTENT_SECURITY_POLICY, REPLAY_CONTENT_SECURITY_POLICY
from heliograph.web.templating import STATIC_DIR
from tests.rrweb_recording import TYPED, Recording, record_session
from tests.ui.conftest import PageProblems

pytestmark = pytest.mark.ui

ORIGIN = "http://heliograph.test"
TYPES = {".js": "application/javascript", ".css": "text/css"}


def player_page(late_ms: int) -> str:
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Replay</title>
<link rel="stylesheet" href="/static/ui.css">
<link rel="stylesheet" href="/static/vendor/rrweb.css">
<link rel="stylesheet" href="/static/replay.css">
<script src="/static/vendor/rrweb.min.js" defer></script>
<script src="/static/replay_player.js" defer></script>
</head><body><main class="container">
<div id="replay-player" data-events-url="/replay/events.json"></div>
<ul><li><a href="#" id="seek-start" data-replay-seek="0">start</a></li>
<li><button type="button" id="seek-late" data-replay-seek="{late_ms}">failed</button></li></ul>
</main></body></html>"""


@pytest.fixture(scope="module")
def recording(chromium: Browser) -> Recording:
    return record_session(chromium)


def open_player(
    chromium: Browser, recording: Recording, policy: str, events: Any = None
) -> BrowserContext:
    """A browser context where ORIGIN serves the player page under ``policy``."""
    late = recording.click_offset_ms + 300
    body = json.dumps(recording.events if events is None else events)

    def serve(route: Route) -> None:
        path = route.request.url.removeprefix(ORIGIN).split("?", 1)[0]
        if path == "/replay/":
            route.fulfill(
                body=player_page(late),
                content_type="text/html",
                headers={"content-security-policy": policy},
            )
        elif path == "/replay/events.json":
            route.fulfill(body=body, content_type="application/json")
        elif path.startswith("/static/") and ".." not in path:
            file = STATIC_DIR / path.removeprefix("/static/")
            route.fulfill(body=file.read_bytes(), content_type=TYPES[file.suffix])
        else:
            route.fulfill(status=404, body="not found")

    context = chromium.new_context(viewport={"width": 1200, "height": 900})
    context.route(f"{ORIGIN}/**", serve)
    return context


@pytest.fixture
def replay(chromium: Browser, recording: Recording) -> Iterator[Page]:
    context = open_player(chromium, recording, REPLAY_CONTENT_SECURITY_POLICY)
    page = context.new_page()
    problems = PageProblems(page)
    page.goto(f"{ORIGIN}/replay/")
    page.wait_for_selector("#replay-player[data-state='paused']")
    yield page
    context.close()
    assert problems.console_errors == [], problems.console_errors


def replayed_page(page: Page) -> Any:
    return page.frame_locator("#replay-player .replay-stage iframe")


def test_the_recorded_page_is_rebuilt_with_its_styles(replay: Page, recording: Recording) -> None:
    frame = replayed_page(replay)
    replay.click("#seek-late")
    assert frame.locator("#added").text_content() == "Payment failed"
    assert frame.locator("h1").text_content() == "Checkout"
    # The <style> element and the style attribute both apply: inline styles render.
    assert frame.locator("h1").evaluate("e => getComputedStyle(e).color") == "rgb(200, 0, 0)"
    assert frame.locator("#added").evaluate("e => getComputedStyle(e).fontWeight") == "700"
    assert frame.locator("#box").evaluate("e => getComputedStyle(e).width") == "123px"
    # What was typed was masked when recorded, so the replay cannot show it.
    typed = frame.locator("#card").input_value()
    assert typed and set(typed) == {"*"} and TYPED not in json.dumps(recording.events)
    # rrweb's iframe may not run scripts: the recorded page's, or anyone's.
    sandbox = replay.locator("#replay-player iframe").get_attribute("sandbox") or ""
    assert "allow-same-origin" in sandbox and "allow-scripts" not in sandbox


def test_seeking_moves_the_replay_and_the_scrubber(replay: Page, recording: Recording) -> None:
    frame = replayed_page(replay)
    total = recording.total_ms
    assert replay.locator(".replay-scrubber").get_attribute("max") == str(total)
    assert frame.locator("h1").count() == 1
    assert frame.locator("#added").count() == 0, "the first frame is before the click"

    replay.click("#seek-late")
    frame.locator("#added").wait_for()
    assert frame.locator("#later").count() == 0, "300 ms after the click, before the later change"
    late = recording.click_offset_ms + 300
    assert replay.locator(".replay-scrubber").input_value() == str(late)
    player = "document.getElementById('replay-player').heliographReplay"
    assert abs(replay.evaluate(f"{player}.currentTime()") - late) < 50

    replay.click("#seek-start")
    frame.locator("#added").wait_for(state="detached")
    assert replay.locator(".replay-scrubber").input_value() == "0"
    assert replay.locator(".replay-time").text_content() == "0:00 / 0:0" + str(total // 1000)

    # The scrubber seeks too (dragged: an input event, then change).
    replay.locator(".replay-scrubber").fill(str(late))
    frame.locator("#added").wait_for()
    assert replay.locator("#replay-player").get_attribute("data-state") == "paused"


def test_play_speed_and_skip_controls(replay: Page, recording: Recording) -> None:
    speeds = replay.locator(".replay-speed")
    assert speeds.all_text_contents() == ["1x", "2x", "4x", "8x"]
    replay.click(".replay-speed[data-speed='8']")
    assert replay.locator(".replay-speed[aria-pressed='true']").text_content() == "8x"
    player = "document.getElementById('replay-player').heliographReplay"
    assert replay.evaluate(f"{player}.replayer.config.speed") == 8
    skip = replay.locator(".replay-skip input")
    assert skip.is_checked()
    skip.uncheck()
    assert replay.evaluate(f"{player}.replayer.config.skipInactive") is False

    replay.click(".replay-play")
    assert replay.locator(".replay-play").text_content() == "Pause"
    replay.wait_for_selector("#replay-player[data-state='finished']", timeout=10000)
    assert replayed_page(replay).locator("#added").count() == 1
    assert replayed_page(replay).locator("#later").count() == 1
    assert replay.locator(".replay-play").text_content() == "Replay"
    assert replay.locator(".replay-scrubber").input_value() == str(recording.total_ms)

    # Replay starts over; a seek while playing keeps playing.
    replay.click(".replay-play")
    replay.click("#seek-start")
    assert replay.locator("#replay-player").get_attribute("data-state") == "playing"
    replay.click(".replay-play")
    assert replay.locator("#replay-player").get_attribute("data-state") == "paused"


def test_under_the_strict_ui_policy_the_replay_loses_its_styles(
    chromium: Browser, recording: Recording
) -> None:
    """Why the replay page has a policy of its own: the UI's blocks the recorded styles."""
    context = open_player(chromium, recording, CONTENT_SECURITY_POLICY)
    try:
        page = context.new_page()
        refused: list[str] = []
        page.on("console", lambda m: refused.append(m.text) if "style" in m.text else None)
        page.goto(f"{ORIGIN}/replay/")
        page.wait_for_selector("#replay-player[data-state='paused']")
        h1 = replayed_page(page).locator("h1")
        assert h1.text_content() == "Checkout"
        assert h1.evaluate("e => getComputedStyle(e).color") != "rgb(200, 0, 0)"
        assert any("Content Security Policy" in text for text in refused), refused
    finally:
        context.close()


@pytest.mark.parametrize(
    ("events", "state", "message"),
    [
        ([], "empty", "nothing to play"),
        ({"detail": "no"}, "error", "not a list"),
    ],
)
def test_nothing_to_play_is_said_plainly(
    chromium: Browser, recording: Recording, events: Any, state: str, message: str
) -> None:
    context = open_player(chromium, recording, REPLAY_CONTENT_SECURITY_POLICY, events)
    try:
        page = context.new_page()
        page.goto(f"{ORIGIN}/replay/")
        page.wait_for_selector(f"#replay-player[data-state='{state}']")
        assert message in (page.locator("#replay-player").text_content() or "")
    finally:
        context.close()
