"""The delivery thread against a real store and a real HTTP receiver: alerts due at once
go out as one message, and a silent project's heartbeat fires once per interval."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest

from heliograph.alerts.delivery import AlertDelivery
from heliograph.alerts.rules import check_rule
from heliograph.store import open_store
from heliograph.store.base import DigestBatch, Project
from heliograph.store.contract import Store
from tests.contract.builders import error


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    posts: list[dict[str, Any]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            posts.append(orjson.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{http.server_address[1]}/hook", posts
    http.shutdown()
    http.server_close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path}/heliograph.sqlite3")
    yield opened
    opened.close()


def _project(store: Store) -> Project:
    org = store.create_organization("acme", "Acme")
    return store.create_project(org.id, "shop", "Shop")


def test_alerts_due_together_are_one_message(
    store: Store, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    url, posts = receiver
    project = _project(store)
    raw = {"name": "new", "trigger": "new_issue", "actions": [{"type": "webhook", "url": url}]}
    store.create_alert_rule(project.id, check_rule(raw), user_id=None)
    store.record(DigestBatch(errors=[error(project.id, g) for g in ("a", "b", "c")]))
    delivery = AlertDelivery(store, base_url="https://heliograph.example", smtp=None)
    assert delivery.run_once() == 3
    [body] = posts
    assert body["count"] == 3 and len(body["alerts"]) == 3
    assert {a["issue"]["title"] for a in body["alerts"]} == {
        "ValueError: a", "ValueError: b", "ValueError: c"
    }  # fmt: skip
    assert all(a["url"].startswith("https://heliograph.example/issues/") for a in body["alerts"])
    statuses = {d.status for n in store.alert_history(project.id) for d in n.deliveries}
    assert statuses == {"sent"}
    assert delivery.run_once() == 0


def test_a_silent_project_fires_its_heartbeat_once_per_interval(
    store: Store, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    url, posts = receiver
    project = _project(store)
    raw = {"name": "beat", "trigger": "heartbeat", "window": 600, "interval": 3600,
           "actions": [{"type": "slack", "url": url}]}  # fmt: skip
    rule = store.create_alert_rule(project.id, check_rule(raw), user_id=None)
    delivery = AlertDelivery(store, base_url="https://heliograph.example", smtp=None)
    now = time.time()
    store.record(DigestBatch(errors=[error(project.id, "x", at=now)]))
    assert delivery.check_heartbeats(now + 60) == 0  # events a minute ago
    assert delivery.check_heartbeats(now + 601) == 1  # silent for the window
    assert delivery.check_heartbeats(now + 1200) == 0  # once per interval
    delivery.run_once()
    [body] = posts
    assert "No events received" in body["text"] and "Shop" in body["text"]
    store.update_alert_rule(rule.id, check_rule({"enabled": False}, rule))
    assert delivery.check_heartbeats(now + 99_999) == 0
