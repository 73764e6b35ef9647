"""The web analytics dashboard, the events explorer and the people pages, in Chromium.

Events go in over HTTP as posthog-js would send them (``/batch/``), through
ingest and digest; the pages must show them, and survive hostile queries.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page

from tests.conftest import LiveServer
from tests.ui.conftest import PageProblems, session_client

BASE = "/default/default"


def _event(name: str, distinct_id: str, at: float, **properties: Any) -> dict[str, Any]:
    return {
        "event": name,
        "distinct_id": distinct_id,
        "uuid": str(uuid.uuid4()),
        "timestamp": datetime.fromtimestamp(at, UTC).isoformat(),
        "properties": {"$lib": "web", **properties},
    }


@pytest.fixture(scope="module")
def seeded(live_server: LiveServer) -> LiveServer:
    now = time.time()
    firefox = {"$browser": "Firefox", "$os": "Linux", "$device_type": "Desktop"}
    batch = [
        _event("$pageview", "anon-ui", now - 300, **firefox, **{
            "$session_id": "sess-1", "$pathname": "/pricing",
            "$referring_domain": "news.example", "$current_url": "https://shop.example/pricing",
        }),
        _event("$pageview", "anon-ui", now - 290, **firefox, **{
            "$session_id": "sess-1", "$pathname": "/checkout",
        }),
        _event("$pageview", "other-ui", now - 280, **{
            "$session_id": "sess-2", "$pathname": "/pricing", "$referrer": "$direct",
        }),
        _event("$identify", "ada-ui", now - 200, **{
            "$anon_distinct_id": "anon-ui", "$set": {"email": "ada@ui.example", "plan": "pro"},
        }),
        _event("purchase", "ada-ui", now - 100, plan="pro", amount=42),
        _event("purchase", "other-ui", now - 90, plan="free", amount=1),
    ]  # fmt: skip
    response = httpx.post(
        f"{live_server.url}/batch/", json={"api_key": live_server.public_key, "batch": batch}
    )
    assert response.status_code == 200, response.text
    live_server.wait_for_digest()
    return live_server


@pytest.fixture
def tab(admin_session: BrowserContext, seeded: LiveServer) -> Iterator[Page]:
    page = admin_session.new_page()
    problems = PageProblems(page)
    yield page
    page.close()
    assert problems.dialogs == [] and problems.console_errors == [], problems.console_errors


def test_dashboard_shows_visitors_pageviews_sessions_and_tops(tab: Page) -> None:
    tab.goto(f"{BASE}/web/")
    assert tab.locator("[data-kpi=pageviews]").inner_text().startswith("3")
    assert tab.locator("[data-kpi=visitors]").inner_text().startswith("2")
    assert tab.locator("[data-kpi=sessions]").inner_text().startswith("2")
    assert tab.locator("[data-kpi=bounce-rate]").inner_text().startswith("50")
    pricing = tab.locator('#top-page tr[data-value="/pricing"] td')
    assert pricing.nth(1).inner_text() == "2"
    assert tab.locator('#top-referrer tr[data-value="news.example"]').count() == 1
    assert tab.locator('#top-browser tr[data-value="Firefox"]').count() == 1
    tab.get_by_role("link", name="7d").click()
    assert "range=7d" in tab.url
    assert tab.locator("[data-kpi=pageviews]").inner_text().startswith("3")
    assert tab.locator("nav.mainnav a.active").inner_text() == "Web"


def test_countries_are_listed_only_where_some_are_known(tab: Page, seeded: LiveServer) -> None:
    tab.goto(f"{BASE}/web/")
    assert tab.locator("#top-country").count() == 0
    assert "HELIOGRAPH_GEOIP_DB" in tab.locator("main").inner_text()
    # A server SDK that knows its user's country, ten days ago: only the 30-day range has it.
    pageview = _event("$pageview", "geo-ui", time.time() - 10 * 86400, **{
        "$session_id": "sess-geo", "$pathname": "/de", "$geoip_country_code": "DE",
    })  # fmt: skip
    response = httpx.post(
        f"{seeded.url}/batch/", json={"api_key": seeded.public_key, "batch": [pageview]}
    )
    assert response.status_code == 200, response.text
    seeded.wait_for_digest()
    tab.goto(f"{BASE}/web/?range=30d")
    germany = tab.locator('#top-country tr[data-value="DE"] td')
    assert germany.first.inner_text() == "Germany"  # the code, named in the browser
    assert germany.nth(1).inner_text() == "1"
    assert "HELIOGRAPH_GEOIP_DB" not in tab.locator("main").inner_text()
    tab.goto(f"{BASE}/web/?range=7d")
    assert tab.locator("#top-country").count() == 0


def test_explorer_filters_breaks_down_and_opens_an_event(tab: Page) -> None:
    tab.goto(f"{BASE}/events/")
    tab.select_option("#event-name", "purchase")
    tab.fill("#new-filter-key", "plan")
    tab.select_option("#new-filter-op", "eq")
    tab.fill("#new-filter-value", "pro")
    tab.fill("#breakdown-by", "amount")
    tab.get_by_role("button", name="Apply").click()
    tab.wait_for_url("**by=amount**")  # the filtered page, not the one it leaves
    rows = tab.locator("#event-list tbody tr[data-event-id]")
    assert rows.count() == 1
    assert tab.locator("[data-total]").inner_text() == "1"
    assert tab.locator('#breakdown tr[data-breakdown-value="42"]').count() == 1
    rows.first.locator("a").first.click()
    assert "/events/" in tab.url
    assert '"amount": 42' in tab.locator("#event-properties").inner_text()
    tab.locator("#event-person").click()
    assert "/people/" in tab.url


def test_people_search_and_person_page(tab: Page) -> None:
    tab.goto(f"{BASE}/people/?q=UI.EXAMPLE")
    people = tab.locator("#people-list tr[data-person-id]")
    assert people.count() == 1
    people.first.locator("a").click()
    assert tab.locator("h1").inner_text() == "ada@ui.example"
    ids = {el.inner_text().split(" ")[0] for el in tab.locator("[data-distinct-id]").all()}
    assert ids == {"anon-ui", "ada-ui"}
    assert tab.locator('#person-properties tr[data-property="plan"] td').inner_text() == "pro"
    names = [el.get_attribute("data-event-name") for el in tab.locator("#person-events tr").all()]
    assert names.count("$pageview") == 2 and "purchase" in names
    replays = tab.locator("#replays-link").get_attribute("href") or ""
    assert replays.startswith(f"{BASE}/replays/?person=")
    assert replays.rsplit("=", 1)[1] in ids


@pytest.mark.parametrize(
    "path",
    [
        "/events/?op=drop&key=x",
        "/events/?key=" + "k" * 5000,
        "/events/?cursor=%00%ff",
        "/events/?range=forever&by=%00",
        "/people/?cursor=nope",
        "/people/?cursor=1.0:99999999999999999999",
        "/events/?cursor=1.0:-1",
        "/events/?cursor=nan:1",
        "/people/?cursor=inf:1",
        "/people/99999999999999999999999/",
        "/people/abc/",
        "/events/nonexistent/",
    ],
)
def test_hostile_queries_are_refused_not_crashed(seeded: LiveServer, path: str) -> None:
    client = session_client(seeded)
    try:
        response = client.get(BASE + path)
    finally:
        client.close()
    assert response.status_code in (400, 404), (path, response.status_code)
