"""A Heliograph server seen as an older Sentry: what older upload flows need to be tested.

``sentry-cli`` picks its upload flow from the chunk-upload options the server
answers. In front of a live server, this proxy forwards every request but
rewrites that one answer: ``accept=None`` hides chunk uploads (404, as a
Sentry before them: sentry-cli then sends each file to the release's files),
a list replaces the kinds offered (``["release_files"]``: sentry-cli then
sends a release bundle, as sentry-cli before artifact bundles does). It
also records the calls made through it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import orjson

_HOP_BY_HOP = {"host", "content-length", "transfer-encoding", "connection", "content-encoding"}


@dataclass
class OldSentry:
    url: str
    calls: list[tuple[str, str]] = field(default_factory=list)  # (method, path)


@contextmanager
def old_sentry(upstream: str, accept: list[str] | None) -> Iterator[OldSentry]:
    """A proxy to ``upstream`` whose chunk-upload options offer ``accept`` (None: none)."""
    client = httpx.Client(base_url=upstream, timeout=60)
    found = OldSentry("")

    class Proxy(BaseHTTPRequestHandler):
        def _forward(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            found.calls.append((self.command, self.path))
            options = "/chunk-upload/" in self.path and self.command == "GET"
            if options and accept is None:
                self._answer(404, b'{"detail": "Not Found"}', {"content-type": "application/json"})
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            response = client.request(self.command, self.path, headers=headers, content=body)
            content = response.content
            if options and response.status_code == 200:
                content = orjson.dumps({**response.json(), "accept": accept})
            self._answer(response.status_code, content, dict(response.headers))

        def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                if name.lower() not in _HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = _forward

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    found.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()
        client.close()
