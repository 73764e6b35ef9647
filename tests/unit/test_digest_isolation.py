"""One payload digest cannot store affects only itself.

Each test queues hostile or failing payloads beside ordinary ones, runs the
real digest worker against a real queue and store, and checks that the
ordinary events are stored, the bad ones are counted and (where they point at
a bug rather than at bad input) quarantined for an admin to replay.

The store is opened by URL like any other; only the tests that make a write
fail inside the store's own transaction reach into the SQLite backend
(``sqlite_module``) to patch one of its write steps: the contract has no hook
for failing one event mid-batch.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import orjson
import pytest

from heliograph.bootstrap import ensure_defaults
from heliograph.bounds import DEPTH_MARKER, MAX_COUNT
from heliograph.digest import worker as worker_module
from heliograph.digest.worker import DigestWorker
from heliograph.store import open_queue, open_store
from heliograph.store.base import DigestBatch, RecordResult, StoreUnavailable
from heliograph.store.queue import PayloadKind
from heliograph.store.sqlite import store as sqlite_module  # faults injected into its writes
from tests.payloads import sentry_event

PROJECT = 1


class Digest:
    """A queue, a store and a worker over them, in a temporary directory."""

    def __init__(self, root: Path) -> None:
        self.store = open_store(f"sqlite:///{root / 'heliograph.sqlite3'}")
        self.queue = open_queue(root)
        ensure_defaults(self.store, "http://127.0.0.1")
        self.worker = DigestWorker(self.queue, self.store, batch_size=50)

    def put(self, kind: PayloadKind, body: bytes) -> None:
        asyncio.run(self.queue.append(PROJECT, kind, time.time(), body))

    def put_event(self, event: dict[str, Any]) -> None:
        self.put("sentry_store", json.dumps(event).encode())

    def stored(self, event_id: str) -> bool:
        return self.store.get_event(PROJECT, event_id) is not None

    def outcomes(self) -> dict[tuple[str, str, str], int]:
        return {(o.category, o.outcome, o.reason): o.quantity for o in self.store.outcomes(PROJECT)}

    def close(self) -> None:
        self.worker.stop()
        self.queue.close()
        self.store.close()


@pytest.fixture
def digest(tmp_path: Path) -> Iterator[Digest]:
    d = Digest(tmp_path)
    yield d
    d.close()


def nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": "value"}
    for _ in range(levels):
        value = {"x": value}
    return value


def depth_of(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    return 0


def generation(**properties: Any) -> dict[str, Any]:
    return {
        "event": "$ai_generation",
        "distinct_id": "user-1",
        "properties": {"$ai_model": "gpt-4o-mini", "$ai_provider": "openai", **properties},
    }


def envelope_items(*items: tuple[dict[str, Any], Any]) -> bytes:
    lines = [b"{}"]
    for header, payload in items:
        lines.append(json.dumps(header).encode())
        lines.append(payload if isinstance(payload, bytes) else json.dumps(payload).encode())
    return b"\n".join(lines) + b"\n"


# Payloads that once stopped digest for every project (all answered 200 at ingest).
POISON: dict[str, tuple[PayloadKind, bytes]] = {
    "extra nested 300 deep": (
        "sentry_store",
        json.dumps(sentry_event("deep extra", extra={"x": nested(300)})).encode(),
    ),
    "contexts nested 300 deep": (
        "sentry_store",
        json.dumps(sentry_event("deep contexts", contexts={"c": nested(300)})).encode(),
    ),
    "request data nested 300 deep": (
        "sentry_store",
        json.dumps(sentry_event("deep request", request={"data": nested(300)})).encode(),
    ),
    "tokens 1e300": ("posthog", json.dumps([generation(**{"$ai_input_tokens": 1e300})]).encode()),
    "tokens 2**64-1": (
        "posthog",
        json.dumps([generation(**{"$ai_output_tokens": 2**64 - 1})]).encode(),
    ),
    "http status 1e30": ("posthog", json.dumps([generation(**{"$ai_http_status": 1e30})]).encode()),
    "token sums overflow": (
        "posthog",
        json.dumps(
            [generation(**{"$ai_input_tokens": 2**62}), generation(**{"$ai_input_tokens": 2**62})]
        ).encode(),
    ),
    "timestamp in year 300000": (
        "sentry_store",
        json.dumps(sentry_event("far future", timestamp=1e13)).encode(),
    ),
    "line number 1e300": (
        "sentry_store",
        json.dumps(
            sentry_event(
                "huge line",
                stacktrace={"frames": [{"function": "f", "lineno": 1e300, "in_app": True}]},
            )
        ).encode(),
    ),
    "client report quantity 2**63": (
        "sentry_envelope",
        envelope_items(
            (
                {"type": "client_report"},
                {"discarded_events": [{"reason": "x", "category": "error", "quantity": 2**63}]},
            )
        ),
    ),
    "client report discarded_events a number": (
        "sentry_envelope",
        envelope_items(({"type": "client_report"}, {"discarded_events": 5})),
    ),
    "item_count 2**63": (
        "sentry_envelope",
        envelope_items(({"type": "session", "item_count": 2**63}, {})),
    ),
    "$dropped_events 2**63": (
        "posthog",
        json.dumps(
            [
                {
                    "event": "$client_report",
                    "distinct_id": "u",
                    "properties": {"$dropped_events": {"queue_full": 2**63}},
                }
            ]
        ).encode(),
    ),
    "OTLP intValue of 26 digits": (
        "otlp_json",
        json.dumps(
            {
                "resourceSpans": [
                    {
                        "scopeSpans": [
                            {
                                "spans": [
                                    {
                                        "traceId": "5b8efff798038103d269b633813fc60c",
                                        "spanId": "eee19b7ec3c1b174",
                                        "name": "chat gpt-4o",
                                        "startTimeUnixNano": "1700000000000000000",
                                        "endTimeUnixNano": "1700000001000000000",
                                        "attributes": [
                                            {
                                                "key": "gen_ai.usage.input_tokens",
                                                "value": {"intValue": "9" * 26},
                                            },
                                            {
                                                "key": "custom.big",
                                                "value": {"intValue": "9" * 26},
                                            },
                                        ],
                                    }
                                ]
                            }
                        ]
                    }
                ]
            }
        ).encode(),
    ),
}


@pytest.mark.parametrize("name", sorted(POISON))
def test_a_poison_payload_does_not_stop_its_neighbours(digest: Digest, name: str) -> None:
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 3000))  # json.dumps of 300 levels
    before = sentry_event("before the poison")
    after = sentry_event("after the poison")
    digest.put_event(before)
    digest.put(*POISON[name])
    digest.put_event(after)

    digest.worker.drain(timeout=30)

    assert digest.queue.depth == 0
    assert digest.stored(before["event_id"]) and digest.stored(after["event_id"])
    # Trimmed or clamped into the stored range, not quarantined.
    assert digest.queue.dead_letters() == []


def test_deep_data_is_trimmed_at_the_documented_depth(digest: Digest) -> None:
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 3000))
    event = sentry_event("deep", extra={"x": nested(300)})
    digest.put_event(event)
    digest.worker.drain()
    stored = digest.store.get_event(PROJECT, event["event_id"])
    assert stored is not None
    extra = stored.event.extra
    assert depth_of(extra) == 20
    assert DEPTH_MARKER in orjson.dumps(extra).decode()


def test_huge_counts_are_clamped_not_dropped(digest: Digest) -> None:
    digest.put(
        "posthog",
        json.dumps(
            [
                generation(**{"$ai_input_tokens": 1e300, "$ai_trace_id": "t1"}),
                generation(**{"$ai_input_tokens": 2**62, "$ai_trace_id": "t1"}),
            ]
        ).encode(),
    )
    digest.worker.drain()
    assert digest.outcomes()[("analytics", "accepted", "")] == 2
    trace = digest.store.llm_trace(PROJECT, "t1")
    assert trace is not None
    assert trace.input_tokens == 2 * MAX_COUNT


def test_an_event_the_store_rejects_is_quarantined_alone(
    digest: Digest, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = sentry_event("the store refuses this one")
    good = [sentry_event(f"fine {n}") for n in range(3)]
    real_insert = sqlite_module._insert_event

    def insert(conn: Any, event: Any, issue_id: int | None, document: bytes) -> bool:
        if event.event_id == bad["event_id"]:
            raise TypeError("cannot store this")
        return real_insert(conn, event, issue_id, document)

    monkeypatch.setattr(sqlite_module, "_insert_event", insert)
    for event in (good[0], bad, good[1], good[2]):
        digest.put_event(event)
    digest.worker.drain()

    assert all(digest.stored(e["event_id"]) for e in good)
    assert not digest.stored(bad["event_id"])
    assert digest.queue.depth == 0
    outcomes = digest.outcomes()
    assert outcomes[("error", "accepted", "")] == 3
    assert outcomes[("error", "invalid", "internal")] == 1
    (letter,) = digest.queue.dead_letters()
    assert "TypeError: cannot store this" in letter.reason

    # Once the bug is gone, an admin replays it and it is stored (once).
    monkeypatch.setattr(sqlite_module, "_insert_event", real_insert)
    assert digest.queue.replay_dead_letters() == 1
    digest.worker.drain()
    assert digest.stored(bad["event_id"])
    assert digest.queue.dead_letters() == []
    assert digest.outcomes()[("error", "accepted", "")] == 4


def test_a_payload_that_trips_a_decoder_bug_is_quarantined(
    digest: Digest, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_to_event = worker_module.decode_payload

    def decode(kind: str, body: bytes, **kwargs: Any) -> Any:
        if b"decoder bug" in body:
            raise KeyError("a bug in a decoder")
        return real_to_event(kind, body, **kwargs)

    monkeypatch.setattr(worker_module, "decode_payload", decode)
    bad, good = sentry_event("decoder bug"), sentry_event("decodes fine")
    digest.put_event(bad)
    digest.put_event(good)
    digest.worker.drain()

    assert digest.stored(good["event_id"]) and not digest.stored(bad["event_id"])
    assert digest.outcomes()[("default", "invalid", "internal")] == 1
    (letter,) = digest.queue.dead_letters()
    assert letter.reason.startswith("decode: KeyError")
    found = digest.queue.dead_letter_body(letter.id)
    assert found is not None and b"decoder bug" in found[1]


def test_a_failing_batch_is_split_and_only_the_culprit_quarantined(
    digest: Digest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure outside any one event's write (here, the LLM rollups) fails the
    whole batch; digest then writes payload by payload."""
    real_record = sqlite_module.record_llm_events

    def record(conn: Any, events: Any) -> None:
        events = list(events)
        if any(e.properties.get("$ai_model") == "explodes" for e in events):
            raise ValueError("rollup failed")
        real_record(conn, events)

    monkeypatch.setattr(sqlite_module, "record_llm_events", record)
    good_error = sentry_event("stored despite the neighbour")
    digest.put("posthog", json.dumps([generation(**{"$ai_model": "fine"})]).encode())
    digest.put("posthog", json.dumps([generation(**{"$ai_model": "explodes"})]).encode())
    digest.put_event(good_error)
    digest.worker.drain()

    assert digest.queue.depth == 0
    assert digest.stored(good_error["event_id"])
    (letter,) = digest.queue.dead_letters()
    assert "ValueError: rollup failed" in letter.reason
    assert digest.outcomes()[("analytics", "accepted", "")] == 1


def test_an_unavailable_store_keeps_payloads_queued(
    digest: Digest, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(batch: DigestBatch) -> Future[RecordResult]:
        future: Future[RecordResult] = Future()
        future.set_exception(StoreUnavailable("database or disk is full"))
        return future

    event = sentry_event("waits for disk space")
    digest.put_event(event)
    monkeypatch.setattr(digest.store, "submit_record", unavailable)
    with pytest.raises(StoreUnavailable):
        digest.worker.run_once()
    assert digest.queue.depth == 1
    assert digest.queue.dead_letters() == []

    monkeypatch.undo()
    digest.worker.drain()
    assert digest.stored(event["event_id"])


def test_a_full_store_disk_keeps_payloads_queued_never_dead_lettered(digest: Digest) -> None:
    """SQLite's own SQLITE_FULL rolls the whole transaction back: the batch waits.

    Before, the writer then tried to roll back to a savepoint SQLite had
    already dropped, the batch failed as if its data were bad, and digest
    quarantined every payload of it one by one.
    """
    padding = {"padding": "x" * 50_000}
    events = [sentry_event(f"waits for disk space {n}", extra=padding) for n in range(3)]
    for event in events:
        digest.put_event(event)
    database = digest.store.db  # type: ignore[attr-defined]
    pages = database.write(lambda conn: conn.execute("PRAGMA page_count").fetchone()[0])
    database.write(lambda conn: conn.execute(f"PRAGMA max_page_count = {pages}"))
    with pytest.raises(StoreUnavailable):
        digest.worker.run_once()
    assert digest.queue.depth == 3
    assert digest.queue.dead_letters() == []

    database.write(lambda conn: conn.execute("PRAGMA max_page_count = 1073741823"))
    digest.worker.drain()
    assert all(digest.stored(event["event_id"]) for event in events)


def test_the_running_worker_never_retries_one_payload_forever(
    digest: Digest, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_record = sqlite_module.record_llm_events
    attempts = 0
    lock = threading.Lock()

    def record(conn: Any, events: Any) -> None:
        nonlocal attempts
        events = list(events)
        if any(e.properties.get("$ai_model") == "explodes" for e in events):
            with lock:
                attempts += 1
            raise ValueError("always fails")
        real_record(conn, events)

    monkeypatch.setattr(sqlite_module, "record_llm_events", record)
    digest.put("posthog", json.dumps([generation(**{"$ai_model": "explodes"})]).encode())
    later = sentry_event("sent after the poison")
    digest.put_event(later)
    digest.worker.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not digest.stored(later["event_id"]):
        time.sleep(0.05)
    assert digest.stored(later["event_id"])
    time.sleep(0.3)
    assert attempts == 2  # once in its batch, once alone: then quarantined
    assert len(digest.queue.dead_letters()) == 1


def test_a_sql_error_about_the_statement_is_the_data_s_not_the_store_s(
    digest: Digest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite reports "no such column" and "database is locked" with the same
    exception class; only the second is a reason to wait."""
    bad = sentry_event("hits a broken statement")
    good = sentry_event("written as usual")
    real_insert = sqlite_module._insert_event

    def insert(conn: Any, event: Any, issue_id: int | None, document: bytes) -> bool:
        if event.event_id == bad["event_id"]:
            conn.execute("SELECT no_such_column FROM events")
        return real_insert(conn, event, issue_id, document)

    monkeypatch.setattr(sqlite_module, "_insert_event", insert)
    digest.put_event(bad)
    digest.put_event(good)
    digest.worker.drain()

    assert digest.queue.depth == 0
    assert digest.stored(good["event_id"])
    (letter,) = digest.queue.dead_letters()
    assert "no such column" in letter.reason


def test_a_quarantined_payload_s_reports_are_counted_once_after_replay(
    digest: Digest, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_prepare = worker_module.prepare_event

    def prepare(event: Any, project: Any) -> Any:
        if event.exceptions and event.exceptions[0].value == "trips a digest bug":
            raise KeyError("a bug in digest")
        return real_prepare(event, project)

    monkeypatch.setattr(worker_module, "prepare_event", prepare)
    event = sentry_event("trips a digest bug")
    report = {
        "discarded_events": [{"reason": "queue_overflow", "category": "error", "quantity": 5}]
    }
    digest.put(
        "sentry_envelope",
        envelope_items(({"type": "event"}, event), ({"type": "client_report"}, report)),
    )
    digest.worker.drain()
    assert ("error", "client_discard", "queue_overflow") not in digest.outcomes()
    assert len(digest.queue.dead_letters()) == 1

    monkeypatch.setattr(worker_module, "prepare_event", real_prepare)
    digest.queue.replay_dead_letters()
    digest.worker.drain()
    assert digest.outcomes()[("error", "client_discard", "queue_overflow")] == 5
    assert digest.stored(event["event_id"])


def test_a_batch_stops_taking_payloads_once_it_holds_enough_events(
    digest: Digest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Payloads of many events (PostHog batches, OTLP exports) make smaller batches."""
    monkeypatch.setattr(worker_module, "MAX_BATCH_EVENTS", 10)
    uuids = []
    for _ in range(5):
        events = [{**generation(), "uuid": str(uuid.uuid4())} for _ in range(4)]
        uuids += [event["uuid"] for event in events]
        digest.put("posthog", json.dumps(events).encode())

    assert digest.worker.run_once() == 3  # 12 events: past 10 after the third payload
    assert digest.queue.depth == 2
    assert digest.worker.run_once() == 2
    assert digest.queue.depth == 0
    assert all(digest.stored(event_uuid) for event_uuid in uuids)
    assert digest.outcomes()[("analytics", "accepted", "")] == 20
