"""ASGI assembly: routes from each package, error handlers, the lifespan.

``create_app`` is what ``heliograph serve`` runs under uvicorn and what tests
mount in-process.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from heliograph.api.errors import ApiError
from heliograph.api.routes import routes as api_routes
from heliograph.config import Settings
from heliograph.health import healthz, readyz
from heliograph.ingest import langfuse_scores, otlp_http, posthog_http
from heliograph.ingest.sentry import envelope_endpoint, store_endpoint
from heliograph.metrics_endpoint import metrics_endpoint
from heliograph.metrics_middleware import RequestMetricsMiddleware
from heliograph.runtime import Runtime
from heliograph.store.base import QueryTimeout, StoreUnavailable
from heliograph.web.routes import STATIC_DIR
from heliograph.web.routes import routes as web_routes
from heliograph.web.security import SecurityHeadersMiddleware
from heliograph.web.vendor import routes as vendor_routes

logger = logging.getLogger(__name__)


async def health(request: Request) -> Response:
    """The original health check, kept for the tools that call it: liveness and
    the backlog (``/healthz`` and ``/readyz`` are the probes; docs/health.md)."""
    runtime: Runtime = request.app.state.runtime
    return JSONResponse({"status": "ok", "backlog": runtime.backlog.measure()})


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith("/api/") or "text/html" not in request.headers.get("accept", ""):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
    return Response(exc.detail, status_code=exc.status_code, media_type="text/plain")


async def client_disconnect(request: Request, exc: Exception) -> Response:
    """The client went away mid-body: nothing was queued, and it is no server error.

    Starlette raises ``ClientDisconnect`` from ``request.stream()``. The answer
    has no one to go to; 499 is what proxies log for it ("client closed request").
    """
    logger.info("client disconnected during %s %s", request.method, request.url.path)
    return JSONResponse({"detail": "client closed the request"}, status_code=499)


RETRY_AFTER_SECONDS = 5


async def store_busy(request: Request, exc: Exception) -> Response:
    """The store or the queue cannot serve this now (disk full, locked, too slow): 503.

    It is no bug and nothing was accepted: a client retries after
    ``Retry-After``, as it does for the other 503s of ingest. Payloads already
    acknowledged are safe in the queue whatever happens here.
    """
    if isinstance(exc, QueryTimeout):
        detail = "the query took too long; narrow it (a shorter time range) or try again"
    else:
        detail = "the server cannot write just now (disk full or database busy); retry later"
    logger.warning("503 on %s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(
        {"detail": detail},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def server_error(request: Request, exc: Exception) -> Response:
    # Self-monitoring's log forwarder reports it (heliograph.selfmon_forward).
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse({"detail": "internal server error"}, status_code=500)


def ingest_routes() -> list[BaseRoute]:
    methods = ["POST", "OPTIONS"]
    return [
        Route("/api/{project_id}/envelope/", envelope_endpoint, methods=methods),
        Route("/api/{project_id}/store/", store_endpoint, methods=methods),
        *posthog_http.routes(),
        *otlp_http.routes(),
        *langfuse_scores.routes(),
    ]


def create_app(settings: Settings, runtime: Runtime | None = None) -> Starlette:
    """Build the ASGI app. A given ``runtime`` is used as is (and not closed)."""
    owned = runtime is None

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if owned:
            app.state.runtime.start()
        try:
            yield
        finally:
            if owned:
                app.state.runtime.close()

    routes: list[BaseRoute] = [
        # Probes first: unauthenticated, and before any route that could claim the path.
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/readyz", readyz, methods=["GET", "HEAD"]),
        Route("/_health", health),
        Route("/metrics", metrics_endpoint),
        *ingest_routes(),
        *api_routes,
        *vendor_routes(),  # posthog-js's recorder scripts: before the /static mount
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
        *web_routes,
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[
            Middleware(RequestMetricsMiddleware),
            Middleware(SecurityHeadersMiddleware, https=settings.https),
        ],
        exception_handlers={
            ApiError: api_error,
            HTTPException: http_error,
            ClientDisconnect: client_disconnect,
            StoreUnavailable: store_busy,
            QueryTimeout: store_busy,
            Exception: server_error,
        },
    )
    app.state.runtime = runtime or Runtime(settings)
    app.state.ingest = app.state.runtime.gate
    return app
