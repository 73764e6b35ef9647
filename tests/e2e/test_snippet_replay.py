"""The browser snippet records a session into a live Heliograph server; what is typed stays home.

A real server; a shop page on another origin (its own little HTTP server)
loads ``/static/heliograph.js`` from Heliograph, which loads rrweb from
Heliograph too. Chromium types a card number and clicks; every request the
page makes to Heliograph is watched (``page.on("request")``). Asserted here
is the wire: ``$snapshot`` events with rrweb data in ``/s/`` POSTs, answered
200, joined to the pageview by ``$session_id``, and the typed text in no
request body at all. Where the recordings are stored is the ingest side's
business and its own tests'.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Request, Response, Route, sync_playwright

from tests.conftest import LiveServer
from tests.customer_site import HTML, customer_site

pytestmark = pytest.mark.e2e

TYPED = "4242-4242-typed-secret"
# What the server answers a project that records with its default privacy
# (docs/sdk.md); used when this server's project does not record yet.
RECORDING = {
    "endpoint": "/s/",
    "sampleRate": "1.00",
    "minimumDurationMilliseconds": 0,
    "recordCanvas": False,
    "masking": {
        "maskAllInputs": True,
        "maskTextSelector": "*",
        "blockSelector": "img, image, svg, canvas, video, audio, picture, iframe, object, embed",
    },
}

SHOP = """<!doctype html><html><head><title>Shop</title>
<script src="{host}/static/heliograph.js" data-api-key="{key}" data-host="{host}"
        data-environment="e2e" defer></script></head>
<body><h1>Checkout</h1>
<label>Card <input id="card" autocomplete="off"></label>
<button id="pay" type="button">Pay</button>
<script>
  document.getElementById("pay").addEventListener("click", function () {
    var p = document.createElement("p"); p.id = "done"; p.textContent = "Paid";
    document.body.appendChild(p);
  });
</script></body></html>"""


@pytest.fixture(scope="module")
def shop(live_server: LiveServer) -> Iterator[str]:
    """The customer's site: another origin than Heliograph's."""
    page = SHOP.replace("{host}", live_server.url).replace("{key}", live_server.public_key)

    with customer_site({"/": (page, HTML)}) as url:
        yield url


def test_the_snippet_sends_masked_snapshots_to_s(live_server: LiveServer, shop: str) -> None:
    config_url = f"{live_server.url}/array/{live_server.public_key}/config"
    served = httpx.get(config_url).json().get("sessionRecording")
    sent: list[tuple[str, str | None]] = []  # (url, body) of every request to Heliograph
    answers: dict[str, list[int]] = {}

    def on_request(request: Request) -> None:
        if request.url.startswith(live_server.url):
            sent.append((request.url, request.post_data))

    def on_response(response: Response) -> None:
        if response.url.startswith(live_server.url):
            answers.setdefault(response.url.split("?")[0], []).append(response.status)

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--headless=new"],
        )
        try:
            page = browser.new_page()
            if not isinstance(served, dict):
                # The project does not record (yet): answer its config as one that does.
                def config(route: Route) -> None:
                    route.fulfill(
                        body=json.dumps({"sessionRecording": RECORDING}),
                        content_type="application/json",
                        headers={"access-control-allow-origin": "*"},
                    )

                page.route(f"{config_url}*", config)
            page.on("request", on_request)
            page.on("response", on_response)
            page.goto(shop)
            page.wait_for_function("window.heliograph && window.heliograph.getSessionId")
            rrweb = f"{live_server.url}/static/vendor/rrweb.min.js"
            page.wait_for_function(  # loaded from Heliograph, cross-origin
                f"performance.getEntriesByType('resource').some(e => e.name.startsWith('{rrweb}'))"
            )
            page.wait_for_timeout(300)
            page.click("#card")
            page.keyboard.type(TYPED, delay=10)
            page.click("#pay")
            page.wait_for_selector("#done")
            page.evaluate("heliograph.flush()")
            snapshots_url = f"{live_server.url}/s/"
            for _ in range(80):  # a flush every ~2 s
                if answers.get(snapshots_url):
                    break
                page.wait_for_timeout(100)
            page.wait_for_timeout(2500)  # and the batch with the typing in it
            session_id = page.evaluate("heliograph.getSessionId()")
        finally:
            browser.close()

    assert answers.get(snapshots_url), f"no /s/ request: {[url for url, _ in sent]}"
    assert set(answers[snapshots_url]) == {200}
    assert answers[rrweb.split("?")[0]] == [200]
    bodies = [json.loads(body or "{}") for url, body in sent if url.startswith(snapshots_url)]
    snapshots = [event for body in bodies for event in body["batch"]]
    assert all(body["api_key"] == live_server.public_key for body in bodies)
    assert snapshots and all(event["event"] == "$snapshot" for event in snapshots)
    rrweb_events = [e for s in snapshots for e in s["properties"]["$snapshot_data"]]
    assert {2, 4} <= {e["type"] for e in rrweb_events}, "a meta event and a full snapshot"
    inputs = [e for e in rrweb_events if e["type"] == 3 and e["data"]["source"] == 5]
    assert inputs and all(set(e["data"]["text"]) <= {"*"} for e in inputs), "typing, masked"
    assert {s["properties"]["$session_id"] for s in snapshots} == {session_id}

    # The pageview (and every other event) carries the same session.
    events = [
        event
        for url, body in sent
        if url.startswith(f"{live_server.url}/batch/")
        for event in json.loads(body or "{}")["batch"]
    ]
    pageview = next(e for e in events if e["event"] == "$pageview")
    assert pageview["properties"]["$session_id"] == session_id
    assert pageview["properties"]["$window_id"] == snapshots[0]["properties"]["$window_id"]

    # What was typed is in no request the page made to Heliograph.
    for url, body in sent:
        assert TYPED not in (body or "") and TYPED not in url, url
