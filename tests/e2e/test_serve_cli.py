"""``heliograph serve`` as a new user meets it."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from heliograph.config import Settings
from heliograph.store import open_node_queue, open_store
from tests.conftest import LiveServer, launch
from tests.payloads import auth_header, envelope, sentry_event

pytestmark = pytest.mark.e2e


def test_first_start_prints_the_default_project_dsn(live_server: LiveServer) -> None:
    assert live_server.dsn.startswith("http://")
    assert live_server.project_id == 1, "the default project is the first one created"
    assert live_server.login_url.startswith(f"{live_server.url}/login/link/")
    assert live_server.api_token.startswith("hgp_")
    assert (live_server.data_dir / "heliograph.sqlite3").exists()
    # login-link and demo, run later, print links to the address serve runs at.
    assert (live_server.data_dir / "public-url").read_text().strip() == live_server.url


def test_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "heliograph",
                "serve",
                "--port",
                str(port),
                "--data-dir",
                str(tmp_path / "data"),
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 1
    assert "cannot listen" in result.stderr
    assert "DSN" not in result.stdout


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for tasks in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(child) for child in tasks.read_text().split()]
    return found


def _exists(pid: int) -> bool:
    """True for a live process, false once it is gone (or is an unreaped zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_shuts_down_cleanly(tmp_path: Path, signum: signal.Signals) -> None:
    """systemd and Docker stop with SIGTERM, a terminal with SIGINT: both shut down in order.

    Only the supervisor gets the signal here (as from ``kill``): it stops its
    acceptors first, then its digest workers, and none outlives it.
    """
    server = launch(tmp_path / "data", env={"HELIOGRAPH_WORKERS": "2"})
    log_path = server.data_dir.with_name(f"data-{server.port}.log")
    try:
        children = _children(server.process.pid)
        assert len(children) == 4, "serve starts 2 acceptors and 2 digest workers"
        deadline = time.monotonic() + 15
        while log_path.read_text().count(" of 2 started") < 2:
            assert time.monotonic() < deadline, "the digest workers never started"
            time.sleep(0.05)
        with server.api() as api:
            created = api.post(
                "/api/0/projects/default/default/keys/", json={"name": "t", "rateLimit": 1}
            )
        assert created.status_code == 201, created.text
        key = str(created.json()["public"])
        events = [sentry_event() for _ in range(6)]
        statuses = [
            httpx.post(
                f"{server.url}/api/{server.project_id}/envelope/",
                content=envelope(event),
                headers=auth_header(key),
            ).status_code
            for event in events
        ]
        assert statuses.count(429) == 4 and statuses.count(200) == 2

        # At once: the refusals are still only counted in memory (flushed every 2 s).
        started = time.monotonic()
        server.process.send_signal(signum)
        returncode = server.process.wait(timeout=20)
        took = time.monotonic() - started
    finally:
        server.stop(kill=True)

    log = log_path.read_text()
    assert returncode == 0, log
    assert took < 5, f"shutdown took {took:.1f} s"
    assert not any(_exists(pid) for pid in children), "a child outlived the server"
    assert "shutting down: stopping the acceptor and digest processes" in log
    assert "digest worker 0 stopped" in log and "digest worker 1 stopped" in log
    assert log.count("rate-limit refusal(s) written") == 2  # each acceptor wrote its own

    settings = Settings(data_dir=server.data_dir)
    store = open_store(settings.store_url)
    queue = open_node_queue(settings.data_dir)
    try:
        refused = sum(
            outcome.quantity
            for outcome in store.outcomes(server.project_id)
            if outcome.outcome == "rate_limited"
        )
        accepted = [
            event["event_id"]
            for event, status in zip(events, statuses, strict=True)
            if status == 200
        ]
        stored = [e for e in accepted if store.get_event(server.project_id, e) is not None]
        queued = queue.measure()
    finally:
        queue.close()
        store.close()
    assert refused == 4, "the refusals counted in memory were lost"
    assert len(stored) + queued == len(accepted), "an accepted event was lost"
