"""The real posthog-js in Chromium: pageviews, identify and $set reach the web and people pages."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import LiveServer, launch
from tests.customer_site import HTML, JAVASCRIPT, customer_site
from tests.js_clients import require
from tests.ui.conftest import session_client

pytestmark = pytest.mark.e2e

PAGE = """<!doctype html><html><head><title>shop</title>
<script src="/posthog.js"></script>
<script>
  posthog.init("{key}", {api_host: "{host}", opt_out_useragent_filter: true,
                         person_profiles: "identified_only", disable_session_recording: true,
                         request_batching: false, advanced_disable_decide: true});
  posthog.identify("ada-e2e", {email: "ada@e2e.example"}, {first_plan: "free"});
  posthog.setPersonProperties({plan: "team"});
  posthog.capture("$pageview", {$current_url: location.origin + "/pricing"});
  window.done = true;
</script></head><body>shop</body></html>"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    found = launch(tmp_path_factory.mktemp("web"))
    yield found
    found.stop()


def _until(read: Any, check: Any, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = str(read())
        if check(text) or time.monotonic() > deadline:
            return text
        time.sleep(0.5)


def test_posthog_js_pageviews_identify_and_set_show_up(server: LiveServer) -> None:
    bundle = require("posthog-js") / "dist" / "array.full.js"
    playwright = pytest.importorskip("playwright.sync_api")
    html = PAGE.replace("{key}", server.public_key).replace("{host}", server.url)
    files = {"/": (html, HTML), "/posthog.js": (bundle.read_bytes(), JAVASCRIPT)}
    with customer_site(files) as site, playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page()
        page.goto(site)
        page.wait_for_function("window.done === true", timeout=20000)
        page.wait_for_timeout(3000)  # let posthog-js send what it queued
        browser.close()
    server.wait_for_digest()
    client = session_client(server)
    try:
        people = _until(
            lambda: client.get("/default/default/people/?q=ada%40e2e").text,
            lambda text: "ada@e2e.example" in text,
        )
        assert "ada@e2e.example" in people, people[-2000:]
        person_path = re.search(r'href="(/default/default/people/\d+/)"', people)
        assert person_path is not None
        person = _until(
            lambda: client.get(person_path.group(1)).text,
            lambda text: 'data-property="plan"' in text,
        )
        # identify's $set and $set_once, then setPersonProperties' $set.
        assert re.search(r'data-property="plan"><th[^>]*>plan</th><td>team</td>', person)
        assert re.search(
            r'data-property="first_plan"><th[^>]*>first_plan</th><td>free</td>', person
        )
        assert 'data-distinct-id="ada-e2e"' in person
        # The anonymous id posthog-js started with is merged into the person.
        assert len(re.findall(r"data-distinct-id=", person)) >= 2
        assert person.count('data-event-name="$pageview"') >= 2  # the automatic one and ours
        assert "/replays/?person=" in person
        dashboard = client.get("/default/default/web/?range=24h").text
        pageviews = re.search(r'data-kpi="pageviews">([\d,]+)', dashboard)
        assert pageviews is not None and int(pageviews.group(1).replace(",", "")) >= 2
        assert 'data-value="Chrome"' in dashboard or 'data-value="Chromium"' in dashboard
    finally:
        client.close()
