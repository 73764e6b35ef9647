"""Shared fixtures: a live ``heliograph serve`` process on a free port."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.postgres import PostgresCluster, cluster


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    """A real server process and what its first start printed."""

    url: str
    dsn: str
    api_token: str
    login_url: str
    data_dir: Path
    process: subprocess.Popen[str]
    port: int

    @property
    def project_id(self) -> int:
        return int(self.dsn.rsplit("/", 1)[1])

    @property
    def public_key(self) -> str:
        return self.dsn.split("://", 1)[1].split("@", 1)[0]

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.api_token}"}, timeout=10
        )

    def wait_for_digest(self, timeout: float = 15.0) -> None:
        """Wait until the ingest queue is empty (every accepted payload digested)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if httpx.get(f"{self.url}/_health").json()["backlog"] == 0:
                return
            time.sleep(0.05)
        raise AssertionError("digest did not catch up in time")

    def stop(self, *, kill: bool = False) -> None:
        """SIGTERM the server; ``kill=True``: SIGKILL its whole process tree at once."""
        if self.process.poll() is None:
            if kill:
                kill_tree(self.process)
            else:
                self.process.terminate()
            self.process.wait(timeout=30)


def kill_tree(process: subprocess.Popen[str]) -> None:
    """``kill -9`` a server and its acceptor and digest processes, all at the same instant.

    The server starts in a session of its own, so its process group is the tree.
    """
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def start_server(
    data_dir: Path, port: int | None = None, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], int, list[str]]:
    """Start ``heliograph serve``; its output goes to a log file beside the data dir."""
    port = port or free_port()
    log_path = data_dir.with_name(data_dir.name + f"-{port}.log")
    log = log_path.open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "heliograph",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        # Two acceptors and two digest workers, whatever the machine: every
        # live-server test runs the multi-process node, at a bounded cost.
        env={**os.environ, "NO_COLOR": "1", "HELIOGRAPH_WORKERS": "2", **(env or {})},
        start_new_session=True,  # its own process group: kill_tree reaches every child
    )
    log.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError("server exited early:\n" + log_path.read_text())
        try:
            httpx.get(f"http://127.0.0.1:{port}/_health", timeout=1)
            return process, port, log_path.read_text().splitlines()
        except httpx.TransportError:
            time.sleep(0.05)
    kill_tree(process)
    raise AssertionError("server did not start:\n" + log_path.read_text())


def _printed(lines: list[str], label: str) -> str:
    for line in lines:
        match = re.search(re.escape(label) + r".*?:\s*(\S+)\s*$", line)
        if match:
            return match.group(1)
    return ""


def launch(data_dir: Path, env: dict[str, str] | None = None) -> LiveServer:
    """Start a server on a fresh data directory and read what its first start printed."""
    process, port, lines = start_server(data_dir, env=env)
    server = LiveServer(
        url=f"http://127.0.0.1:{port}",
        dsn=_printed(lines, "DSN for sentry-sdk"),
        api_token=_printed(lines, "admin API token"),
        login_url=_printed(lines, "one-time admin login link"),
        data_dir=data_dir,
        process=process,
        port=port,
    )
    assert server.dsn and server.api_token and server.login_url, "".join(lines)
    return server


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = launch(tmp_path_factory.mktemp("heliograph-data"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster | None]:
    """One throwaway PostgreSQL cluster for the whole session (None: not installed)."""
    yield from cluster()
