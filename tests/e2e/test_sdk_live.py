"""heliograph-sdk against a live server: what it sends, the server understands."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.backends.sqlite.on_disk import sql_scalar
from tests.conftest import LiveServer
from tests.stores import llm_analytics, server_store

pytestmark = pytest.mark.e2e
APP = Path(__file__).with_name("sdk_app.py")


def test_sdk_errors_generations_and_events_arrive(live_server: LiveServer) -> None:
    env = {
        **os.environ,
        "HELIOGRAPH_API_KEY": live_server.public_key,
        "HELIOGRAPH_HOST": live_server.url,
        "HELIOGRAPH_ENVIRONMENT": "staging",
        "HELIOGRAPH_RELEASE": "shop@3.1.0",
    }
    subprocess.run([sys.executable, str(APP)], env=env, check=True, timeout=60)
    live_server.wait_for_digest()
    with live_server.api() as api:
        issues = api.get(
            "/api/0/projects/default/default/issues/", params={"query": "is:all"}
        ).json()
        titles = {i["title"]: i for i in issues}
        error = next(i for t, i in titles.items() if t.startswith("ValueError"))
        latest = api.get(f"/api/0/issues/{error['id']}/events/latest/").json()
    assert error["culprit"].endswith("parse_order")
    assert latest["environment"] == "staging"
    assert latest["release"]["version"] == "shop@3.1.0"
    assert latest["traceId"], "an exception inside a trace carries its trace id"
    assert any(t.startswith("Inventory sync is lagging") for t in titles)

    # order_placed is no LLM event: the contract lists none of those, so it is found on disk.
    order_id = sql_scalar(
        live_server.data_dir, "SELECT event_id FROM events WHERE name = ?", "order_placed"
    )
    assert isinstance(order_id, str), "no order_placed event stored"
    with server_store(live_server) as store:
        llm = llm_analytics(store, live_server.project_id, "$ai_generation", "$ai_trace")
        order = store.get_event(live_server.project_id, order_id)
    by_name = {event.name: event for event in reversed(llm)}  # the newest wins
    generation = by_name["$ai_generation"].properties
    assert generation["$ai_input_tokens"] == 1200
    assert generation["$ai_total_cost_usd"] > 0
    assert by_name["$ai_generation"].trace_id == latest["traceId"]
    assert by_name["$ai_trace"].properties["verdict"] == "failed"
    assert order is not None and order.event.environment == "staging"
