"""Security headers, as plain ASGI middleware around the whole app.

Every HTML page gets a strict ``Content-Security-Policy`` (no inline script or
style anywhere in the UI, so none is allowed; no framing, no plugins, forms
post only here), ``X-Frame-Options: DENY`` for older browsers, and
``Cache-Control: no-store`` because pages hold private event data. Every
response gets ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy:
same-origin``; over https, ``Strict-Transport-Security`` too.

The session replay page alone relaxes it, through ``replay_policy``: inline
styles, for the replayed page (``REPLAY_CONTENT_SECURITY_POLICY`` says why).

What is deliberately *not* done: the HTML policy is not put on ingest or API
answers (browser SDKs post cross-origin and read their CORS headers), and the
browser snippet ``/static/heliograph.js``, the rrweb it loads to record and
posthog-js's recorder scripts are marked ``Cross-Origin-Resource-Policy:
cross-origin`` because customers' pages load them from their own origin. The
UI's own assets are ``same-origin``.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from heliograph.web.vendor import recorder_path

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# The session replay page only (``replay_policy``). rrweb's Replayer rebuilds
# the recorded page inside an about:blank iframe, which inherits this page's
# policy, and that DOM is made of <style> elements and style="" attributes:
# without inline styles the replay renders unstyled. That is the one change.
# Scripts stay 'self' only (and rrweb sandboxes the iframe without
# allow-scripts), so nothing recorded can run; images stay 'self' and data:,
# so a recording cannot make the viewer's browser fetch other origins.
REPLAY_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'"
)
# Loaded by customers' pages: the snippet, the rrweb it loads to record, and
# posthog-js's recorder scripts (web/vendor.py, any version in the path).
PUBLIC_ASSETS = frozenset({"/static/heliograph.js", "/static/vendor/rrweb.min.js"})
HSTS = "max-age=31536000"

_ALWAYS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]
_HTML = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


def replay_policy(response: Response) -> Response:
    """Serve ``response`` (the replay page) under ``REPLAY_CONTENT_SECURITY_POLICY``.

    The middleware adds its policy only to a response that has none, so the
    one set here stays; every other header is added as usual.
    """
    response.headers["content-security-policy"] = REPLAY_CONTENT_SECURITY_POLICY
    return response


class SecurityHeadersMiddleware:
    """Adds the headers above to every HTTP response; passes everything else through.

    ``https`` forces HSTS (the server's public URL is https even when a proxy
    in front of it speaks plain http to it).
    """

    def __init__(self, app: ASGIApp, *, https: bool = False) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        secure = self.https or scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _headers(list(message.get("headers", [])), path, secure)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _headers(
    headers: list[tuple[bytes, bytes]], path: str, secure: bool
) -> list[tuple[bytes, bytes]]:
    present = {name.lower() for name, _ in headers}
    added = [(name, value) for name, value in _ALWAYS if name not in present]
    content_type = next((v for n, v in headers if n.lower() == b"content-type"), b"")
    if content_type.startswith(b"text/html"):
        added += [(name, value) for name, value in _HTML if name not in present]
        if b"cache-control" not in present:
            added.append((b"cache-control", b"no-store"))
    if path.startswith("/static/"):
        public = path in PUBLIC_ASSETS or recorder_path(path)
        policy = b"cross-origin" if public else b"same-origin"
        added.append((b"cross-origin-resource-policy", policy))
        if public:
            added.append((b"access-control-allow-origin", b"*"))
    if secure:
        added.append((b"strict-transport-security", HSTS.encode()))
    return headers + added
