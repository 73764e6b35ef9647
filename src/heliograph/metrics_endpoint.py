"""``GET /metrics`` on the main port, behind ``HELIOGRAPH_METRICS_TOKEN``.

The main port faces the internet (SDKs post to it), and metrics tell an
outsider how busy the server is and which routes exist: so they are off
until a token is configured (404, saying how to turn them on), and then
need ``Authorization: Bearer <token>``, compared in constant time. The
other way, ``HELIOGRAPH_METRICS_ADDRESS``, serves them from the supervisor
on a private interface (:mod:`heliograph.metrics_server`).
"""

from __future__ import annotations

import hmac

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from heliograph.metrics_exposition import CONTENT_TYPE, NodeCollector, render
from heliograph.runtime import Runtime

__all__ = ["NOT_ENABLED", "metrics_endpoint", "token_matches"]

NOT_ENABLED = (
    "metrics are not enabled on this port: set HELIOGRAPH_METRICS_TOKEN and send "
    "'Authorization: Bearer <token>', or serve them on a private address with "
    "HELIOGRAPH_METRICS_ADDRESS (see docs/monitoring.md)"
)


def token_matches(header: str | None, token: str) -> bool:
    """``header`` is ``Bearer <token>`` (in constant time: no timing oracle on the token)."""
    scheme, _, sent = (header or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(sent.strip().encode(), token.encode())


async def metrics_endpoint(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    token = runtime.settings.metrics_token
    if not token:
        return JSONResponse({"detail": NOT_ENABLED}, status_code=404)
    if not token_matches(request.headers.get("authorization"), token):
        return JSONResponse(
            {"detail": "a valid 'Authorization: Bearer <HELIOGRAPH_METRICS_TOKEN>' is required"},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    collector = NodeCollector(runtime.backlog, runtime.settings.data_dir)
    body = await run_in_threadpool(render, collector)
    return Response(body, media_type=CONTENT_TYPE)
