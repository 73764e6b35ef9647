"""What the benchmarks share: a live server in a subprocess and a cheap load generator.

The load generator is a raw-socket HTTP/1.1 client over keep-alive
connections, so that it costs little of the machine's two cores and the
figures measure the server.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


class Server:
    """``heliograph serve`` in a subprocess, on a free port, with its own data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.log_path = data_dir.with_suffix(".log")
        log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "heliograph", "serve", "--port", str(self.port),
             "--data-dir", str(data_dir)],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "NO_COLOR": "1"},
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(self.url + "/_health", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise SystemExit(
                        "server did not start:\n" + self.log_path.read_text()
                    ) from None
                time.sleep(0.05)
        printed = self.log_path.read_text()
        dsn = re.search(r"DSN for sentry-sdk: (\S+)", printed)
        assert dsn, printed
        self.dsn = dsn.group(1)
        self.key = self.dsn.split("://")[1].split("@")[0]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def backlog(self) -> int:
        return int(httpx.get(self.url + "/_health").json()["backlog"])

    def wait_for_digest(self, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while self.backlog():
            if time.monotonic() > deadline:
                raise SystemExit("digest did not catch up")
            time.sleep(0.02)

    def peak_rss_mb(self) -> float:
        """The server process's peak resident memory (VmHWM), in MiB."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        match = re.search(r"VmHWM:\s+(\d+) kB", status)
        return int(match.group(1)) / 1024 if match else float("nan")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _client(
    port: int, requests: list[bytes], latencies: list[float], statuses: dict[int, int]
) -> None:
    """Send requests one after the other on one keep-alive connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for request in requests:
            started = time.perf_counter()
            writer.write(request)
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            status = int(status_line.split()[1])
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


def replay(
    port: int, requests: list[bytes], concurrency: int
) -> tuple[float, list[float], dict[int, int]]:
    """Send all over ``concurrency`` connections: (seconds, sorted latencies, statuses)."""
    chunks = [requests[i::concurrency] for i in range(concurrency)]
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def run() -> None:
        await asyncio.gather(*(_client(port, c, latencies, statuses) for c in chunks))

    started = time.perf_counter()
    asyncio.run(run())
    return time.perf_counter() - started, sorted(latencies), statuses
