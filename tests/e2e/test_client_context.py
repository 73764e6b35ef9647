"""An error's browser, OS and device, read from its User-Agent, end to end."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import LiveServer
from tests.payloads import auth_header, envelope, sentry_event
from tests.unit.test_client_context import SAFARI_IPHONE

pytestmark = pytest.mark.e2e


def test_the_user_agent_becomes_cards_tags_and_a_search(live_server: LiveServer) -> None:
    event = sentry_event("tapped checkout on a phone", exc_type="CheckoutError",
                         request={"url": "https://shop.example/checkout",
                                  "headers": {"User-Agent": SAFARI_IPHONE}})  # fmt: skip
    sent = httpx.post(
        f"{live_server.url}/api/{live_server.project_id}/envelope/",
        content=envelope(event),
        headers=auth_header(live_server.public_key),
    )
    assert sent.status_code == 200
    live_server.wait_for_digest()
    with live_server.api() as api:
        found = api.get(
            "/api/0/projects/default/default/issues/",
            params={"query": 'browser.name:"Mobile Safari" os.name:iOS'},
        ).json()
        assert [issue["title"] for issue in found] == ["CheckoutError: tapped checkout on a phone"]
        stored = api.get(f"/api/0/projects/default/default/events/{event['event_id']}/").json()
    assert stored["contexts"]["browser"]["name"] == "Mobile Safari"
    assert stored["contexts"]["os"] == {"type": "os", "name": "iOS", "version": "17.1"}
    tags = {tag["key"]: tag["value"] for tag in stored["tags"]}
    assert tags["device"] == "iPhone" and tags["os"] == "iOS 17.1"
    page = httpx.get(f"{live_server.url}/issues/{found[0]['id']}/",
                     headers={"Authorization": f"Bearer {live_server.api_token}"})  # fmt: skip
    assert "Mobile Safari" in page.text and "iPhone" in page.text
