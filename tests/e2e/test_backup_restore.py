"""``heliograph backup`` under load, then ``heliograph restore``: nothing acknowledged is lost.

A real server takes events from two sender threads. Its digest workers are
paused (SIGSTOP) for a moment so that acknowledged payloads pile up in the
queue, and resumed while ``heliograph backup`` (the real command line, in a
process of its own) starts copying: digest moves payloads from the queue into
the store during the copy, the race that the order of the copies is about.
The backup is restored into a new data directory, a server started on it,
and every event acknowledged before the backup began must be there.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveServer, launch, start_server
from tests.payloads import auth_header, envelope, sentry_event

pytestmark = pytest.mark.e2e


def _heliograph(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "heliograph", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )


def _digest_workers(server: LiveServer) -> list[int]:
    found = []
    for tasks in Path(f"/proc/{server.process.pid}/task").glob("*/children"):
        for pid in tasks.read_text().split():
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"heliograph.digest.process" in cmdline:
                found.append(int(pid))
    return found


class Sender:
    """Sends events until stopped; keeps each acknowledged event id and when the 2xx came."""

    def __init__(self, server: LiveServer) -> None:
        self.url = f"{server.url}/api/{server.project_id}/envelope/"
        self.headers = auth_header(server.public_key)
        self.acknowledged: list[tuple[str, float]] = []
        self.refused = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run) for _ in range(2)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                event = sentry_event("under load", exc_type="BackupError")
                try:
                    response = client.post(self.url, content=envelope(event), headers=self.headers)
                except httpx.TransportError:
                    continue
                now = time.time()
                with self._lock:
                    if response.is_success:
                        self.acknowledged.append((event["event_id"], now))
                    else:
                        self.refused += 1

    def acknowledged_before(self, moment: float) -> list[str]:
        with self._lock:
            return [event_id for event_id, at in self.acknowledged if at < moment]


def _backup_under_load(server: LiveServer, destination: Path) -> tuple[Sender, float, str]:
    """Run ``heliograph backup`` while events come in and digest drains a backlog.

    Returns the sender, when the backup began, and what the command printed.
    """
    sender = Sender(server)
    digest = _digest_workers(server)
    assert len(digest) == 2, "the test server runs two digest workers"
    try:
        sender.start()
        time.sleep(0.5)
        for pid in digest:
            os.kill(pid, signal.SIGSTOP)  # payloads pile up in the queue, acknowledged
        try:
            time.sleep(0.7)
            began = time.time()
            backup = subprocess.Popen(
                [sys.executable, "-m", "heliograph", "backup", str(destination),
                 "--data-dir", str(server.data_dir)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "NO_COLOR": "1"},
            )  # fmt: skip
            # Once the command starts copying, resume digest: it drains the
            # backlog into the store while the queue and the store are copied.
            deadline = time.monotonic() + 60
            while (
                not list(destination.parent.glob(f".{destination.name}.partial-*"))
                and backup.poll() is None
            ):
                assert time.monotonic() < deadline, "the backup did not start"
                time.sleep(0.002)
        finally:
            for pid in digest:
                os.kill(pid, signal.SIGCONT)
        out, err = backup.communicate(timeout=120)
        assert backup.returncode == 0, err
        time.sleep(0.5)  # acknowledged after the backup: may or may not be in it
    finally:
        sender.stop()
    return sender, began, out


def test_a_backup_taken_under_load_restores_every_acknowledged_event(tmp_path: Path) -> None:
    server = launch(tmp_path / "data")
    try:
        sender, began, out = _backup_under_load(server, tmp_path / "backup")
        # A restore never writes under a running server, --force or not.
        refused = _heliograph(
            "restore", str(tmp_path / "backup"), "--data-dir", str(server.data_dir), "--force"
        )
        assert refused.returncode == 1
        assert "in use" in refused.stderr and "stop the server" in refused.stderr
    finally:
        server.stop()

    expected = sender.acknowledged_before(began)
    assert len(expected) >= 20, f"too little load to test anything: {len(expected)} events"
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert manifest["started_at"] >= began
    queued = int(out.split(" still queued")[0].rsplit("(", 1)[1])
    print(f"{len(expected)} events acknowledged before the backup; {queued} in the queue copy")
    assert queued > 0, "digest was paused: the queue copy holds the backlog"

    restored = _heliograph(
        "restore", str(tmp_path / "backup"), "--data-dir", str(tmp_path / "restored")
    )
    assert restored.returncode == 0, restored.stderr
    assert f"{queued} queued payload(s)" in restored.stdout
    assert not list((tmp_path / "restored").glob("*.lock")), "runtime files are not restored"

    process, port, _lines = start_server(tmp_path / "restored")
    again = LiveServer(
        url=f"http://127.0.0.1:{port}",
        dsn=server.dsn,
        api_token=server.api_token,
        login_url="",
        data_dir=tmp_path / "restored",
        process=process,
        port=port,
    )
    try:
        again.wait_for_digest(timeout=60)
        missing = []
        with again.api() as api:
            for event_id in expected:
                response = api.get(f"/api/0/projects/default/default/events/{event_id}/")
                if response.status_code != 200:
                    missing.append((event_id, response.status_code))
        assert missing == [], f"{len(missing)} of {len(expected)} acknowledged events lost"
    finally:
        again.stop()
