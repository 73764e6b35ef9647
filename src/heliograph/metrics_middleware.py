"""Counts every request by its route's template, status and duration.

The label is the matched route's path template (``/api/{project_id}/envelope/``),
never the path that arrived: a label per project id, issue id or scanner's
made-up URL would grow Prometheus' memory without bound. The router leaves
the route it matched in the ASGI scope (``scope["route"]``); a request that
matched none is ``unmatched``.

A plain ASGI middleware, not Starlette's ``BaseHTTPMiddleware``: it only
wraps ``send`` to see the status, and adds no task or copy per request.
"""

from __future__ import annotations

import time

from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from heliograph.metrics import HTTP_REQUESTS, HTTP_SECONDS

__all__ = ["RequestMetricsMiddleware", "route_label"]

UNMATCHED = "unmatched"
# Methods are labels too: anything else a client invents is counted as OTHER.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_label(route: BaseRoute | None) -> str:
    """The bounded label of a matched route: its template, or its mount's prefix."""
    if isinstance(route, Route):
        return route.path
    if isinstance(route, Mount):
        return f"{route.path}/{{path}}"
    return UNMATCHED


class RequestMetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets when the app raises before answering

        async def send_counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            route = route_label(scope.get("route"))
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_SECONDS.labels(method, route).observe(time.perf_counter() - started)
