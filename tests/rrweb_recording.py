"""A real rrweb recording, made in Chromium with the rrweb Heliograph serves.

``record_session(browser)`` loads a small page on a made-up origin (served by
Playwright's request interception, no server), records it with
``static/vendor/rrweb.min.js``, types into an input, clicks a button that adds
a paragraph (and another 600 ms later), and returns the rrweb events and when
the click happened. The player tests replay it; ingest tests may post it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from playwright.sync_api import Browser, Route

from heliograph.web.templating import STATIC_DIR

RECORDED_ORIGIN = "http://recorded.test"
TYPED = "hunter2-secret"
# Inline styles of both kinds: a <style> element and a style="" attribute, which a
# replay under the UI's strict CSP cannot apply.
RECORDED_PAGE = f"""<!doctype html><html><head><title>Recorded</title>
<style>h1 {{ color: rgb(200, 0, 0); }} .late {{ font-weight: 700; }}</style>
<script src="{RECORDED_ORIGIN}/rrweb.min.js"></script></head>
<body><h1>Checkout</h1>
<div id="box" style="width: 123px; height: 20px; background: rgb(0, 0, 200)"></div>
<label>Card <input id="card" type="text" autocomplete="off"></label>
<button id="pay" type="button">Pay</button>
<script>
  window.recorded = [];
  rrweb.record({{emit: function (event) {{ window.recorded.push(event); }}, maskAllInputs: true}});
  document.getElementById("pay").addEventListener("click", function () {{
    var p = document.createElement("p");
    p.id = "added"; p.className = "late"; p.textContent = "Payment failed";
    document.body.appendChild(p);
    setTimeout(function () {{  // a later change: seeking between the two shows one
      var later = document.createElement("p");
      later.id = "later"; later.textContent = "Try another card";
      document.body.appendChild(later);
    }}, 600);
  }});
</script></body></html>"""


@dataclass
class Recording:
    events: list[dict[str, Any]]
    click_offset_ms: int  # the click, in ms from the first event

    @property
    def total_ms(self) -> int:
        return int(self.events[-1]["timestamp"] - self.events[0]["timestamp"])


def _serve(route: Route) -> None:
    if route.request.url.endswith("/rrweb.min.js"):
        body = (STATIC_DIR / "vendor" / "rrweb.min.js").read_bytes()
        route.fulfill(body=body, content_type="application/javascript")
    else:
        route.fulfill(body=RECORDED_PAGE, content_type="text/html")


def record_session(browser: Browser) -> Recording:
    context = browser.new_context(viewport={"width": 800, "height": 500})
    try:
        context.route(f"{RECORDED_ORIGIN}/**", _serve)
        page = context.new_page()
        page.goto(f"{RECORDED_ORIGIN}/checkout")
        page.wait_for_function("window.recorded && window.recorded.length >= 2")
        page.wait_for_timeout(300)
        page.click("#card")
        page.keyboard.type(TYPED, delay=20)
        page.wait_for_timeout(300)
        clicked = page.evaluate("Date.now()")
        page.click("#pay")
        page.wait_for_selector("#later")
        page.wait_for_timeout(100)
        events: list[dict[str, Any]] = page.evaluate("window.recorded")
    finally:
        context.close()
    return Recording(events, int(clicked - events[0]["timestamp"]))
