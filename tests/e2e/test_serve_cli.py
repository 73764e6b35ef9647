"""``heliograph serve`` as a new user meets it."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import LiveServer

pytestmark = pytest.mark.e2e


def test_first_start_prints_the_default_project_dsn(live_server: LiveServer) -> None:
    assert live_server.dsn.startswith("http://")
    assert live_server.project_id == 1, "the default project is the first one created"
    assert live_server.login_url.startswith(f"{live_server.url}/login/link/")
    assert live_server.api_token.startswith("hgp_")
    assert (live_server.data_dir / "heliograph.sqlite3").exists()


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
