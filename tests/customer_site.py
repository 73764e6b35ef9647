"""A customer's web site for browser tests: another origin than Heliograph's.

Real clients behave differently cross-origin (CORS, cookies, beacons), so
browser tests load their page from here and the SDK from, or pointed at, a
live Heliograph server.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HTML = "text/html"
JAVASCRIPT = "application/javascript"


@contextmanager
def customer_site(files: Mapping[str, tuple[bytes | str, str]]) -> Iterator[str]:
    """Serve ``files`` (path -> (body, content type)) on loopback; yields the site's URL.

    An unknown path is a 404; the query string is ignored.
    """
    encoded = {
        path: (body.encode() if isinstance(body, str) else body, kind)
        for path, (body, kind) in files.items()
    }

    class Site(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body, kind = encoded.get(self.path.split("?")[0], (b"not found", "text/plain"))
            self.send_response(200 if self.path.split("?")[0] in encoded else 404)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    site = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{site.server_address[1]}/"
    finally:
        site.shutdown()
        site.server_close()
