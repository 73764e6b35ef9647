"""Rate limits in each protocol's dialect, counted outcomes, revocation, login throttling.

One live server; keys and limits are made through the admin API and the
settings page, as a user would.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import httpx
import orjson
import pytest
from google.protobuf.json_format import MessageToJson
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.accounts import admin_session, csrf_token, server_store
from tests.conftest import LiveServer, launch
from tests.payloads import auth_header, envelope, sentry_event

pytestmark = pytest.mark.e2e
LOCKOUT = 2


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {
        "HELIOGRAPH_LOGIN_MAX_FAILURES": "3",
        "HELIOGRAPH_LOGIN_LOCKOUT_SECONDS": str(LOCKOUT),
    }
    found = launch(tmp_path_factory.mktemp("limits"), env=env)
    yield found
    found.stop()


def _new_key(server: LiveServer, rate: int | None, project: str = "default") -> str:
    with server.api() as api:
        response = api.post(
            f"/api/0/projects/default/{project}/keys/", json={"name": "t", "rateLimit": rate}
        )
    assert response.status_code == 201, response.text
    return str(response.json()["public"])


def _sentry(server: LiveServer, key: str, project_id: int) -> httpx.Response:
    return httpx.post(
        f"{server.url}/api/{project_id}/envelope/",
        content=envelope(sentry_event()),
        headers=auth_header(key),
    )


def test_sentry_key_limit_answers_429_with_sentry_headers(server: LiveServer) -> None:
    key = _new_key(server, 1)  # 1 event/s: a burst of 2, then refusals
    statuses = [_sentry(server, key, server.project_id).status_code for _ in range(4)]
    assert statuses[:2] == [200, 200] and statuses[2:] == [429, 429]
    refused = _sentry(server, key, server.project_id)
    retry_after = refused.headers["retry-after"]
    assert int(retry_after) >= 1
    assert refused.headers["x-sentry-rate-limits"] == f"{retry_after}::key:key_quota"
    assert "rate limit" in refused.headers["x-sentry-error"]
    # Other keys of the project are not affected by this key's limit.
    assert _sentry(server, server.public_key, server.project_id).status_code == 200
    time.sleep(1.1)
    assert _sentry(server, key, server.project_id).status_code == 200


def test_project_limit_covers_every_key_of_the_project(server: LiveServer) -> None:
    with server_store(server) as store:
        org = store.get_organization("default")
        assert org is not None
        project = store.create_project(org.id, "limited", "Limited")
    with server.api() as api:
        assert api.put("/api/0/projects/default/limited/", json={"rateLimit": 2}).status_code == 200
    first, second = _new_key(server, None, "limited"), _new_key(server, None, "limited")
    statuses = [_sentry(server, key, project.id).status_code for key in (first, second) * 3]
    assert statuses.count(200) == 4 and statuses[-2:] == [429, 429]
    refused = _sentry(server, first, project.id)
    assert refused.headers["x-sentry-rate-limits"].endswith("::project:project_quota")
    # The default project has no limit and is not slowed down by its neighbour.
    assert _sentry(server, server.public_key, server.project_id).status_code == 200


def test_posthog_capture_answers_429_with_retry_after(server: LiveServer) -> None:
    key = _new_key(server, 1)

    def batch(size: int) -> httpx.Response:
        events = [{"event": "clicked", "distinct_id": "u1"} for _ in range(size)]
        return httpx.post(f"{server.url}/batch/", json={"api_key": key, "batch": events})

    assert batch(5).status_code == 200  # a full bucket lets a big batch through (in debt)
    refused = batch(1)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert "rate limit" in refused.json()["detail"]


def _otlp_body(spans: int) -> bytes:
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    for index in range(spans):
        span = scope.spans.add()
        span.trace_id = uuid.uuid4().bytes
        span.span_id = (index + 1).to_bytes(8, "big")
        span.name = "chat"
        span.start_time_unix_nano = time.time_ns()
        span.end_time_unix_nano = time.time_ns() + 1000
    return bytes(request.SerializeToString())


def test_otlp_answers_429_with_a_status_body(server: LiveServer) -> None:
    key = _new_key(server, 1)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/x-protobuf"}
    url = f"{server.url}/v1/traces"
    assert httpx.post(url, content=_otlp_body(2), headers=headers).status_code == 200
    refused = httpx.post(url, content=_otlp_body(2), headers=headers)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    status = Status.FromString(refused.content)
    assert status.code == 8 and "rate limit" in status.message  # RESOURCE_EXHAUSTED
    json_body = MessageToJson(ExportTraceServiceRequest.FromString(_otlp_body(1)))
    as_json = httpx.post(
        url, content=json_body, headers={**headers, "Content-Type": "application/json"}
    )
    assert as_json.status_code == 429 and orjson.loads(as_json.content)["code"] == 8


def test_refusals_are_counted_as_outcomes_on_the_settings_page(server: LiveServer) -> None:
    key = _new_key(server, 1)
    statuses = [_sentry(server, key, server.project_id).status_code for _ in range(6)]
    assert statuses.count(429) == 4
    client = admin_session(server)
    deadline = time.monotonic() + 10
    while True:
        page = client.get("/default/default/settings/").text
        row = re.search(r'data-category="error">(.*?)</tr>', page, re.S)
        limited = (
            re.search(r'data-outcome="rate_limited">([\d,.k]+)<', row.group(1)) if row else None
        )
        if limited and int(limited.group(1).replace(",", "")) >= 4:
            break
        assert time.monotonic() < deadline, "rate_limited outcomes never showed up"
        time.sleep(0.3)
    assert "key_quota" in page


def test_a_key_revoked_in_the_ui_is_refused_at_once(server: LiveServer) -> None:
    key = _new_key(server, None)
    assert _sentry(server, key, server.project_id).status_code == 200
    client = admin_session(server)
    response = client.post(
        "/default/default/settings/",
        data={"action": "revoke_key", "key": key, "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 303
    assert _sentry(server, key, server.project_id).status_code == 403
    page = client.get(response.headers["location"]).text
    assert "Ingest key revoked" in page and "Revoked" in page


def test_login_is_throttled_after_repeated_failures(server: LiveServer) -> None:
    email = "throttled@example.com"
    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "heliograph",
            "createuser",
            email,
            "--password",
            "right-password-1",
            "--role",
            "viewer",
            "--data-dir",
            str(server.data_dir),
        ],
        capture_output=True,
        text=True,
    )
    assert created.returncode == 0, created.stderr
    login = f"{server.url}/login"
    for _ in range(3):
        wrong = httpx.post(login, data={"email": email, "password": "wrong"})
        assert wrong.status_code == 401
    locked = httpx.post(login, data={"email": email, "password": "right-password-1"})
    assert locked.status_code == 429
    assert "Too many failed attempts" in locked.text
    assert 1 <= int(locked.headers["retry-after"]) <= LOCKOUT
    other = httpx.post(login, data={"email": "someone@example.com", "password": "x"})
    assert other.status_code == 401  # another account from the same address is not locked
    time.sleep(LOCKOUT + 0.2)
    response = httpx.post(login, data={"email": email, "password": "right-password-1"})
    assert response.status_code == 303
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
