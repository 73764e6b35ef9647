"""Recordings as each client sends them: unpacked, masked per project, summarised."""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

import orjson
import pytest

from heliograph.digest.decoders import decode_payload
from heliograph.digest.replays import ReplayLimits, ReplayPreparer, sampled
from heliograph.protocols.errors import IngestError
from heliograph.replay import rrweb
from heliograph.replay.privacy import ReplayPrivacy, apply_privacy
from heliograph.replay.recording import from_posthog, from_sentry, replay_id_of
from heliograph.replay.summary import summarize, timeline
from heliograph.store.base import Outcome, Project
from heliograph.store.blobs import FileBlobStore
from heliograph.store.replay_records import ReplayRecord, ReplaySegment

NOW = 1_760_000_000.0
MS = int(NOW * 1000)


def full_snapshot() -> dict[str, Any]:
    """A page with a heading, a filled-in form, an image and a style sheet."""
    return {
        "type": 2,
        "timestamp": MS,
        "data": {
            "node": {"type": 0, "id": 1, "childNodes": [
                {"type": 2, "id": 2, "tagName": "html", "attributes": {}, "childNodes": [
                    {"type": 2, "id": 3, "tagName": "style", "attributes": {}, "childNodes": [
                        {"type": 3, "id": 4, "textContent": "body { color: red }", "isStyle": True},
                    ]},
                    {"type": 2, "id": 5, "tagName": "h1", "attributes": {"title": "Ada's cart"},
                     "childNodes": [{"type": 3, "id": 6, "textContent": "Hello Ada Lovelace"}]},
                    {"type": 2, "id": 7, "tagName": "input",
                     "attributes": {"value": "4111 1111 1111 1111", "placeholder": "Card"}},
                    {"type": 2, "id": 8, "tagName": "textarea", "attributes": {},
                     "childNodes": [{"type": 3, "id": 9, "textContent": "my secret note"}]},
                    {"type": 2, "id": 10, "tagName": "img",
                     "attributes": {"src": "https://cdn.test/face.png", "rr_width": "10px"}},
                ]},
            ]},
            "initialOffset": {"top": 0, "left": 0},
        },
    }  # fmt: skip


def typed(text: str) -> dict[str, Any]:
    return {"type": 3, "timestamp": MS + 500, "data": {"source": 5, "id": 7, "text": text}}


def mutation() -> dict[str, Any]:
    return {
        "type": 3,
        "timestamp": MS + 900,
        "data": {
            "source": 0,
            "texts": [{"id": 6, "value": "Hello Charles"}],
            "attributes": [{"id": 7, "attributes": {"value": "secret", "src": "x.png"}}],
            "removes": [],
            "adds": [{"parentId": 5, "nextId": None,
                      "node": {"type": 3, "id": 11, "textContent": "Order #123"}}],
        },
    }  # fmt: skip


def dumped(events: list[dict[str, Any]]) -> str:
    return orjson.dumps(events).decode()


def test_inputs_are_masked_whatever_the_project_keeps() -> None:
    events = apply_privacy(
        [full_snapshot(), typed("hunter2"), mutation()],
        ReplayPrivacy(unmask_text=True, record_media=True),
    )
    text = dumped(events)
    for secret in ("4111", "hunter2", "secret", "my secret note"):
        assert secret not in text
    # Kept by this project: page text and images.
    assert "Hello Ada Lovelace" in text and "face.png" in text and "Order #123" in text


def test_by_default_text_is_masked_and_media_dropped_but_styles_kept() -> None:
    events = apply_privacy([full_snapshot(), mutation()], ReplayPrivacy())
    text = dumped(events)
    for private in ("Ada", "Lovelace", "Card", "face.png", "Charles", "Order", "x.png"):
        assert private not in text
    assert "body { color: red }" in text  # the page still looks like itself
    assert "***** *** ********" in text  # masked text keeps its shape
    assert "rr_width" in text


def test_canvas_frames_are_dropped_unless_media_is_kept() -> None:
    canvas = {"type": 3, "timestamp": MS, "data": {"source": 9, "id": 3, "commands": []}}
    assert apply_privacy([canvas], ReplayPrivacy()) == []
    assert apply_privacy([canvas], ReplayPrivacy(record_media=True)) == [canvas]


def _packed(value: Any) -> str:
    return gzip.compress(orjson.dumps(value)).decode("latin-1")


def test_posthog_packed_events_are_unpacked() -> None:
    snapshot = full_snapshot()
    packed = {**snapshot, "cv": "2024-10", "data": _packed(snapshot["data"])}
    change = mutation()
    packed_change = {
        **change,
        "cv": "2024-10",
        "data": {**change["data"], **{k: _packed(change["data"][k]) for k in ("texts", "adds")}},
    }
    budget = rrweb.UnpackBudget(rrweb.MAX_UNPACKED_BYTES)
    assert rrweb.unpack_posthog([packed, packed_change, "junk", {"type": True}], budget) == [
        snapshot,
        change,
    ]


def test_a_packed_field_cannot_inflate_past_the_limit() -> None:
    bomb = gzip.compress(b"[" + b"0," * 1_000_000 + b"0]").decode("latin-1")
    with pytest.raises(IngestError, match="too large"):
        rrweb.unpack_posthog(
            [{"type": 2, "timestamp": MS, "cv": "2024-10", "data": bomb}], rrweb.UnpackBudget(1000)
        )


def test_a_payloads_snapshots_share_one_unpack_budget() -> None:
    """Each within the bound, together past it: the later ones are refused, not kept."""
    packed = _packed(["x" * 1000])
    snapshot = {"event": "$snapshot", "distinct_id": "a", "properties": {
        "$session_id": "s1", "$snapshot_data": [
            {"type": 2, "timestamp": MS, "cv": "2024-10", "data": packed}]}}  # fmt: skip
    budget = rrweb.UnpackBudget(2500)
    from_posthog(snapshot, project_id=1, received_at=NOW, budget=budget)
    from_posthog(snapshot, project_id=1, received_at=NOW, budget=budget)
    with pytest.raises(IngestError, match="too large"):
        from_posthog(snapshot, project_id=1, received_at=NOW, budget=budget)


def test_posthog_snapshot_event() -> None:
    raw = {
        "event": "$snapshot",
        "uuid": "0190a-b",
        "distinct_id": "ada",
        "properties": {"$session_id": "0190abcd-0000-7000-8000-000000000001",
                       "$snapshot_data": [full_snapshot()], "$window_id": "w1"},
    }  # fmt: skip
    part = from_posthog(raw, project_id=1, received_at=NOW)
    assert (part.replay_id, part.segment, part.distinct_id) == (
        "0190abcd-0000-7000-8000-000000000001",
        "0190a-b",
        "ada",
    )
    assert part.sampled_by_client and len(part.events) == 1
    with pytest.raises(IngestError, match="session_id"):
        from_posthog({"event": "$snapshot", "properties": {"$session_id": "../x"}},
                     project_id=1, received_at=NOW)  # fmt: skip


def _sentry_items(events: list[Any], segment_id: int = 0, compress: bool = True) -> bytes:
    body = json.dumps(events).encode()  # the standard library writes deeper than orjson
    return (
        orjson.dumps({"segment_id": segment_id})
        + b"\n"
        + (zlib.compress(body) if compress else body)
    )


def test_sentry_replay_items() -> None:
    meta = {"type": "replay_event", "replay_id": "a" * 32, "segment_id": 3,
            "urls": ["https://shop.test/"], "error_ids": ["b" * 32, "../etc"],
            "user": {"id": "42"}, "environment": "prod",
            "request": {"headers": {"User-Agent": "Mozilla/5.0 Chrome/120.0"}}}  # fmt: skip
    part = from_sentry(meta, _sentry_items([full_snapshot()], 3), envelope_id=None,
                       project_id=1, received_at=NOW)  # fmt: skip
    assert (part.replay_id, part.segment, part.source) == ("a" * 32, "000000003", "sentry")
    assert part.error_ids == ["b" * 32] and part.urls == ["https://shop.test/"]
    assert (part.distinct_id, part.environment) == ("42", "prod")
    assert len(part.events) == 1 and not part.sampled_by_client
    plain = from_sentry(None, _sentry_items([typed("x")], 1, compress=False),
                        envelope_id="c" * 32, project_id=1, received_at=NOW)  # fmt: skip
    assert (plain.replay_id, plain.segment) == ("c" * 32, "000000001")
    with pytest.raises(IngestError):
        from_sentry(None, b'{"segment_id": 0}\n\x78\x9cbroken', envelope_id="c" * 32,
                    project_id=1, received_at=NOW)  # fmt: skip


def test_an_error_names_its_replay() -> None:
    assert replay_id_of({}, {"replay": {"replay_id": "d" * 32}}, None) == "d" * 32
    assert replay_id_of({"replayId": "e" * 32}, {}, None) == "e" * 32
    assert replay_id_of({}, {}, "0190abcd-1") == "0190abcd-1"
    assert replay_id_of({"replayId": "<script>"}, {}, None) is None


def test_summary_and_timeline_read_both_clients_marks() -> None:
    events = [
        {"type": 4, "timestamp": MS, "data": {"href": "https://shop.test/"}},
        {"type": 3, "timestamp": MS + 100, "data": {"source": 2, "type": 2, "id": 5}},
        {"type": 6, "timestamp": MS + 200, "data": {"plugin": "rrweb/console@1",
         "payload": {"level": "error", "payload": ['"boom"']}}},
        {"type": 6, "timestamp": MS + 300, "data": {"plugin": "rrweb/network@1",
         "payload": {"requests": [{"name": "/api/pay", "responseStatus": 502},
                                  {"name": "/ok", "responseStatus": 200}]}}},
        {"type": 5, "timestamp": MS + 400, "data": {"tag": "performanceSpan", "payload": {
         "op": "resource.fetch", "description": "/api/cart", "data": {"statusCode": 404}}}},
        {"type": 3, "timestamp": 1, "data": {"source": 1}},  # a broken clock
    ]  # fmt: skip
    summary = summarize(events, received_at=NOW)
    assert (summary.started_at, summary.ended_at) == (NOW, NOW + 0.4)
    assert (summary.clicks, summary.console_errors, summary.network_errors) == (1, 1, 2)
    assert summary.urls == ["https://shop.test/"]
    moments = timeline(events, NOW)
    assert [(m.offset_ms, m.kind, m.label) for m in moments] == [
        (0, "navigation", "https://shop.test/"),
        (100, "click", "Click"),
        (200, "console", "boom"),
        (300, "network", "502 /api/pay"),
        (400, "network", "404 /api/cart"),
    ]


class _Store:
    """The replay sink digest writes to: a blob directory, sizes remembered."""

    def __init__(self, tmp: Any) -> None:
        self.blobs = FileBlobStore(tmp)
        self.usage = 0
        self.committed: set[tuple[int, str, str]] = set()

    def get_replay(self, project_id: int, replay_id: str) -> ReplayRecord | None:
        return None

    def replay_segment_exists(self, project_id: int, replay_id: str, segment: str) -> bool:
        return (project_id, replay_id, segment) in self.committed

    def replay_usage(self, project_id: int) -> int:
        return self.usage


def project(**settings: Any) -> Project:
    return Project(1, 1, "acme", "shop", "Shop", "javascript", "allowed", False, 1000, 90,
                   **settings)  # fmt: skip


def test_digest_masks_stores_and_bounds_a_recording(tmp_path: Any) -> None:
    store = _Store(tmp_path)
    preparer = ReplayPreparer(store, ReplayLimits(per_replay=10_000, per_project=10**9))
    part = from_sentry({"replay_id": "f" * 32, "segment_id": 0},
                       _sentry_items([full_snapshot(), typed("hunter2")]),
                       envelope_id=None, project_id=1, received_at=NOW)  # fmt: skip
    kept = preparer.prepare(part, project())
    assert isinstance(kept, ReplaySegment)
    stored = zlib.decompress(store.blobs.get(kept.blob_key) or b"")
    assert b"hunter2" not in stored and b"Lovelace" not in stored and b"body { color" in stored
    # The same replay keeps growing until its bound.
    noise = [{"type": 3, "timestamp": MS, "data": {"x": list(range(5000))}}]
    big = from_sentry({"replay_id": "f" * 32, "segment_id": 1}, _sentry_items(noise),
                      envelope_id=None, project_id=1, received_at=NOW)  # fmt: skip
    assert preparer.prepare(big, project()) == Outcome(1, "replay", "rate_limited",
                                                       "replay_too_large", 1)  # fmt: skip
    assert preparer.prepare(part, project(replay_enabled=False)) == Outcome(
        1, "replay", "filtered", "replay_disabled", 1
    )


def test_server_sampling_is_stable_per_replay() -> None:
    ids = [f"{n:032x}" for n in range(1000)]
    kept = [i for i in ids if sampled(i, 30)]
    assert 200 < len(kept) < 400
    assert kept == [i for i in ids if sampled(i, 30)]
    assert all(sampled(i, 100) for i in ids) and not any(sampled(i, 0) for i in ids)


def test_envelopes_and_posthog_batches_decode_to_recordings() -> None:
    header = orjson.dumps({"event_id": "a" * 32}) + b"\n"
    meta = orjson.dumps({"type": "replay_event", "replay_id": "a" * 32, "segment_id": 0})
    recording = _sentry_items([full_snapshot()])
    envelope = (
        header
        + orjson.dumps({"type": "replay_event", "length": len(meta)}) + b"\n" + meta + b"\n"
        + orjson.dumps({"type": "replay_recording", "length": len(recording)}) + b"\n"
        + recording + b"\n"
    )  # fmt: skip
    decoded = decode_payload("sentry_envelope", envelope, encoding=None, project_id=1,
                             received_at=NOW)  # fmt: skip
    assert [r.replay_id for r in decoded.recordings] == ["a" * 32] and not decoded.events
    batch = orjson.dumps([
        {"event": "$snapshot", "distinct_id": "ada", "properties": {
            "$session_id": "s-1", "$snapshot_data": [full_snapshot()]}},
        {"event": "$snapshot", "distinct_id": "ada", "properties": {"$snapshot_data": []}},
        {"event": "$pageview", "distinct_id": "ada", "properties": {"$session_id": "s-1"}},
    ])  # fmt: skip
    decoded = decode_payload("posthog", batch, encoding=None, project_id=1, received_at=NOW)
    assert [r.replay_id for r in decoded.recordings] == ["s-1"]
    assert [e.name for e in decoded.events] == ["$pageview"]
    assert [(o.category, o.outcome) for o in decoded.outcomes] == [("replay", "invalid")]


def test_a_batch_prepared_again_is_not_counted_twice(tmp_path: Any) -> None:
    store = _Store(tmp_path)
    preparer = ReplayPreparer(store, ReplayLimits(segments_per_replay=1))
    part = from_sentry({"replay_id": "f" * 32, "segment_id": 0}, _sentry_items([typed("x")]),
                       envelope_id=None, project_id=1, received_at=NOW)  # fmt: skip
    preparer.new_batch()
    assert isinstance(preparer.prepare(part, project()), ReplaySegment)
    assert preparer.prepare(part, project()) is None  # the same segment twice in a batch
    preparer.new_batch()  # that batch failed: prepared again, not refused as a second segment
    kept = preparer.prepare(part, project())
    assert isinstance(kept, ReplaySegment)
    store.committed.add((1, "f" * 32, kept.segment))
    preparer.new_batch()  # committed: a client's retry is skipped before its blob is written
    assert preparer.prepare(part, project()) is None


def test_hostile_shapes_are_dropped_or_cut_never_crash(tmp_path: Any) -> None:
    preparer = ReplayPreparer(_Store(tmp_path))
    node: dict[str, Any] = {"type": 3, "id": 0, "textContent": "deep"}
    for level in range(300):  # a DOM nested 300 deep
        node = {"type": 2, "id": level + 1, "tagName": "div", "attributes": {},
                "childNodes": [node]}  # fmt: skip
    deep = {"type": 2, "timestamp": MS, "data": {"node": node}}
    odd = [
        {"type": 6, "timestamp": MS, "data": {"plugin": "rrweb/network@1",
                                             "payload": {"requests": 5}}},
        {"type": 3, "timestamp": MS, "data": {"source": 0, "adds": "H4sI-not-unpacked"}},
        {"type": 2, "timestamp": MS, "data": "a packed snapshot without its cv mark"},
    ]  # fmt: skip
    part = from_sentry({"replay_id": "e" * 32, "segment_id": 0}, _sentry_items([deep, *odd]),
                       envelope_id=None, project_id=1, received_at=NOW)  # fmt: skip
    kept = preparer.prepare(part, project())
    assert isinstance(kept, ReplaySegment)
    stored = orjson.loads(zlib.decompress(preparer.store.blobs.get(kept.blob_key) or b""))
    assert [event["type"] for event in stored] == [2, 6, 3]  # the unreadable snapshot dropped
    assert stored[2]["data"]["adds"] == []


def test_scripts_comments_numbers_and_network_bodies_are_not_kept() -> None:
    page = {"type": 2, "timestamp": MS, "data": {"node": {"type": 0, "childNodes": [
        {"type": 2, "tagName": "script", "attributes": {}, "childNodes": [
            {"type": 3, "textContent": '{"user": "ada@example.com"}'}]},
        {"type": 5, "textContent": "account 12345"},
        {"type": 2, "tagName": "input", "attributes": {"value": 4111111111111111}},
    ]}}}  # fmt: skip
    typed_number = {"type": 3, "timestamp": MS, "data": {"source": 5, "text": 987654}}
    network = {
        "type": 6,
        "timestamp": MS,
        "data": {
            "plugin": "rrweb/network@1",
            "payload": {
                "requests": [
                    {
                        "name": "/api/login",
                        "responseStatus": 200,
                        "requestBody": "password=hunter2",
                        "responseHeaders": {"set-cookie": "s"},
                    }
                ]
            },
        },
    }
    span = {
        "type": 5,
        "timestamp": MS,
        "data": {
            "tag": "performanceSpan",
            "payload": {
                "op": "resource.fetch",
                "description": "/api",
                "data": {
                    "statusCode": 200,
                    "request": {"body": "password=hunter2", "headers": {"a": "b"}},
                },
            },
        },
    }
    text = dumped(apply_privacy([page, typed_number, network, span],
                                ReplayPrivacy(unmask_text=True, record_media=True)))  # fmt: skip
    for secret in ("ada@example.com", "12345", "4111111111111111", "987654", "hunter2",
                   "set-cookie"):  # fmt: skip
        assert secret not in text
    assert "/api/login" in text and "SCRIPT_PLACEHOLDER" in text
