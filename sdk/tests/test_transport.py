"""Delivery: wire shape, batching, gzip, retries, drops and their reports."""

from __future__ import annotations

import gzip
import json
import statistics
import time
import uuid
from datetime import datetime

from sdk_testing import free_port

import heliograph_sdk
from heliograph_sdk import _hub
from heliograph_sdk._sender import parse_retry_after
from heliograph_sdk._transport import backoff_delay


def test_event_shape_and_super_properties(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk(environment="production", release="2.0.0")
    heliograph_sdk.capture("signed_up", {"plan": "pro"})
    assert heliograph_sdk.flush(5)
    request = server.requests[0]
    assert request.path == "/batch/"
    assert request.headers["Content-Encoding"] == "gzip"
    assert request.headers["Content-Type"] == "application/json"
    assert request.raw[:2] == b"\x1f\x8b"
    body = request.body
    assert set(body) == {"api_key", "batch", "sent_at"}
    assert body["api_key"] == "phc_test"
    datetime.fromisoformat(body["sent_at"])
    (event,) = body["batch"]
    assert set(event) == {"event", "distinct_id", "properties", "timestamp", "uuid"}
    assert event["event"] == "signed_up"
    uuid.UUID(event["uuid"])
    assert datetime.fromisoformat(event["timestamp"]).tzinfo is not None
    props = event["properties"]
    assert props["plan"] == "pro"
    assert props["environment"] == "production"
    assert props["release"] == "2.0.0"
    assert props["$lib"] == "heliograph-sdk"
    assert props["$lib_version"] == heliograph_sdk.__version__
    # No user known: a stable anonymous id per process, no person profile.
    assert props["$process_person_profile"] is False
    heliograph_sdk.capture("again")
    assert heliograph_sdk.flush(5)
    assert server.named("again")[0]["distinct_id"] == event["distinct_id"]


def test_properties_are_copied_at_capture(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk(flush_interval=5)
    props = {"n": 1}
    heliograph_sdk.capture("copied", props)
    props["n"] = 2
    assert heliograph_sdk.flush(5)
    assert server.named("copied")[0]["properties"]["n"] == 1


def test_odd_values_are_serialised(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    heliograph_sdk.capture(
        "odd", {"when": datetime(2024, 1, 2), "nan": float("nan"), "set": {1}, "obj": object()}
    )
    assert heliograph_sdk.flush(5)
    props = server.named("odd")[0]["properties"]
    assert props["when"] == "2024-01-02T00:00:00"
    assert props["nan"] is None
    assert props["set"] == [1]
    assert props["obj"].startswith("<object object")


def test_batches_by_size(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk(batch_size=100, flush_interval=30)
    for i in range(250):
        heliograph_sdk.capture("many", {"i": i})
    assert heliograph_sdk.flush(5)
    sizes = [len(r.body["batch"]) for r in server.requests]
    assert sum(sizes) == 250
    assert max(sizes) <= 100
    assert sorted(e["properties"]["i"] for e in server.named("many")) == list(range(250))


def test_batches_by_time_without_flush(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk(batch_size=100, flush_interval=0.2)
    for i in range(3):
        heliograph_sdk.capture("timed", {"i": i})
    server.wait_named("timed", 3, timeout=3)
    assert len(server.requests) == 1


def test_retry_after_on_429(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    server.script = [(429, {"Retry-After": "1"}), (200, {})]
    heliograph_sdk.capture("limited")
    assert heliograph_sdk.flush(5)
    assert len(server.requests) == 2
    assert server.requests[1].at - server.requests[0].at >= 0.95
    assert server.requests[0].body == server.requests[1].body | {
        "sent_at": server.requests[0].body["sent_at"]
    }
    assert len(server.named("limited")) == 2  # the same event, attempted twice
    assert (
        server.requests[0].body["batch"][0]["uuid"] == server.requests[1].body["batch"][0]["uuid"]
    )


def test_backoff_on_5xx(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    server.script = [(503, {}), (500, {}), (200, {})]
    heliograph_sdk.capture("flaky")
    assert heliograph_sdk.flush(10)
    assert len(server.requests) == 3
    gaps = [b.at - a.at for a, b in zip(server.requests, server.requests[1:], strict=False)]
    assert gaps[0] >= 0.2 and gaps[1] >= 0.45  # 0.5s then 1s steps, half jittered


def test_backoff_delay_grows_and_is_capped() -> None:
    assert backoff_delay(0, lambda: 0.0) == 0.25
    assert backoff_delay(0, lambda: 1.0) == 0.5
    assert backoff_delay(3, lambda: 1.0) == 4.0
    assert backoff_delay(30, lambda: 1.0) == 30.0


def test_parse_retry_after() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("junk") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("100000") == 300.0


def test_rejected_batch_is_counted_and_reported(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    server.script = [(400, {})]
    heliograph_sdk.capture("bad")
    heliograph_sdk.flush(2)
    heliograph_sdk.capture("good")
    assert heliograph_sdk.flush(5)
    (report,) = server.named("$client_report")
    assert report["properties"]["$dropped_events"] == {"rejected": 1}
    assert report["properties"]["$process_person_profile"] is False
    assert report["properties"]["environment"] == "unknown"
    assert len(server.named("bad")) == 1  # no retry on 400


def test_full_queue_drops_oldest_and_reports(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk(max_queue_size=10, batch_size=100, flush_interval=30)
    for i in range(25):
        heliograph_sdk.capture("burst", {"i": i})
    assert _hub.client is not None
    assert _hub.client.transport.dropped() == {"queue_full": 15}
    assert heliograph_sdk.flush(5)
    assert [e["properties"]["i"] for e in server.named("burst")] == list(range(15, 25))
    (report,) = server.named("$client_report")
    assert report["properties"]["$dropped_events"] == {"queue_full": 15}


def test_server_down_app_unaffected() -> None:
    port = free_port()
    heliograph_sdk.init(
        api_key="k",
        host=f"http://127.0.0.1:{port}",
        max_queue_size=1000,
        flush_interval=0.01,
        install_hooks=False,
    )
    client = _hub.client
    assert client is not None
    timings = []
    for i in range(20_000):
        start = time.perf_counter()
        heliograph_sdk.capture("lost", {"i": i})
        timings.append(time.perf_counter() - start)
    assert statistics.median(timings) < 50e-6  # microseconds, even with the server gone
    assert len(client.transport._queue) <= 1000
    assert client.transport.dropped().get("queue_full", 0) >= 18_000
    start = time.monotonic()
    assert heliograph_sdk.flush(0.3) is False
    assert time.monotonic() - start < 0.6
    start = time.monotonic()
    assert heliograph_sdk.shutdown(0.3) is False
    assert time.monotonic() - start < 1.0


def test_oversized_event_is_dropped_not_sent(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    heliograph_sdk.capture("huge", {"blob": "x" * (1024 * 1024)})
    heliograph_sdk.capture("small")
    assert heliograph_sdk.flush(5)
    assert not server.named("huge")
    assert server.named("small")
    assert server.named("$client_report")[0]["properties"]["$dropped_events"] == {"too_large": 1}


def test_reinit_replaces_client_and_flushes(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk(flush_interval=30)
    heliograph_sdk.capture("first")
    sdk(environment="second")
    heliograph_sdk.capture("second")
    assert heliograph_sdk.flush(5)
    assert server.named("first")[0]["properties"]["environment"] == "unknown"
    assert server.named("second")[0]["properties"]["environment"] == "second"


def test_body_is_valid_gzip_json(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    heliograph_sdk.capture("ünïcode", {"text": "日本語"})
    assert heliograph_sdk.flush(5)
    body = json.loads(gzip.decompress(server.requests[0].raw))
    assert body["batch"][0]["event"] == "ünïcode"
    assert body["batch"][0]["properties"]["text"] == "日本語"
