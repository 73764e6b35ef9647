"""A live node's stderr with ``HELIOGRAPH_LOG_FORMAT=json``: every line is one JSON
object with the documented fields, from every kind of process, uvicorn's included;
what the operator must read (the welcome) stays on stdout."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.e2e

FIELDS = {"ts", "level", "logger", "process", "role", "worker", "pid", "thread", "message"}


def test_every_stderr_line_of_a_node_is_a_json_object(tmp_path: Path) -> None:
    port = free_port()
    out, err = tmp_path / "stdout.log", tmp_path / "stderr.log"
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "heliograph", "serve", "--port", str(port),
             "--data-dir", str(tmp_path / "data")],
            stdout=stdout,
            stderr=stderr,
            env={**os.environ, "NO_COLOR": "1", "HELIOGRAPH_WORKERS": "2",
                 "HELIOGRAPH_LOG_FORMAT": "json", "HELIOGRAPH_SELF_MONITORING": "on",
                 "HELIOGRAPH_READY_MIN_FREE_MB": "1"},
            start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, err.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, err.read_text()
            time.sleep(0.1)
        # Garbage on the wire: uvicorn logs it, through the node's handler.
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            sock.recv(1024)
        time.sleep(0.5)
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert "DSN for sentry-sdk" in out.read_text()
    lines = err.read_text().splitlines()
    assert lines
    entries = []
    for line in lines:
        entry = orjson.loads(line)  # raises on any line that is not one JSON object
        assert isinstance(entry, dict) and set(entry) >= FIELDS, line
        entries.append(entry)
    processes = {entry["process"] for entry in entries}
    assert {"serve", "bootstrap", "digest-0", "digest-1"} <= processes, processes
    assert any(e["logger"] == "heliograph.store.sqlite.database" for e in entries)  # migrations
    assert any(e["logger"] == "heliograph.digest.process" for e in entries)
    assert not any(e["logger"] == "__main__" for e in entries)
    assert any(e["logger"].startswith("uvicorn") and e["process"].startswith("acceptor-")
               for e in entries), processes  # fmt: skip
    assert all(e["pid"] > 0 and e["level"] in ("INFO", "WARNING", "ERROR") for e in entries)
    # No key or password in any line (the DSN's key is on stdout only).
    dsn_key = out.read_text().split("DSN for sentry-sdk:")[1].split("://")[1].split("@")[0]
    assert dsn_key not in err.read_text()
