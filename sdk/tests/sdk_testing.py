"""Test helpers: a local capture server standing in for Heliograph's ``/batch/``."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Recorded:
    def __init__(self, path: str, headers: dict[str, str], raw: bytes, body: Any, at: float):
        self.path = path
        self.headers = headers
        self.raw = raw
        self.body = body
        self.at = at


class CaptureServer:
    """A tiny HTTP server recording decoded batches; scripted status codes."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.script: list[tuple[int, dict[str, str]]] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                data = raw
                if self.headers.get("Content-Encoding") == "gzip":
                    data = gzip.decompress(raw)
                try:
                    body = json.loads(data)
                except ValueError:
                    body = None
                with server.lock:
                    status, headers = server.script.pop(0) if server.script else (200, {})
                    server.requests.append(
                        Recorded(self.path, dict(self.headers), raw, body, time.monotonic())
                    )
                payload = b'{"status":"Ok"}'
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [e for r in self.requests if r.body for e in r.body.get("batch", [])]

    def named(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.events() if e["event"] == name]

    def wait_for(
        self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 5.0
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events = self.events()
            if predicate(events):
                return events
            time.sleep(0.01)
        raise AssertionError(f"timed out; got {len(self.events())} events: {self.events()[:5]}")

    def wait_named(self, name: str, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        self.wait_for(lambda evs: sum(e["event"] == name for e in evs) >= count, timeout)
        return self.named(name)


def free_port() -> int:
    """A port with nothing listening (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
