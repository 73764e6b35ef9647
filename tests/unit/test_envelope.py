"""Envelope parsing, serialising and ingest validation."""

from __future__ import annotations

import time

import orjson
import pytest
from sentry_sdk.envelope import Envelope as SdkEnvelope
from sentry_sdk.envelope import Item as SdkItem

from heliograph.protocols import sentry_envelope as envelope_module
from heliograph.protocols.errors import BadRequest, EnvelopeParseError, PayloadTooLarge
from heliograph.protocols.sentry_envelope import (
    Envelope,
    Item,
    parse_envelope,
    serialize_envelope,
    validate_items,
)

EVENT_ID = "9ec79c33ec9942ab8353589fcb2e04dc"
HEADER = b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","dsn":"https://e12d836b15bb49d7bbf99e64295d995b:@sentry.io/42"}'


def _json_item(item_type: str, payload: object, **headers: object) -> Item:
    return Item(headers={"type": item_type, **headers}, payload=orjson.dumps(payload))


# -- the spec's own examples ------------------------------------------------------


def test_spec_example_two_items_with_lengths() -> None:
    data = (
        HEADER + b"\n"
        b'{"type":"attachment","length":10,"content_type":"text/plain","filename":"hello.txt"}\n'
        b"\xef\xbb\xbfHello\r\n\n"
        b'{"type":"event","length":41,"content_type":"application/json","filename":"application.log"}\n'
        b'{"message":"hello world","level":"error"}\n'
    )
    env = parse_envelope(data)
    assert env.headers["event_id"] == EVENT_ID
    assert env.headers["dsn"].startswith("https://e12d836b")
    assert [i.type for i in env.items] == ["attachment", "event"]
    assert env.items[0].payload == b"\xef\xbb\xbfHello\r\n"
    assert env.items[0].headers["filename"] == "hello.txt"
    assert orjson.loads(env.items[1].payload) == {"message": "hello world", "level": "error"}
    # Last newline omitted: same result.
    assert parse_envelope(data[:-1]) == env


def test_spec_example_empty_attachments() -> None:
    data = (
        f'{{"event_id":"{EVENT_ID}"}}\n'
        '{"type":"attachment","length":0}\n\n'
        '{"type":"attachment","length":0}\n\n'
    ).encode()
    env = parse_envelope(data)
    assert [i.payload for i in env.items] == [b"", b""]
    assert parse_envelope(data[:-1]) == env


@pytest.mark.parametrize("ending", [b"\n", b""])
def test_implicit_length_runs_to_newline_or_eof(ending: bytes) -> None:
    env = parse_envelope(b'{}\n{"type":"attachment"}\nhelloworld' + ending)
    assert env.headers == {}
    assert env.items == [Item(headers={"type": "attachment"}, payload=b"helloworld")]


def test_length_less_items_in_a_row() -> None:
    data = (
        b"{}\n"
        b'{"type":"session"}\n{"started":"2020-02-07T14:16:00Z","attrs":{"release":"a@1"}}\n'
        b'{"type":"session"}\n{"sid":"x"}\n'
        b'{"type":"client_report"}\n{"discarded_events":[]}'
    )
    env = parse_envelope(data)
    assert [i.type for i in env.items] == ["session", "session", "client_report"]
    assert env.items[1].payload == b'{"sid":"x"}'
    assert env.items[2].payload == b'{"discarded_events":[]}'


def test_header_only_envelope_has_no_items() -> None:
    assert parse_envelope(b'{"event_id":"abc"}') == Envelope(headers={"event_id": "abc"})
    assert parse_envelope(b"{}\n").items == []


def test_blank_lines_between_items_are_tolerated() -> None:
    env = parse_envelope(b'{}\n\n{"type":"event","length":2}\n{}\n\n\n{"type":"x"}\nabc\n\n')
    assert [(i.type, i.payload) for i in env.items] == [("event", b"{}"), ("x", b"abc")]


def test_item_count_limit() -> None:
    items = b'{"type":"x"}\n\n' * 1000
    assert len(parse_envelope(b"{}\n" + items).items) == 1000
    with pytest.raises(PayloadTooLarge, match="more than 1000 items"):
        parse_envelope(b"{}\n" + items + b'{"type":"x"}\n')


def test_megabytes_of_blank_lines_parse_quickly() -> None:
    started = time.perf_counter()
    env = parse_envelope(b"{}\n" + b"\n" * (20 * 1024 * 1024) + b'{"type":"x"}\nabc')
    assert [i.payload for i in env.items] == [b"abc"]
    assert time.perf_counter() - started < 1.0


def test_unknown_item_types_and_header_keys_are_kept() -> None:
    data = b'{"future_key":[1,2]}\n{"type":"hologram","length":3,"shiny":true}\nabc\n'
    env = parse_envelope(data)
    assert env.headers == {"future_key": [1, 2]}
    assert env.items[0].headers == {"type": "hologram", "length": 3, "shiny": True}
    validate_items(env)  # unknown types are not an error


# -- malformed envelopes ------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        (b"", "empty envelope: missing envelope header"),
        (b"not json\n", "envelope header is not valid JSON"),
        (b"[1,2]\n", "envelope header is not a JSON object"),
        (b'{}\n{"type":"event",\n{}', "item 1 header is not valid JSON"),
        (b'{}\n"event"\n{}', "item 1 header is not a JSON object"),
        (b'{}\n{"length":2}\n{}\n', "item 1: item header missing 'type'"),
        (b'{}\n{"type":7}\n{}\n', "item 1: 'type' must be a non-empty string"),
        (
            b'{}\n{"type":"a"}\nx\n{"type":"b","length":-1}\n',
            "item 2: length must be a non-negative integer, got -1",
        ),
        (
            b'{}\n{"type":"a","length":"5"}\nhello\n',
            "item 1: length must be a non-negative integer, got '5'",
        ),
        (
            b'{}\n{"type":"a","length":2.0}\nhi\n',
            "item 1: length must be a non-negative integer, got 2.0",
        ),
        (
            b'{}\n{"type":"a","length":true}\nh\n',
            "item 1: length must be a non-negative integer, got True",
        ),
    ],
)
def test_malformed(data: bytes, detail: str) -> None:
    with pytest.raises(EnvelopeParseError) as info:
        parse_envelope(data)
    assert info.value.detail.startswith(detail)
    assert info.value.status == 400


def test_length_longer_than_the_data() -> None:
    data = b'{}\n{"type":"a"}\nok\n{"type":"event","length":500}\n' + b"x" * 120
    with pytest.raises(EnvelopeParseError, match="item 2: length 500 exceeds remaining 120 bytes"):
        parse_envelope(data)


def test_lying_short_length_is_caught_by_the_missing_newline() -> None:
    payload = b'{"message":"hello world"}'
    data = b'{}\n{"type":"event","length":10}\n' + payload + b"\n"
    with pytest.raises(EnvelopeParseError) as info:
        parse_envelope(data)
    assert "item 1 (event): payload of length 10 is followed by b':'" in info.value.detail


def test_lying_long_length_that_swallows_the_next_header() -> None:
    data = b'{}\n{"type":"event","length":4}\n{}\n{"type":"attachment"}\nabc\n'
    with pytest.raises(EnvelopeParseError, match="item 1 \\(event\\): payload of length 4"):
        parse_envelope(data)


def test_item_header_at_eof_with_length_needs_its_payload() -> None:
    with pytest.raises(EnvelopeParseError, match="length 3 exceeds remaining 0 bytes"):
        parse_envelope(b'{}\n{"type":"a","length":3}')
    assert parse_envelope(b'{}\n{"type":"a","length":0}').items[0].payload == b""


# -- round trips with the real SDK's envelopes --------------------------------------


def _sdk_envelope() -> SdkEnvelope:
    env = SdkEnvelope(headers={"event_id": EVENT_ID, "sent_at": "2024-01-01T00:00:00Z"})
    env.add_event({"event_id": EVENT_ID, "message": "line one\nline two", "level": "error"})
    env.add_item(
        SdkItem(payload=b"binary\n\x00\xffwith newlines\n", type="attachment", filename="a.bin")
    )
    env.add_session({"sid": "abc", "status": "ok"})
    return env


def test_parses_what_the_sentry_sdk_serialises() -> None:
    sdk_env = _sdk_envelope()
    env = parse_envelope(sdk_env.serialize())
    assert env.headers == sdk_env.headers
    assert [i.type for i in env.items] == ["event", "attachment", "session"]
    assert [i.payload for i in env.items] == [i.get_bytes() for i in sdk_env.items]
    assert env.items[1].headers["filename"] == "a.bin"
    validate_items(env)


def test_serialize_round_trips_and_sets_exact_lengths() -> None:
    env = Envelope(
        headers={"event_id": EVENT_ID},
        items=[
            Item(headers={"type": "attachment", "length": 999}, payload=b"a\nb"),
            Item(headers={"type": "session"}, payload=b"{}"),
        ],
    )
    data = serialize_envelope(env)
    again = parse_envelope(data)
    assert [i.payload for i in again.items] == [b"a\nb", b"{}"]
    assert again.items[0].headers["length"] == 3
    assert env.items[0].headers["length"] == 999  # the input is not mutated
    # The SDK's own reader understands our output.
    sdk_env = SdkEnvelope.deserialize(data)
    assert [i.get_bytes() for i in sdk_env.items] == [b"a\nb", b"{}"]


# -- validate_items -------------------------------------------------------------------


def test_two_event_items_are_rejected() -> None:
    env = Envelope(items=[_json_item("event", {}), _json_item("event", {})])
    with pytest.raises(BadRequest, match="item 2 \\(event\\): only one event or transaction"):
        validate_items(env)


def test_event_and_transaction_together_are_rejected() -> None:
    env = Envelope(
        items=[
            _json_item("transaction", {}),
            _json_item("attachment", "x"),
            _json_item("event", {}),
        ]
    )
    with pytest.raises(BadRequest, match="item 1 is one already"):
        validate_items(env)


def test_invalid_json_in_an_event_item() -> None:
    env = parse_envelope(
        b'{}\n{"type":"attachment"}\nnot json either\n{"type":"event"}\n{"message": oops}\n'
    )
    with pytest.raises(BadRequest) as info:
        validate_items(env)
    assert info.value.detail.startswith("item 2 (event): invalid JSON: ")
    assert info.value.status == 400


@pytest.mark.parametrize(
    "item_type",
    ["event", "transaction", "feedback", "check_in", "session", "client_report", "user_report"],
)
def test_json_items_must_be_objects(item_type: str) -> None:
    env = Envelope(items=[_json_item(item_type, [1, 2])])
    with pytest.raises(
        BadRequest, match=f"item 1 \\({item_type}\\): payload must be a JSON object, not list"
    ):
        validate_items(env)


def test_event_item_over_one_mib() -> None:
    big = {"message": "x" * (1024 * 1024)}
    with pytest.raises(PayloadTooLarge) as info:
        validate_items(Envelope(items=[_json_item("event", big)]))
    assert info.value.status == 413
    assert "for event items" in info.value.detail


def test_client_report_over_4_kib() -> None:
    report = {"discarded_events": [{"reason": "x" * 5000}]}
    with pytest.raises(PayloadTooLarge, match="item 1 \\(client_report\\)"):
        validate_items(Envelope(items=[_json_item("client_report", report)]))


def test_session_count_limit() -> None:
    sessions = [_json_item("session", {"sid": str(n)}) for n in range(100)]
    validate_items(Envelope(items=sessions))
    with pytest.raises(PayloadTooLarge, match="more than 100 session items"):
        validate_items(Envelope(items=[*sessions, _json_item("session", {})]))


def test_session_aggregate_bucket_limit() -> None:
    item = _json_item("sessions", {"aggregates": [{"exited": 1}] * 101})
    with pytest.raises(PayloadTooLarge, match="101 session buckets"):
        validate_items(Envelope(items=[item]))


def test_attachments_total_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(envelope_module, "MAX_ATTACHMENTS", 10)
    one = Item(headers={"type": "attachment"}, payload=b"123456")
    validate_items(Envelope(items=[one]))
    with pytest.raises(
        PayloadTooLarge, match="item 2 \\(attachment\\): attachments total 12 bytes"
    ):
        validate_items(Envelope(items=[one, one]))
