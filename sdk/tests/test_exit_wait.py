"""A crash with the server unreachable delays the exit by ``shutdown_timeout``, once.

The way out of a crashing program flushes more than once (``wrap_cli``, then
``sys.excepthook``, then ``atexit``); each used to wait the full timeout.
Nothing here leaves 127.0.0.1: the "server" is a closed port or a socket that
accepts connections and never answers.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

SHUTDOWN_TIMEOUT = 1.0

CRASH = """
import sys
import time
import heliograph_sdk

heliograph_sdk.init(api_key="k", host=sys.argv[1], shutdown_timeout={timeout})

def main() -> None:
    print(time.monotonic(), flush=True)
    raise RuntimeError("crash with the server down")

if sys.argv[2] == "wrap_cli":
    heliograph_sdk.wrap_cli(main)()
else:
    main()
"""


@pytest.fixture
def unreachable(request: pytest.FixtureRequest) -> Iterator[str]:
    """A local URL nothing answers at: a closed port, or a listener that never replies."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    if request.param == "silent":
        sock.listen(16)
    else:
        sock.close()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        sock.close()


@pytest.mark.parametrize(
    ("unreachable", "way_out"),
    [("closed", "excepthook"), ("silent", "excepthook"), ("silent", "wrap_cli")],
    indirect=["unreachable"],
)
def test_crash_exit_waits_the_shutdown_timeout_once(
    unreachable: str, way_out: str, tmp_path: Path
) -> None:
    script = tmp_path / "crash.py"
    script.write_text(CRASH.format(timeout=SHUTDOWN_TIMEOUT))
    result = subprocess.run(
        [sys.executable, str(script), unreachable, way_out],
        capture_output=True,
        text=True,
        timeout=30,
    )
    exited = time.monotonic()
    assert result.returncode == 1, result.stderr
    assert "RuntimeError: crash with the server down" in result.stderr
    waited = exited - float(result.stdout.split()[0])  # CLOCK_MONOTONIC is system-wide
    # It did try to deliver (the event stays queued, so the flush waits it out)...
    assert waited >= SHUTDOWN_TIMEOUT - 0.1, f"exited after {waited:.2f} s"
    # ...but only once, not once per flush on the way out.
    assert waited < SHUTDOWN_TIMEOUT + 1.0, f"exited after {waited:.2f} s"
