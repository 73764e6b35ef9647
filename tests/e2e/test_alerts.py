"""Alerts end to end: real clients in, a real SMTP server and HTTP receivers out.

A live server (two acceptors, two digest workers) sends mail to an
in-process SMTP server (aiosmtpd) and posts to HTTP receivers on loopback.
The real sentry-sdk makes a new issue (one email, one signed webhook within
seconds), a regression (one), and a burst of 1,000 events of one issue (one
frequency alert); the real posthog client reports LLM spend past a threshold
(one); a receiver that always fails is retried and then recorded as failed;
and after the server restarts, nothing is sent twice.
"""

from __future__ import annotations

import hashlib
import hmac
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import LiveServer, free_port, launch, start_server

pytestmark = pytest.mark.e2e
aiosmtpd = pytest.importorskip("aiosmtpd.controller")

SECRET = "webhook-secret-for-tests"
CHARGE = """
try:
    charge("4242")
except ValueError:
    sentry_sdk.capture_exception()
"""


@dataclass
class Received:
    """What the SMTP server and the HTTP receivers got."""

    mails: list[bytes] = field(default_factory=list)
    posts: dict[str, list[tuple[dict[str, str], bytes]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, path: str) -> int:
        with self.lock:
            return len(self.posts.get(path, []))

    def bodies(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [orjson.loads(body) for _, body in self.posts.get(path, [])]


class _Mailbox:
    def __init__(self, received: Received) -> None:
        self.received = received

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.received.lock:
            self.received.mails.append(envelope.content)
        return "250 OK"


@pytest.fixture(scope="module")
def received() -> Iterator[tuple[Received, int, str]]:
    """(what arrived, the SMTP port, the receivers' base URL)."""
    found = Received()
    smtp_port = free_port()
    smtp = aiosmtpd.Controller(_Mailbox(found), hostname="127.0.0.1", port=smtp_port)
    smtp.start()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with found.lock:
                found.posts.setdefault(self.path, []).append((dict(self.headers), body))
            self.send_response(500 if self.path == "/fail" else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    yield found, smtp_port, f"http://127.0.0.1:{http.server_address[1]}"
    http.shutdown()
    http.server_close()
    smtp.stop()


def _env(smtp_port: int) -> dict[str, str]:
    return {
        "HELIOGRAPH_SMTP_HOST": "127.0.0.1",
        "HELIOGRAPH_SMTP_PORT": str(smtp_port),
        "HELIOGRAPH_SMTP_SECURITY": "none",
        "HELIOGRAPH_SMTP_FROM": "alerts@heliograph.test",
        "HELIOGRAPH_ALERT_RETRY_SECONDS": "0.5,0.5",
    }


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, received: tuple[Received, int, str]
) -> Iterator[LiveServer]:
    found = launch(tmp_path_factory.mktemp("alerts"), env=_env(received[1]))
    yield found
    found.stop()


def _until(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout} s")


def _sentry(server: LiveServer, code: str) -> None:
    """Run ``code`` in a process with the real sentry-sdk initialised for the server."""
    script = (
        textwrap.dedent(
            f"""
        import sentry_sdk
        sentry_sdk.init(dsn={server.dsn!r}, environment="production", release="shop@2.0",
                        transport_queue_size=2000)
        def charge(card):
            raise ValueError("card declined: " + card[:2])
        """
        )
        + textwrap.dedent(code)
        + "\nsentry_sdk.flush(30)\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)


def _rule(server: LiveServer, **rule: Any) -> dict[str, Any]:
    with server.api() as api:
        org, project = _where(api)
        answer = api.post(f"/api/0/projects/{org}/{project}/alert-rules/", json=rule)
        assert answer.status_code == 201, answer.text
        created: dict[str, Any] = answer.json()
        return created


def _where(api: httpx.Client) -> tuple[str, str]:
    project = api.get("/api/0/projects/").json()[0]
    return project["organization"]["slug"], project["slug"]


def test_alerts_reach_email_and_webhooks_once(
    server: LiveServer, received: tuple[Received, int, str], tmp_path: Path
) -> None:
    got, smtp_port, receivers = received
    hook = {"type": "webhook", "url": f"{receivers}/hook", "secret": SECRET}
    _rule(server, name="New issues", trigger="new_issue", filters={"level": "error"},
          actions=[{"type": "email", "targets": ["oncall@example.test"]}, hook])  # fmt: skip
    _rule(server, name="Regressions", trigger="regression",
          actions=[{"type": "webhook", "url": f"{receivers}/regress"}])  # fmt: skip
    _rule(server, name="Bursts", trigger="issue_events", threshold=500, window=3600,
          interval=3600, actions=[{"type": "webhook", "url": f"{receivers}/burst"}])  # fmt: skip
    _rule(server, name="Spend", trigger="llm_cost", threshold=1.0, window=3600,
          actions=[{"type": "slack", "url": f"{receivers}/llm"}])  # fmt: skip
    failing = _rule(server, name="Broken receiver", trigger="new_issue",
                    filters={"level": "error"},
                    actions=[{"type": "webhook", "url": f"{receivers}/fail"}])  # fmt: skip

    # A new issue: one email and one signed webhook, within seconds.
    started = time.monotonic()
    _sentry(
        server, 'try:\n    charge("4242")\nexcept ValueError:\n    sentry_sdk.capture_exception()'
    )
    _until(lambda: got.mails and got.count("/hook"))
    assert time.monotonic() - started < 20
    [mail] = got.mails
    assert b"oncall@example.test" in mail and b"ValueError: card declined" in mail
    assert b"Content-Type: text/html" in mail and b"Content-Type: text/plain" in mail
    [(headers, body)] = got.posts["/hook"]
    timestamp = headers["X-Heliograph-Timestamp"]
    expected = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    assert headers["X-Heliograph-Signature"] == "sha256=" + expected.hexdigest()
    payload = orjson.loads(body)
    assert payload["rule"]["name"] == "New issues"
    issue = payload["issue"]
    assert issue["title"].startswith("ValueError: card declined")
    assert issue["url"] == f"{server.url}/issues/{issue['id']}/"
    assert issue["short_id"].endswith(f"-{issue['short_number']}") and issue["times_seen"] == 1

    # The failing receiver: tried three times, then recorded as failed.
    with server.api() as api:
        org, project = _where(api)

        def failed() -> list[dict[str, Any]]:
            history = api.get(f"/api/0/projects/{org}/{project}/alert-history/").json()
            return [
                d
                for n in history
                if n["rule_id"] == failing["id"]
                for d in n["deliveries"]
                if d["status"] == "failed"
            ]

        [delivery] = _until(failed)
        assert delivery["attempts"] == 3 and "HTTP 500" in delivery["last_error"]
        assert got.count("/fail") == 3

        # A regression: resolve it, and the same error comes back.
        answer = api.put(f"/api/0/issues/{issue['id']}/", json={"status": "resolved"})
        assert answer.status_code == 200
    _sentry(
        server, 'try:\n    charge("4242")\nexcept ValueError:\n    sentry_sdk.capture_exception()'
    )
    [regressed] = _until(lambda: got.bodies("/regress"))
    assert regressed["issue"]["id"] == issue["id"]

    # A burst of 1,000 events of one issue: one frequency alert (and, at level
    # info, no new-issue alert: those rules want errors).
    _sentry(server, 'for n in range(1000):\n    sentry_sdk.capture_message("queue is full")')
    server.wait_for_digest(timeout=60)
    [burst] = _until(lambda: got.bodies("/burst"))
    assert burst["issue"]["title"] == "queue is full" and burst["issue"]["times_seen"] >= 500

    # LLM spend from posthog's $ai_generation events: one alert.
    script = textwrap.dedent(
        f"""
        from posthog import Posthog
        client = Posthog({server.public_key!r}, host={server.url!r})
        for n in range(3):
            client.capture("$ai_generation", distinct_id="user-1", properties={{
                "$ai_model": "gpt-4o", "$ai_provider": "openai", "$ai_trace_id": "t-%d" % n,
                "$ai_input_tokens": 10, "$ai_output_tokens": 5, "$ai_total_cost_usd": 0.6}})
        client.flush()
        client.shutdown()
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    [spend] = _until(lambda: [orjson.loads(b) for _, b in got.posts.get("/llm", [])])
    assert "LLM spend: $1.8000" in spend["text"] and "threshold $1.0000" in spend["text"]

    # Nothing is sent twice after the server (and its digest) restart.
    time.sleep(3)
    before = (len(got.mails), {path: got.count(path) for path in got.posts})
    server.stop()
    process, _, _ = start_server(server.data_dir, port=server.port, env=_env(smtp_port))
    server.process = process
    time.sleep(6)  # a few delivery passes and a heartbeat check
    assert (len(got.mails), {path: got.count(path) for path in got.posts}) == before
    assert before[1] == {"/hook": 1, "/fail": 3, "/regress": 1, "/burst": 1, "/llm": 1}
