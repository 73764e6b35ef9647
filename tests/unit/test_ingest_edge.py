"""Malformed input at the ingest edge gets a 4xx with a reason, never a 500.

One test (or a few) per case an outside fuzzer found: error text that is no
valid header, project ids past 64 bits, PostHog times outside the years
1-9999, JSON nested past what can be stored, event ids that are not hex, an
envelope ``dsn`` naming another key, and clients that hang up mid-body. All
in-process (:mod:`tests.ingest_app`).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from heliograph.ingest.http import MAX_ERROR_HEADER, header_text
from heliograph.protocols import posthog_capture as posthog
from heliograph.protocols.errors import BadRequest
from heliograph.protocols.json_depth import MAX_JSON_DEPTH, depth_exceeds
from heliograph.protocols.sentry_event import choose_event_id, derive_event_id
from heliograph.web.forms import FormError, identifier
from tests.ingest_app import IngestApp, ingest_app
from tests.payloads import auth_header, envelope, sentry_event


@pytest.fixture
def app(tmp_path: Path) -> Iterator[IngestApp]:
    with ingest_app(tmp_path / "data") as found:
        yield found


def _envelope(app: IngestApp, body: bytes, project: int | str | None = None) -> Any:
    path = f"/api/{app.project_id if project is None else project}/envelope/"
    return app.client.post(path, content=body, headers=auth_header(app.public_key))


def _store(app: IngestApp, body: bytes, project: int | str | None = None) -> Any:
    path = f"/api/{app.project_id if project is None else project}/store/"
    return app.client.post(path, content=body, headers=auth_header(app.public_key))


def _nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def _times_stored(app: IngestApp, event_id: str) -> int:
    """How often the event's issue holds it, and how often it was counted (both: once)."""
    stored = app.stored(event_id)
    assert stored is not None and stored.issue_id is not None
    issue = app.runtime.store.get_issue(stored.issue_id)
    events, _ = app.runtime.store.issue_events(stored.issue_id, limit=100, cursor=None)
    assert issue is not None and issue.times_seen == len(events)
    return [e.event_id for e in events].count(event_id)


# --- error text that is no valid header -------------------------------------------------


def test_non_latin1_detail_is_escaped_in_the_header_and_exact_in_the_body(app: IngestApp) -> None:
    response = _envelope(app, envelope(sentry_event()), project="%E2%82%AC")
    assert response.status_code == 404
    assert "'€'" in response.json()["detail"]
    assert "'\\u20ac'" in response.headers["x-sentry-error"]

    body = b'{}\n{"type":"event","length":"\xe4\xb8\xad"}\n{}\n'
    response = _envelope(app, body)
    assert response.status_code == 400
    assert "'中'" in response.json()["detail"]
    assert response.headers["x-sentry-error"].isascii()
    assert "\\u4e2d" in response.headers["x-sentry-error"]


def test_header_text_is_printable_ascii_and_bounded() -> None:
    assert header_text("plain") == "plain"
    assert header_text("a\r\nX-Evil: 1\x00") == "a\\x0d\\x0aX-Evil: 1\\x00"
    assert header_text("€\U0001f600") == "\\u20ac\\U0001f600"
    long = header_text("é" * 1000)
    assert len(long) == MAX_ERROR_HEADER and long.endswith("...")


# --- project ids ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "project", ["99999999999999999999999", "9223372036854775808", "0", "+1", "1_0", "%D9%A1"]
)
def test_project_ids_that_are_no_sqlite_integer_are_404(app: IngestApp, project: str) -> None:
    assert _envelope(app, envelope(sentry_event()), project=project).status_code == 404
    assert _store(app, orjson.dumps(sentry_event()), project=project).status_code == 404
    assert app.runtime.queue.depth == 0


def test_api_and_form_ids_past_64_bits_are_not_found(app: IngestApp) -> None:
    response = app.client.get(
        "/api/0/issues/99999999999999999999999/",
        headers={"Authorization": f"Bearer {app.api_token}"},
    )
    assert response.status_code == 404
    for raw in ("99999999999999999999999", "²", "-1", ""):
        with pytest.raises(FormError):
            identifier({"id": raw}, "id")
    assert identifier({"id": "42"}, "id") == 42


# --- PostHog times outside the years 1-9999 ---------------------------------------------

NOW = datetime(2025, 6, 1, 12, 0).timestamp()
OUT_OF_RANGE = [2**63, -99999999999999, 10**30, "99999-01-01", "-0001-01-01T00:00:00Z", "9" * 400]


def _decoded_time(event: dict[str, Any], **batch: Any) -> float:
    text = orjson.dumps({"api_key": "k", "batch": [event]})
    for key, value in batch.items():
        text = text[:-1] + b',"' + key.encode() + b'":' + _json(value) + b"}"
    [decoded] = posthog.decode_capture(
        body=text, query={}, content_type=None, content_encoding=None, received_at=NOW
    ).events
    return datetime.fromisoformat(decoded["timestamp"]).timestamp()


def _json(value: Any) -> bytes:
    # orjson writes no integer past 64 bits: those go in as text.
    return str(value).encode() if isinstance(value, int) else orjson.dumps(value)


@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_out_of_range_timestamp_falls_back_to_the_time_received(value: Any) -> None:
    text = b'{"api_key":"k","event":"e","distinct_id":"d","timestamp":' + _json(value) + b"}"
    [event] = posthog.decode_capture(
        body=text, query={}, content_type=None, content_encoding=None, received_at=NOW
    ).events
    assert datetime.fromisoformat(event["timestamp"]).timestamp() == pytest.approx(NOW)


@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_out_of_range_sent_at_is_ignored(value: Any) -> None:
    sent = "2020-01-01T00:00:00Z"
    stamp = _decoded_time({"event": "e", "distinct_id": "d", "timestamp": sent}, sent_at=value)
    assert stamp == datetime.fromisoformat("2020-01-01T00:00:00+00:00").timestamp()


def test_offset_past_the_range_falls_back_and_garbage_text_is_still_400() -> None:
    assert _decoded_time({"event": "e", "distinct_id": "d", "offset": -(2**62)}) == NOW
    with pytest.raises(BadRequest, match="timestamp"):
        _decoded_time({"event": "e", "distinct_id": "d", "timestamp": "yesterday"})
    with pytest.raises(BadRequest, match=r"timestamp \(a dict\)"):
        _decoded_time({"event": "e", "distinct_id": "d", "timestamp": {"a": 1}})


def test_out_of_range_times_over_http_are_accepted_and_stored(app: IngestApp) -> None:
    event_uuid = str(uuid.uuid4())
    body = (
        b'{"api_key":"' + app.public_key.encode() + b'","sent_at":' + str(2**63).encode()
        + b',"batch":[{"event":"e","distinct_id":"d","uuid":"' + event_uuid.encode()
        + b'","timestamp":-99999999999999}]}'
    )  # fmt: skip
    before = time.time()
    response = app.client.post("/batch/", content=body)
    assert response.status_code == 200, response.text
    app.digest()
    stored = app.stored(event_uuid)
    assert stored is not None
    assert stored.event.timestamp >= before - 1


# --- JSON nested too deep to store -------------------------------------------------------


def test_depth_limit_is_exact() -> None:
    for depth in (1, MAX_JSON_DEPTH):
        assert not depth_exceeds(orjson.loads(b"[" * depth + b"]" * depth))
    assert depth_exceeds(orjson.loads(b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1)))
    assert not depth_exceeds("text") and not depth_exceeds({})
    # The fast path leans on orjson.dumps refusing depth 255: if that ever changes, say so.
    orjson.dumps(orjson.loads(b"[" * 254 + b"]" * 254))
    with pytest.raises(TypeError):
        orjson.dumps(orjson.loads(b"[" * 255 + b"]" * 255))
    # Not a depth problem (an integer past 64 bits): still answered about depth.
    assert not depth_exceeds({"a": [2**70]})
    assert depth_exceeds({"a": [[2**70]]}, limit=2)


def test_deep_posthog_properties_are_400_and_the_limit_itself_is_stored(app: IngestApp) -> None:
    def batch(depth: int, event_uuid: str) -> bytes:
        return (
            b'{"api_key":"' + app.public_key.encode() + b'","batch":[{"event":"e",'
            b'"distinct_id":"d","uuid":"' + event_uuid.encode() + b'","properties":{"p":'
            + _nested(depth - 1) + b"}}]}"
        )  # fmt: skip

    response = app.client.post("/batch/", content=batch(255, str(uuid.uuid4())))
    assert response.status_code == 400
    assert response.json()["detail"] == (
        f"event 0: properties nested deeper than {MAX_JSON_DEPTH} levels"
    )
    response = app.client.post("/batch/", content=batch(1100, str(uuid.uuid4())))
    assert response.status_code == 400
    fine = str(uuid.uuid4())
    assert app.client.post("/batch/", content=batch(MAX_JSON_DEPTH, fine)).status_code == 200
    app.digest()
    assert app.stored(fine) is not None


def test_the_depth_limit_counts_set_merged_into_properties() -> None:
    """``$set`` beside the properties is merged into them, one level down."""

    def event(set_depth: int) -> dict[str, object]:
        value: dict[str, object] = {}
        for _ in range(set_depth - 1):
            value = {"x": value}
        return {"event": "e", "distinct_id": "d", "$set": value}

    fits = posthog.decode_capture(
        body=orjson.dumps({"api_key": "k", "batch": [event(MAX_JSON_DEPTH - 1)]}),
        query={},
        content_type="application/json",
        content_encoding=None,
    )
    assert "$set" in fits.events[0]["properties"]
    with pytest.raises(BadRequest, match="properties nested deeper"):
        posthog.decode_capture(
            body=orjson.dumps({"api_key": "k", "batch": [event(MAX_JSON_DEPTH)]}),
            query={},
            content_type="application/json",
            content_encoding=None,
        )


def test_deep_sentry_bodies_are_400(app: IngestApp) -> None:
    deep = _nested(300)
    # An envelope without an event id: its header would be re-serialised.
    response = _envelope(app, b'{"x":' + deep + b'}\n{"type":"event"}\n{"message":"m"}\n')
    assert response.status_code == 400
    assert "envelope header is nested deeper than" in response.json()["detail"]
    event = sentry_event()
    payload = orjson.dumps(event)[:-1] + b',"extra":' + deep + b"}"
    response = _envelope(app, envelope(None, ({"type": "event"}, payload)))
    assert response.status_code == 400
    assert "item 1 (event): JSON nested deeper than" in response.json()["detail"]
    response = _store(app, payload)
    assert response.status_code == 400
    assert "nested deeper than" in response.json()["detail"]
    assert app.runtime.queue.depth == 0


def test_deep_otlp_json_is_400(app: IngestApp) -> None:
    value = b'{"arrayValue":{"values":[' * 40 + b'{"stringValue":"x"}' + b"]}}" * 40
    body = (
        b'{"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":' + value
        + b"}]},\"scopeSpans\":[]}]}"
    )  # fmt: skip
    response = app.client.post(
        "/v1/traces",
        content=body,
        headers={"Authorization": f"Bearer {app.public_key}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert "nested deeper than" in response.json()["message"]


# --- event ids that are not 32 hex digits -------------------------------------------------


def test_derived_event_ids_are_stable_hex() -> None:
    assert derive_event_id("hello") == derive_event_id("hello") != derive_event_id("hello!")
    assert len(derive_event_id("../x") or "") == 32
    hexed = "0123456789ABCDEF0123456789abcdef"
    assert derive_event_id(hexed) == hexed.lower()
    assert derive_event_id(str(uuid.UUID(hexed))) == hexed.lower()
    assert derive_event_id("") is None and derive_event_id(42) is None


@pytest.mark.parametrize("given", ["hello", "../x", "0123"])
def test_the_acknowledged_id_is_the_stored_id_and_a_resend_dedupes(
    app: IngestApp, given: str
) -> None:
    expected = derive_event_id(given)
    event = sentry_event("odd id", event_id=given)
    header_less = envelope(None, ({"type": "event"}, orjson.dumps(event)))
    sends = [
        (_envelope, envelope(event)),  # the id in the envelope header
        (_envelope, header_less),  # only in the payload
        (_store, orjson.dumps(event)),
    ]
    for post, body in sends:
        for _ in range(2):
            response = post(app, body)
            assert response.status_code == 200, response.text
            assert response.json() == {"id": expected}
    app.digest()
    assert app.stored(expected or "") is not None
    assert _times_stored(app, expected or "") == 1


def test_a_real_payload_id_wins_over_an_odd_header_id(app: IngestApp) -> None:
    event = sentry_event("real id in the payload")
    body = envelope(event).replace(event["event_id"].encode(), b"not-an-id", 1)
    assert b"not-an-id" in body.split(b"\n", 1)[0]
    response = _envelope(app, body)
    assert response.json() == {"id": event["event_id"]}
    app.digest()
    assert app.stored(event["event_id"]) is not None
    assert choose_event_id("not-an-id", event["event_id"]) == event["event_id"]
    assert choose_event_id("hello", "world") == derive_event_id("hello")
    assert choose_event_id(None, 7) is None


# --- an envelope dsn naming another key -------------------------------------------------


def _with_dsn(app: IngestApp, dsn: Any) -> bytes:
    body = envelope(sentry_event())
    header, rest = body.split(b"\n", 1)
    return orjson.dumps({**orjson.loads(header), "dsn": dsn}) + b"\n" + rest


def test_dsn_naming_another_key_than_the_auth_header_is_400(app: IngestApp) -> None:
    other = f"http://{'0' * 32}@localhost/{app.project_id}"
    response = _envelope(app, _with_dsn(app, other))
    assert response.status_code == 400
    assert "conflicting authentication" in response.json()["detail"]
    query = app.client.post(
        f"/api/{app.project_id}/envelope/?sentry_key={app.public_key}",
        content=_with_dsn(app, other),
    )
    assert query.status_code == 400
    assert _envelope(app, _with_dsn(app, ["not", "a", "dsn"])).status_code == 400
    same = f"http://{app.public_key}@localhost/{app.project_id}"
    assert _envelope(app, _with_dsn(app, same)).status_code == 200
    assert app.runtime.queue.depth == 1


# --- clients that hang up mid-body -------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/api/{project}/envelope/", "sentry"),
        ("/api/{project}/store/", "sentry"),
        ("/batch/", None),
        ("/v1/traces", "otlp"),
    ],
)
def test_a_client_that_disconnects_mid_body_is_no_server_error(
    app: IngestApp, caplog: pytest.LogCaptureFixture, path: str, headers: str | None
) -> None:
    header_list = [(b"content-type", b"application/json")]
    if headers == "sentry":
        header_list.append((b"x-sentry-auth", f"Sentry sentry_key={app.public_key}".encode()))
    elif headers == "otlp":
        header_list.append((b"authorization", f"Bearer {app.public_key}".encode()))
    path = path.format(project=app.project_id)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": header_list,
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 1234),
    }
    incoming: list[dict[str, Any]] = [
        {"type": "http.request", "body": b'{"event_id": "', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with caplog.at_level(logging.DEBUG):
        asyncio.run(app.client.app(scope, receive, send))  # type: ignore[arg-type]
    assert sent[0]["status"] == 499
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert app.runtime.queue.depth == 0


def test_a_full_disk_is_503_with_retry_after_and_earlier_payloads_stay_queued(
    app: IngestApp,
) -> None:
    """SQLite's own "database or disk is full", through the real queue: never a 500."""
    kept = sentry_event()
    assert _store(app, orjson.dumps(kept)).status_code == 200
    # The queue file may not grow by another page: each insert now fails with SQLITE_FULL.
    database = app.runtime.queue._db  # type: ignore[attr-defined]
    pages = database.write(lambda conn: conn.execute("PRAGMA page_count").fetchone()[0])
    database.write(lambda conn: conn.execute(f"PRAGMA max_page_count = {pages}"))
    big = sentry_event(message="x" * 200_000)
    response = _store(app, orjson.dumps(big))
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
    assert "retry later" in response.json()["detail"]
    database.write(lambda conn: conn.execute("PRAGMA max_page_count = 1073741823"))
    app.digest()
    assert app.stored(kept["event_id"]) is not None
    assert app.stored(big["event_id"]) is None
