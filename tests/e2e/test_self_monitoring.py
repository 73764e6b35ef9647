"""The server reports its own errors into heliograph-internal through heliograph-sdk:
an acceptor's 500 (in process), and an error a digest process logs (a live node)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import orjson
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
from heliograph.selfmon import stop_error_reporting
from heliograph.store.base import IssueFilter
from tests.conftest import LiveServer, free_port, launch
from tests.payloads import auth_header, sentry_event

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
    # The SDK and the log forwarder are process-wide: leave them off for other tests.
    stop_error_reporting()
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


def _until(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout} s")


def _tags(event: dict[str, Any]) -> dict[str, str]:
    return {str(tag["key"]): str(tag["value"]) for tag in event["tags"]}


def test_an_error_in_a_digest_process_becomes_an_issue_tagged_with_its_role(
    tmp_path: Path,
) -> None:
    """A real node: an alert to a receiver that is down, with no retry left, is an error
    of the alert-delivery thread of digest worker 0; it arrives in heliograph-internal."""
    server: LiveServer = launch(
        tmp_path / "data",
        env={"HELIOGRAPH_SELF_MONITORING": "on", "HELIOGRAPH_ALERT_RETRY_SECONDS": ""},
    )
    try:
        nowhere = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
        with server.api() as api:
            answer = api.post(
                "/api/0/projects/default/default/alert-rules/",
                json={
                    "name": "New issues",
                    "trigger": "new_issue",
                    "actions": [{"type": "webhook", "url": nowhere}],
                },
            )
            assert answer.status_code == 201, answer.text
            stored = httpx.post(
                f"{server.url}/api/{server.project_id}/store/",
                content=orjson.dumps(sentry_event("checkout failed")),
                headers=auth_header(server.public_key),
            )
            assert stored.status_code == 200, stored.text

            def internal_issues() -> list[dict[str, Any]]:
                found = api.get("/api/0/projects/default/heliograph-internal/issues/")
                assert found.status_code == 200, found.text
                issues: list[dict[str, Any]] = found.json()
                return issues

            [issue] = _until(internal_issues)
            assert "not delivered after the last attempt" in issue["title"]
            assert nowhere not in issue["title"]
            latest = api.get(f"/api/0/issues/{issue['id']}/events/latest/").json()
        tags = _tags(latest)
        assert tags["role"] == "alerts" and tags["worker"] == "0", tags
        assert tags["environment"] == "self-monitoring"
        assert latest["logger"] == "heliograph.alerts.delivery"
        log = server.data_dir.with_name(f"{server.data_dir.name}-{server.port}.log").read_text()
        line = next(line for line in log.splitlines() if "not delivered" in line)
        assert " ERROR heliograph.alerts.delivery [digest-0 pid=" in line
    finally:
        server.stop()
