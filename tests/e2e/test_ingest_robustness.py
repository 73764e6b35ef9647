"""Bad input gets the right 4xx, good input in every encoding gets through,
and the server stays healthy throughout. Against a live server process."""

from __future__ import annotations

import gzip
import random
import threading
import time
import uuid
import zlib

import brotli
import httpx
import orjson
import pytest
import zstandard

from tests.conftest import LiveServer, kill_tree, start_server
from tests.payloads import auth_header, envelope, sentry_event

pytestmark = pytest.mark.e2e


def post(
    server: LiveServer,
    body: bytes,
    headers: dict[str, str] | None = None,
    key: str | None = None,
    project: int | str | None = None,
) -> httpx.Response:
    all_headers = auth_header(key or server.public_key)
    all_headers.update(headers or {})
    return httpx.post(
        f"{server.url}/api/{project or server.project_id}/envelope/",
        content=body,
        headers=all_headers,
        timeout=30,
    )


def stored(server: LiveServer, event_id: str) -> httpx.Response:
    with server.api() as api:
        return api.get(f"/api/0/projects/default/default/events/{event_id}/")


ENCODINGS = {
    "identity": lambda b: b,
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": brotli.compress,
    "zstd": lambda b: zstandard.ZstdCompressor().compress(b),
}


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_every_encoding_is_accepted_and_digested(live_server: LiveServer, encoding: str) -> None:
    event = sentry_event(f"encoded with {encoding}")
    headers = {} if encoding == "identity" else {"Content-Encoding": encoding}
    response = post(live_server, ENCODINGS[encoding](envelope(event)), headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"id": event["event_id"]}
    live_server.wait_for_digest()
    assert stored(live_server, event["event_id"]).json()["message"] == ""


def test_every_auth_form_is_accepted(live_server: LiveServer) -> None:
    key = live_server.public_key
    url = f"{live_server.url}/api/{live_server.project_id}/envelope/"
    by_query = sentry_event("auth by query")
    assert (
        httpx.post(
            f"{url}?sentry_key={key}&sentry_version=7", content=envelope(by_query)
        ).status_code
        == 200
    )
    by_dsn = sentry_event("auth by envelope dsn")
    body = envelope(by_dsn).replace(
        b'{"sent_at"', orjson.dumps({"dsn": live_server.dsn})[:-1] + b',"sent_at"', 1
    )
    assert httpx.post(url, content=body).status_code == 200, body[:200]
    store = sentry_event("legacy store endpoint")
    response = httpx.post(
        f"{live_server.url}/api/{live_server.project_id}/store/",
        content=orjson.dumps(store),
        headers=auth_header(key),
    )
    assert response.status_code == 200
    live_server.wait_for_digest()
    for event in (by_query, by_dsn, store):
        assert stored(live_server, event["event_id"]).status_code == 200


@pytest.mark.parametrize(
    ("body", "headers", "status", "reason"),
    [
        (gzip.compress(envelope(sentry_event()))[:-20], {"Content-Encoding": "gzip"}, 400, "gzip"),
        (b'{}\n{"type":"event","length":5000}\n{"a":1}\n', {}, 400, "length"),
        (b'{}\n{"type":"event"}\n{not json}\n', {}, 400, "JSON"),
        (b"this is not an envelope", {}, 400, ""),
        (envelope(sentry_event()), {"Content-Encoding": "compress"}, 415, "encoding"),
    ],
    ids=["truncated-gzip", "lying-length", "invalid-json", "garbage", "unknown-encoding"],
)
def test_malformed_input_gets_a_clear_4xx(
    live_server: LiveServer, body: bytes, headers: dict[str, str], status: int, reason: str
) -> None:
    response = post(live_server, body, headers)
    assert response.status_code in (status, 400), response.text
    assert reason.lower() in response.json()["detail"].lower()
    assert response.headers["x-sentry-error"]
    assert httpx.get(f"{live_server.url}/_health").status_code == 200


def test_oversized_body_is_413(live_server: LiveServer) -> None:
    body = b"{}\n" + b'{"type":"attachment"}\n' + b"x" * (30 * 1024 * 1024) + b"\n"
    response = post(live_server, body)
    assert response.status_code == 413
    bomb = gzip.compress(b"{}\n" + b'{"type":"attachment"}\n' + b"\0" * (120 * 1024 * 1024))
    response = post(live_server, bomb, {"Content-Encoding": "gzip"})
    assert response.status_code == 413
    event = sentry_event("x" * (2 * 1024 * 1024))
    assert post(live_server, envelope(event)).status_code == 413


def test_bad_keys_and_projects_are_refused(live_server: LiveServer) -> None:
    body = envelope(sentry_event())
    absent = httpx.post(f"{live_server.url}/api/{live_server.project_id}/envelope/", content=body)
    assert absent.status_code == 401
    assert post(live_server, body, key="0" * 32).status_code == 403
    assert post(live_server, body, project=999).status_code in (403, 404)
    assert post(live_server, body, project="abc").status_code == 404


def test_other_item_types_are_accepted_and_counted(live_server: LiveServer) -> None:
    session = orjson.dumps({"sid": uuid.uuid4().hex, "status": "ok", "init": True})
    report = orjson.dumps(
        {"discarded_events": [{"reason": "queue_overflow", "category": "error", "quantity": 3}]}
    )
    body = envelope(
        None,
        ({"type": "session"}, session),
        ({"type": "client_report"}, report),
        ({"type": "attachment", "length": 5, "filename": "a.txt"}, b"hello"),
        ({"type": "some_future_item"}, b'{"x": 1}'),
    )
    response = post(live_server, body)
    assert response.status_code == 200, response.text
    live_server.wait_for_digest()
    assert httpx.get(f"{live_server.url}/_health").json()["status"] == "ok"


def test_duplicate_event_ids_are_idempotent(live_server: LiveServer) -> None:
    event = sentry_event("sent twice", exc_type="DuplicateCheckError")
    for _ in range(3):
        assert post(live_server, envelope(event)).status_code == 200
    live_server.wait_for_digest()
    with live_server.api() as api:
        issues = api.get(
            "/api/0/projects/default/default/issues/", params={"query": "DuplicateCheckError"}
        ).json()
    assert [i["count"] for i in issues] == ["1"]


def test_cors_preflight_for_browser_sdks(live_server: LiveServer) -> None:
    response = httpx.options(
        f"{live_server.url}/api/{live_server.project_id}/envelope/",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://app.example.com"


def test_backlog_bound_answers_429_with_sentry_rate_limits(
    tmp_path: pytest.TempPathFactory,
) -> None:
    process, port, lines = start_server(tmp_path / "data", env={"HELIOGRAPH_MAX_BACKLOG": "0"})  # type: ignore[operator]
    try:
        dsn = next(line.split()[-1] for line in lines if "DSN" in line)
        key = dsn.split("://")[1].split("@")[0]
        project = dsn.rsplit("/", 1)[1]
        response = httpx.post(
            f"http://127.0.0.1:{port}/api/{project}/envelope/",
            content=envelope(sentry_event()),
            headers=auth_header(key),
        )
        assert response.status_code == 429
        assert int(response.headers["retry-after"]) > 0
        assert (
            response.headers["x-sentry-rate-limits"].split(":")[0]
            == response.headers["retry-after"]
        )
    finally:
        process.terminate()
        process.wait(timeout=10)


def _send_until_stopped(
    port: int, key: str, project: str, stop: threading.Event, sent: list[str], acked: list[str]
) -> None:
    """Post one distinct event after another until ``stop``, noting what was acknowledged."""
    with httpx.Client(timeout=10) as client:
        while not stop.is_set():
            event = sentry_event(f"durable {uuid.uuid4().hex}", exc_type="DurabilityError")
            sent.append(event["event_id"])
            try:
                response = client.post(
                    f"http://127.0.0.1:{port}/api/{project}/envelope/",
                    content=gzip.compress(envelope(event)),
                    headers={**auth_header(key), "Content-Encoding": "gzip"},
                )
            except httpx.TransportError:
                return  # the server died under us: this one was never acknowledged
            if response.status_code == 200:
                acked.append(event["event_id"])


def test_acknowledged_events_survive_kill_9_of_every_process(
    tmp_path: pytest.TempPathFactory,
) -> None:
    """Kill the whole tree (supervisor, 2 acceptors, 2 digest workers) mid-traffic, twice.

    Every event answered 200 must be stored after a restart, exactly once:
    the issue's count equals the number of distinct events stored.
    """
    data_dir = tmp_path / "data"  # type: ignore[operator]
    env = {"HELIOGRAPH_WORKERS": "2"}
    process, port, lines = start_server(data_dir, env=env)
    dsn = next(line.split()[-1] for line in lines if "DSN" in line)
    token = next(line.split()[-1] for line in lines if "API token" in line)
    key = dsn.split("://")[1].split("@")[0]
    project = dsn.rsplit("/", 1)[1]
    rng = random.Random(9)
    sent: list[str] = []
    acked: list[str] = []
    for _round in range(2):
        stop = threading.Event()
        senders = [
            threading.Thread(
                target=_send_until_stopped, args=(port, key, project, stop, sent, acked)
            )
            for _ in range(4)
        ]
        for sender in senders:
            sender.start()
        time.sleep(rng.uniform(0.8, 2.0))  # some digested, some queued, some in flight
        kill_tree(process)
        stop.set()
        for sender in senders:
            sender.join(timeout=15)
        process, port, _ = start_server(data_dir, env=env)
    assert len(acked) > 50
    try:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=10) as api:
            deadline = time.monotonic() + 60
            while api.get("/_health").json()["backlog"] and time.monotonic() < deadline:
                time.sleep(0.1)
            stored = {
                event_id
                for event_id in sent
                if api.get(f"/api/0/projects/default/default/events/{event_id}/").status_code == 200
            }
            issues = api.get(
                "/api/0/projects/default/default/issues/", params={"query": "DurabilityError"}
            ).json()
        assert set(acked) <= stored
        assert [int(i["count"]) for i in issues] == [len(stored)]
    finally:
        process.terminate()
        process.wait(timeout=30)
