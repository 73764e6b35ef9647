"""Browser, OS and device of an error: what the SDK said wins, the User-Agent fills in."""

from __future__ import annotations

import time

from heliograph.digest.client_context import apply_client_context, user_agent_of
from heliograph.model import Event

CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.6099.109 Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)


def error(**fields: object) -> Event:
    now = time.time()
    return Event(project_id=1, event_id="e" * 32, timestamp=now, received_at=now, **fields)  # type: ignore[arg-type]


def test_a_sentry_events_user_agent_becomes_contexts_and_tags() -> None:
    event = error(request={"url": "https://shop.example/", "headers": {"User-Agent": CHROME_MAC}})
    apply_client_context(event)
    assert event.contexts["browser"] == {"type": "browser", "name": "Chrome",
                                         "version": "120.0.6099"}  # fmt: skip
    assert event.contexts["os"] == {"type": "os", "name": "Mac OS X", "version": "10.15.7"}
    assert event.contexts["device"]["brand"] == "Apple"
    assert event.tags["browser"] == "Chrome 120.0.6099"
    assert event.tags["browser.name"] == "Chrome"
    assert event.tags["os.name"] == "Mac OS X"
    assert event.tags["device"] == "Mac"


def test_headers_as_pairs_and_any_case() -> None:
    event = error(request={"headers": [["accept", "*/*"], ["user-agent", SAFARI_IPHONE]]})
    assert user_agent_of(event) == SAFARI_IPHONE
    apply_client_context(event)
    assert event.tags["browser.name"] == "Mobile Safari"
    assert event.tags["os"] == "iOS 17.1"
    assert event.tags["device"] == "iPhone"


def test_what_the_client_said_wins() -> None:
    event = error(
        request={"headers": {"User-Agent": CHROME_MAC}},
        contexts={"browser": {"name": "Electron", "version": "28"}},
        tags={"os": "custom"},
        properties={"$os": "Windows", "$os_version": "11"},
    )
    apply_client_context(event)
    assert event.contexts["browser"] == {"name": "Electron", "version": "28"}
    assert event.contexts["os"] == {"type": "os", "name": "Windows", "version": "11"}
    assert event.tags["browser"] == "Electron 28"
    assert event.tags["os"] == "custom"  # a tag the SDK set stays
    assert event.tags["os.name"] == "Windows"


def test_posthog_js_raw_user_agent_and_nonsense() -> None:
    event = error(properties={"$raw_user_agent": SAFARI_IPHONE, "$browser": "Mobile Safari",
                              "$browser_version": 17.1})  # fmt: skip
    apply_client_context(event)
    assert event.contexts["browser"]["version"] == "17.1"
    assert event.contexts["device"]["family"] == "iPhone"
    junk = error(request={"headers": {"User-Agent": "\x00" * 5000}}, properties={})
    apply_client_context(junk)
    assert "browser" not in junk.contexts and "browser" not in junk.tags
    bare = error()
    apply_client_context(bare)
    assert bare.contexts == {} and bare.tags == {}
