"""The browser snippet's session recording in Chromium: when it records, what it sends, what never.

Heliograph is played by Playwright's request interception on a made-up
origin (the snippet and rrweb from ``static/``, the remote config each test
wants, and every POST kept), so each rule is checked alone and fast; the
end-to-end test against a live server is ``tests/e2e/test_snippet_replay.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route

from heliograph.web.templating import STATIC_DIR

pytestmark = pytest.mark.ui

HOST = "http://heliograph.test"
SITE = "http://shop.test"
TYPED = "4111-secret-card"
HEADING = "Order for Ada Lovelace"
MASKING = {
    "maskAllInputs": True,
    "maskTextSelector": "*",
    "blockSelector": "img, image, svg, canvas, video, audio, picture, iframe, object, embed",
}


def recording_config(**overrides: Any) -> dict[str, Any]:
    config = {"endpoint": "/s/", "sampleRate": "1.00", "minimumDurationMilliseconds": 0,
              "recordCanvas": False, "masking": dict(MASKING)}  # fmt: skip
    config.update(overrides)
    return config


def site_page(attributes: str = "") -> str:
    return f"""<!doctype html><html><head><title>Shop</title>
<script src="{HOST}/static/heliograph.js" data-api-key="phc_test" data-host="{HOST}"
  {attributes} defer></script></head>
<body><h1>{HEADING}</h1><img id="photo" src="{SITE}/ada.png" alt="">
<input id="card" type="text"><textarea id="note"></textarea>
<button id="buy" type="button">Buy</button>
<script>document.getElementById("buy").addEventListener("click", function () {{
  var p = document.createElement("p"); p.textContent = "Thanks"; document.body.appendChild(p);
}});</script></body></html>"""


@dataclass
class Heliograph:
    """What the page sent to the pretend server, by path."""

    config: Any
    posts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    content_types: list[str] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)

    def serve(self, route: Route) -> None:
        request = route.request
        path = request.url.removeprefix(HOST).split("?", 1)[0]
        self.asked.append(path)
        cors = {"access-control-allow-origin": "*"}
        if request.method == "POST":
            self.posts.setdefault(path, []).append(json.loads(request.post_data or "{}"))
            self.content_types.append(request.headers.get("content-type", ""))
            route.fulfill(body='{"status": 1}', content_type="application/json", headers=cors)
        elif path.startswith("/array/"):
            answer = {"sessionRecording": self.config}
            route.fulfill(body=json.dumps(answer), content_type="application/json", headers=cors)
        elif path in ("/static/heliograph.js", "/static/vendor/rrweb.min.js"):
            body = (STATIC_DIR / path.removeprefix("/static/")).read_bytes()
            route.fulfill(body=body, content_type="application/javascript", headers=cors)
        else:
            route.fulfill(status=404, body="")

    def snapshots(self) -> list[dict[str, Any]]:
        return [event for body in self.posts.get("/s/", []) for event in body["batch"]]

    def rrweb_events(self) -> list[dict[str, Any]]:
        return [e for s in self.snapshots() for e in s["properties"]["$snapshot_data"]]

    def events(self) -> list[dict[str, Any]]:
        return [event for body in self.posts.get("/batch/", []) for event in body["batch"]]


@pytest.fixture
def open_site(chromium: Browser) -> Iterator[Any]:
    contexts = []

    def open_site(config: Any, attributes: str = "") -> tuple[Page, Heliograph]:
        server = Heliograph(config)
        context = chromium.new_context()
        contexts.append(context)
        context.route(f"{HOST}/**", server.serve)
        context.route(f"{SITE}/**", lambda route: route.fulfill(
            body=site_page(attributes) if route.request.url.endswith("/") else b"",
            content_type="text/html" if route.request.url.endswith("/") else "image/png",
        ))  # fmt: skip
        page = context.new_page()
        page.goto(f"{SITE}/")
        page.wait_for_function("window.heliograph && window.heliograph.getSessionId")
        return page, server

    yield open_site
    for context in contexts:
        context.close()


def interact(page: Page) -> None:
    page.click("#card")
    page.keyboard.type(TYPED, delay=5)
    page.fill("#note", TYPED)
    page.click("#buy")


def wait_for_snapshots(page: Page, server: Heliograph, timeout_s: float = 8) -> None:
    for _ in range(int(timeout_s * 10)):
        if server.snapshots():
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"no $snapshot arrived; asked {server.asked}")


def test_a_recording_goes_to_s_as_snapshot_events_masked(open_site: Any) -> None:
    page, server = open_site(recording_config())
    interact(page)
    page.wait_for_timeout(2500)  # one flush interval after the typing
    wait_for_snapshots(page, server)
    snapshot = server.snapshots()[0]
    assert snapshot["event"] == "$snapshot" and snapshot["distinct_id"]
    properties = snapshot["properties"]
    assert properties["$lib"] == "heliograph-js"
    data = properties["$snapshot_data"]
    assert {4, 2} <= {event["type"] for event in data}, "meta and full snapshot first"
    assert properties["$snapshot_bytes"] >= len(json.dumps(data)) // 2
    assert all(body["api_key"] == "phc_test" for body in server.posts["/s/"])
    assert all(kind.startswith("text/plain") for kind in server.content_types)
    # The recording and the page's events share the session and window ids.
    pageview = next(e for e in server.events() if e["event"] == "$pageview")
    assert pageview["properties"]["$session_id"] == properties["$session_id"]
    assert pageview["properties"]["$window_id"] == properties["$window_id"]
    assert properties["$session_id"] == page.evaluate("heliograph.getSessionId()")
    assert properties["$session_id"][14] == "7", "a UUIDv7"
    # Typed text, page text and images never leave the page.
    sent = json.dumps(server.posts["/s/"])
    assert TYPED not in sent and HEADING not in sent and "ada.png" not in sent
    assert any(e["type"] == 3 and e["data"]["source"] == 5 for e in server.rrweb_events())
    # rrweb came from Heliograph, and the page's own window.rrweb is untouched.
    assert "/static/vendor/rrweb.min.js" in server.asked
    assert page.evaluate("typeof window.rrweb") == "undefined"


def test_inputs_stay_masked_when_the_project_keeps_text_and_media(open_site: Any) -> None:
    page, server = open_site(recording_config(masking={"maskAllInputs": False}))
    interact(page)
    page.wait_for_timeout(2500)
    wait_for_snapshots(page, server)
    sent = json.dumps(server.posts["/s/"])
    assert HEADING in sent and "ada.png" in sent
    assert TYPED not in sent


@pytest.mark.parametrize(
    ("config", "attributes"),
    [
        (recording_config(), 'data-replay="off"'),
        (False, ""),
        (recording_config(sampleRate="0.00"), ""),
        (recording_config(), 'data-replay-consent="required"'),
    ],
    ids=["data-replay-off", "project-does-not-record", "sampled-out", "no-consent-yet"],
)
def test_nothing_is_recorded(open_site: Any, config: Any, attributes: str) -> None:
    page, server = open_site(config, attributes)
    interact(page)
    page.wait_for_timeout(2500)
    assert "/s/" not in server.posts
    assert "/static/vendor/rrweb.min.js" not in server.asked
    assert ("/array/phc_test/config" in server.asked) is (not attributes)
    page.wait_for_function("document.querySelectorAll('p').length")  # the page still works
    page.evaluate("heliograph.flush()")
    page.wait_for_timeout(200)
    assert any(e["event"] == "$pageview" for e in server.events())


def test_consent_starts_and_stops_the_recording(open_site: Any) -> None:
    page, server = open_site(recording_config(), 'data-replay-consent="required"')
    interact(page)
    page.evaluate("heliograph.setReplayConsent(true)")
    page.wait_for_timeout(300)
    page.click("#buy")
    wait_for_snapshots(page, server)
    assert {2} <= {e["type"] for e in server.rrweb_events()}
    assert TYPED not in json.dumps(server.posts["/s/"])
    # Withdrawn: stopped at once, what was not sent is dropped, nothing more goes out.
    page.click("#buy")
    page.evaluate("heliograph.setReplayConsent(false)")
    sent = len(server.posts["/s/"])
    page.click("#buy")
    page.mouse.move(10, 10)
    page.wait_for_timeout(2600)
    assert len(server.posts["/s/"]) == sent


def test_a_session_shorter_than_the_minimum_is_held_then_sent(open_site: Any) -> None:
    page, server = open_site(recording_config(minimumDurationMilliseconds=3500))
    interact(page)
    page.wait_for_timeout(2600)
    assert "/s/" not in server.posts, "held while the session is under 3.5 s"
    wait_for_snapshots(page, server)
    assert 2 in {e["type"] for e in server.rrweb_events()}, "nothing held was lost"


def test_leaving_the_page_sends_the_rest_with_a_beacon(open_site: Any) -> None:
    page, server = open_site(recording_config())
    for _ in range(50):  # until rrweb is loaded and recording
        if "/static/vendor/rrweb.min.js" in server.asked:
            break
        page.wait_for_timeout(100)
    page.wait_for_timeout(300)
    page.click("#buy")
    beacons: list[str] = []
    page.on("request", lambda r: beacons.append(r.url) if r.resource_type == "ping" else None)
    # What the browser fires on the way out (a real navigation would take the
    # beacon out of Playwright's sight).
    page.evaluate("window.dispatchEvent(new PageTransitionEvent('pagehide'))")
    page.wait_for_timeout(500)
    assert server.snapshots(), "the recording so far left with the page"
    assert f"{HOST}/s/" in beacons, beacons
    assert 2 in {e["type"] for e in server.rrweb_events()}
