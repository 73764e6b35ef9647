"""The server reports its own errors into heliograph-internal through heliograph-sdk."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from heliograph.app import create_app
from heliograph.bootstrap import ensure_defaults
from heliograph.config import Settings
from heliograph.digest.worker import DigestWorker
from heliograph.runtime import Runtime
from heliograph.store.base import IssueFilter
from tests.conftest import free_port

pytestmark = pytest.mark.e2e


async def broken_page(request: Request) -> Response:
    raise RuntimeError("self-monitoring canary")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Runtime]:
    port = free_port()
    settings = replace(Settings(), data_dir=tmp_path / "data", port=port, self_monitoring=True)
    runtime = Runtime(settings)
    ensure_defaults(runtime.store, settings.base_url)
    runtime.keys.reload()
    app = create_app(settings, runtime)
    app.router.routes.append(Route("/broken", broken_page))
    uvicorn_server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=uvicorn_server.run, daemon=True)
    digest = DigestWorker(runtime.queue, runtime.store)  # serve runs it in processes of its own
    runtime.start()
    digest.start()
    thread.start()
    deadline = time.monotonic() + 20
    while not uvicorn_server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield runtime
    import heliograph_sdk

    heliograph_sdk.shutdown()  # the SDK is process-wide: leave it off for other tests
    uvicorn_server.should_exit = True
    thread.join(timeout=10)
    digest.stop()
    runtime.close()


def test_an_unhandled_server_error_becomes_an_issue_in_the_internal_project(
    server: Runtime,
) -> None:
    import heliograph_sdk

    url = server.settings.base_url
    response = httpx.get(f"{url}/broken")
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error"}
    assert heliograph_sdk.flush(timeout=10)
    internal = server.store.get_project("default", "heliograph-internal")
    assert internal is not None
    deadline = time.monotonic() + 20
    titles: list[str] = []
    while time.monotonic() < deadline:
        issues, _ = server.store.list_issues(IssueFilter(internal.id), limit=10, cursor=None)
        titles = [i.title for i in issues]
        if titles:
            break
        time.sleep(0.1)
    assert titles == ["RuntimeError: self-monitoring canary"]
