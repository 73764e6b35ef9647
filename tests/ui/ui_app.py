"""Errors for the UI tests, sent by the real, unmodified sentry-sdk.

Run as ``python ui_app.py DSN SCENARIO``:

* ``web``: a WSGI app behind Sentry's own WSGI middleware fails parsing a
  request body with the standard library's ``json`` (library frames under an
  in-app frame), so the event carries a request, headers and query string.
* ``xss``: an exception whose message, tag and breadcrumb are HTML/script
  payloads; the UI must show them as text.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.util import setup_testing_defaults

import sentry_sdk
from sentry_sdk.integrations.wsgi import SentryWsgiMiddleware

XSS = "<script>alert(1)</script>"


def parse_order(body: bytes) -> dict[str, Any]:
    order_text = body.decode()
    return dict(json.loads(order_text))


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    order = parse_order(body)
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(order).encode()]


def web() -> None:
    body = b'{"sku": "A-1", "qty": '
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/api/orders",
        "QUERY_STRING": "coupon=SPRING&ref=newsletter",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_USER_AGENT": "Mozilla/5.0 (UI test)",
        "HTTP_AUTHORIZATION": "Bearer very-secret-token",
        "wsgi.input": io.BytesIO(body),
    }
    setup_testing_defaults(environ)
    # The middleware reports the error and re-raises it, as in a real server.
    with contextlib.suppress(json.JSONDecodeError):
        SentryWsgiMiddleware(app)(environ, lambda *args: None)


def xss() -> None:
    sentry_sdk.set_tag("payload", "<img src=x onerror=alert(2)>")
    sentry_sdk.add_breadcrumb(category="ui", message="<b>bold</b><script>alert(3)</script>")
    try:
        raise ValueError(XSS)
    except ValueError:
        sentry_sdk.capture_exception()


def main() -> None:
    dsn, scenario = sys.argv[1], sys.argv[2]
    sentry_sdk.init(
        dsn=dsn,
        environment="staging",
        release="shop@2.0.0",
        include_local_variables=True,
        send_default_pii=True,
        max_request_body_size="always",
    )
    sentry_sdk.set_user({"id": "user-7", "email": "grace@example.com"})
    {"web": web, "xss": xss}[scenario]()
    sentry_sdk.flush(timeout=10)


if __name__ == "__main__":
    main()
