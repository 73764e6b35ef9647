"""Hostile payloads that once stopped digest for every project, sent over HTTP
to a live server: each is answered, and the ordinary events sent after them
are still digested and stored."""

from __future__ import annotations

import json
import sys
import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer
from tests.payloads import auth_header, sentry_event

pytestmark = pytest.mark.e2e


def nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(levels):
        value = {"x": value}
    return value


def store(server: LiveServer, event: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{server.url}/api/{server.project_id}/store/",
        content=json.dumps(event).encode(),
        headers=auth_header(server.public_key),
        timeout=30,
    )


def posthog_batch(server: LiveServer, events: list[dict[str, Any]]) -> httpx.Response:
    body = {"api_key": server.public_key, "batch": events}
    return httpx.post(f"{server.url}/batch/", content=json.dumps(body).encode(), timeout=30)


def generation(**properties: Any) -> dict[str, Any]:
    return {
        "event": "$ai_generation",
        "distinct_id": "user-1",
        "uuid": str(uuid.uuid4()),
        "properties": {"$ai_model": "gpt-4o-mini", "$ai_provider": "openai", **properties},
    }


def event_stored(server: LiveServer, event_id: str) -> bool:
    with server.api() as api:
        response = api.get(f"/api/0/projects/default/default/events/{event_id}/")
    return response.status_code == 200


def test_poison_payloads_leave_digest_running(live_server: LiveServer) -> None:
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 3000))
    # Deeper than digest keeps (20 levels), within what ingest accepts (100).
    deep = sentry_event("extra nested 60 deep", extra={"x": nested(60)})
    too_deep = sentry_event("extra nested 300 deep", extra={"x": nested(300)})
    assert store(live_server, too_deep).status_code == 400
    answers = [
        store(live_server, deep),
        posthog_batch(live_server, [generation(**{"$ai_input_tokens": 1e300})]),
        posthog_batch(live_server, [generation(**{"$ai_input_tokens": 18446744073709551615})]),
        posthog_batch(live_server, [generation(**{"$ai_http_status": 1e30})]),
        posthog_batch(
            live_server,
            [generation(**{"$ai_input_tokens": 2**62}), generation(**{"$ai_input_tokens": 2**62})],
        ),
    ]
    for answer in answers:
        assert answer.status_code < 500, answer.text
    after = sentry_event("sent after the poison")
    assert store(live_server, after).status_code == 200

    live_server.wait_for_digest(timeout=30)
    assert event_stored(live_server, after["event_id"])
    with live_server.api() as api:
        stored = api.get(f"/api/0/projects/default/default/events/{deep['event_id']}/")
    assert stored.status_code == 200
    assert "[nested too deep]" in stored.text
