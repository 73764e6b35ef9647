"""Memory under hostile bodies: the process-wide budget, streaming decoding and
envelope checking, and every ingest endpoint's answer when the budget is spent.

The server itself, under load, is measured by ``tests/e2e/test_memory.py``.
"""

from __future__ import annotations

import asyncio
import gzip
import random
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from heliograph import budget as memory
from heliograph.app import create_app
from heliograph.bootstrap import ensure_defaults
from heliograph.config import ConfigError, Settings
from heliograph.protocols import bodies
from heliograph.protocols.errors import (
    EnvelopeParseError,
    ForbiddenError,
    IngestError,
    Overloaded,
    PayloadTooLarge,
)
from heliograph.protocols.sentry_envelope import (
    JSON_ITEM_TYPES,
    EnvelopeReader,
    parse_envelope,
    validate_items,
)
from heliograph.runtime import Runtime

KiB = 1024
MiB = 1024 * KiB


def gzip_zeros(prefix: bytes, size: int, suffix: bytes = b"") -> bytes:
    """gzip of ``prefix``, ``size`` zero bytes and ``suffix``, built a MiB at a time."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [compressor.compress(prefix)]
    block = b"\0" * MiB
    for _ in range(size // MiB):
        parts.append(compressor.compress(block))
    parts += [compressor.compress(b"\0" * (size % MiB) + suffix), compressor.flush()]
    return b"".join(parts)


# -- the budget -----------------------------------------------------------------------


def test_reservations_share_the_budget_and_give_it_back() -> None:
    budget = memory.MemoryBudget(100)
    first, second = budget.reservation(), budget.reservation()
    first.grow(60)
    second.grow(40)
    assert budget.in_use == 100 and budget.peak == 100
    with pytest.raises(Overloaded) as refused:
        second.grow(1)
    assert refused.value.status == 503 and refused.value.retry_after > 0
    assert budget.refused == 1 and second.held == 40
    first.shrink(10)
    second.grow(10)
    first.release()
    second.release()
    assert budget.in_use == 0 and first.held == second.held == 0
    first.release()  # twice is harmless
    assert budget.in_use == 0


def test_a_request_larger_than_the_whole_budget_is_413_not_503() -> None:
    budget = memory.MemoryBudget(100)
    reservation = budget.reservation()
    reservation.grow(70)
    with pytest.raises(PayloadTooLarge):
        reservation.grow(31)
    assert budget.refused == 0 and budget.in_use == 70


def test_reserving_releases_on_error_and_restores_the_current_reservation() -> None:
    budget = memory.MemoryBudget(MiB)
    assert memory.current() is None
    with pytest.raises(RuntimeError), memory.reserving(budget) as reservation:
        assert memory.current() is reservation
        memory.charge(1000)
        raise RuntimeError("client went away")
    assert memory.current() is None and budget.in_use == 0
    memory.charge(10**12)  # outside a request (digest): nothing to charge


def test_decompress_is_charged_to_the_running_request() -> None:
    body = gzip.compress(b"x" * (3 * MiB))
    budget = memory.MemoryBudget(8 * MiB)
    with memory.reserving(budget) as reservation:
        assert len(bodies.decompress(body, "gzip", 10 * MiB)) == 3 * MiB
        assert reservation.held == 3 * MiB  # the pieces' copy was given back once joined
        assert budget.peak <= 6 * MiB + 64 * KiB
    other = budget.reservation()
    other.grow(6 * MiB)
    with pytest.raises(Overloaded), memory.reserving(budget):
        bodies.decompress(body, "gzip", 10 * MiB)
    assert budget.in_use == 6 * MiB


def test_decoding_stops_where_its_consumer_stops() -> None:
    bomb = gzip_zeros(b"", 200 * MiB)  # twice the envelope limit
    decoder = bodies.BodyDecoder("gzip", bodies.MAX_ENVELOPE)
    pieces = decoder.decode(bomb)
    first = next(pieces)
    assert 0 < len(first) <= 64 * KiB  # and nothing past it was decoded: no 413 yet


def test_config_reads_the_budget_and_refuses_too_small_a_one() -> None:
    assert Settings().ingest_memory_mb == 128
    assert Settings.from_env({"HELIOGRAPH_INGEST_MEMORY_MB": "64"}).ingest_memory_mb == 64
    with pytest.raises(ConfigError, match="at least 48"):
        Settings.from_env({"HELIOGRAPH_INGEST_MEMORY_MB": "8"})


# -- the streaming envelope reader ------------------------------------------------------


def _pieces(data: bytes, rng: random.Random) -> Iterator[bytes]:
    pos = 0
    while pos < len(data):
        size = rng.choice((1, 2, 3, 7, 64, 1000, len(data)))
        yield data[pos : pos + size]
        pos += size


def _random_envelope(rng: random.Random) -> bytes:
    """Mostly valid envelopes, with the usual ways of being broken mixed in."""
    parts = [rng.choice([b'{"event_id":"abc"}', b"{}", b"", b"[1]", b'{"dsn":"x"}'])]
    for _ in range(rng.randint(0, 5)):
        item_type = rng.choice(["event", "attachment", "session", "client_report", "x", ""])
        payload = rng.choice(
            [b"{}", b'{"a":1}', b"hello", b"", b"line\nbreak", b"[1]", b"\x00" * 50, b"{" * 3]
        )
        headers: dict[str, Any] = {"type": item_type} if item_type else {}
        style = rng.random()
        if style < 0.5:
            headers["length"] = len(payload)
        elif style < 0.6:
            headers["length"] = len(payload) + rng.choice([-2, 3, 100])
        elif style < 0.65:
            headers["length"] = "7"
        parts.append(orjson.dumps(headers) if rng.random() > 0.03 else b"{nope")
        parts.append(payload)
        if rng.random() < 0.1:
            parts.append(b"")  # a blank line
    data = b"\n".join(parts)
    return data + b"\n" if rng.random() < 0.7 else data


def _outcome(run: Any) -> tuple[str, Any]:
    try:
        return "ok", run()
    except IngestError as exc:
        return type(exc).__name__, None


def test_envelope_reader_parses_the_same_however_the_body_is_split() -> None:
    """``parse_envelope`` is the reader fed everything at once: split into
    random pieces, the same bytes must give the same envelope or error."""
    rng = random.Random(7)
    for _ in range(3000):
        data = _random_envelope(rng)

        def streamed(data: bytes = data) -> Any:
            reader = EnvelopeReader()
            for piece in _pieces(data, rng):
                reader.feed(piece)
            return reader.finish()

        expected = _outcome(lambda data=data: parse_envelope(data))
        assert _outcome(streamed) == expected, data


def test_checks_while_streaming_agree_with_the_checks_on_a_whole_envelope() -> None:
    """The item checks run as pieces arrive (``validate=True``, payloads
    dropped) or on a parsed envelope (``validate_items``): same verdicts."""
    rng = random.Random(11)
    accepted = 0
    for _ in range(3000):
        data = _random_envelope(rng)

        def batch(data: bytes = data) -> Any:
            env = parse_envelope(data)
            validate_items(env)
            return env

        def streamed(data: bytes = data) -> Any:
            reader = EnvelopeReader(validate=True, keep=JSON_ITEM_TYPES.__contains__)
            for piece in _pieces(data, rng):
                reader.feed(piece)
            env = reader.finish()
            assert reader.complete == all(item.type in JSON_ITEM_TYPES for item in env.items)
            return [(i.headers, i.payload) for i in env.items if i.type in JSON_ITEM_TYPES]

        want, got = _outcome(batch), _outcome(streamed)
        assert (want[0] == "ok") == (got[0] == "ok"), (data, want, got)
        if want[0] == "ok":
            accepted += 1
            kept = [(i.headers, i.payload) for i in want[1].items if i.type in JSON_ITEM_TYPES]
            assert got[1] == kept
    assert accepted > 300  # the generator makes enough valid envelopes to compare


def test_dropped_payloads_are_not_held_and_kept_ones_are_charged() -> None:
    budget = memory.MemoryBudget(4 * MiB)
    event = orjson.dumps({"message": "x" * 10_000})
    with memory.reserving(budget) as reservation:
        reader = EnvelopeReader(validate=True, keep=JSON_ITEM_TYPES.__contains__)
        reader.feed(b'{"event_id":"' + uuid.uuid4().hex.encode() + b'"}\n')
        reader.feed(b'{"type":"event","length":%d}\n' % len(event) + event + b"\n")
        reader.feed(b'{"type":"attachment","length":%d}\n' % (50 * MiB))
        for _ in range(50):
            reader.feed(b"\0" * MiB)  # more than the whole budget, streamed through
        reader.feed(b"\n")
        env = reader.finish()
        held = reservation.held
    assert [i.type for i in env.items] == ["event", "attachment"]
    assert env.items[0].payload == event and env.items[1].payload == b""
    assert not reader.complete and reader.payload_bytes == len(event) + 50 * MiB
    assert len(event) <= held < len(event) + 4 * KiB


def test_oversized_items_are_refused_before_the_rest_is_decoded() -> None:
    reader = EnvelopeReader(validate=True, keep=JSON_ITEM_TYPES.__contains__)
    reader.feed(b'{}\n{"type":"event"}\n')
    with pytest.raises(PayloadTooLarge, match="item 1 \\(event\\)"):
        for _ in range(100):
            reader.feed(b" " * (64 * KiB))  # no newline: the payload goes on
    declared = EnvelopeReader(validate=True)
    with pytest.raises(PayloadTooLarge, match="5000000 bytes exceeds"):
        declared.feed(b'{}\n{"type":"transaction","length":5000000}\n')


def test_session_items_have_a_size_limit_since_they_are_parsed_whole() -> None:
    big = b"{" + b'"a":[' + b"{}," * (400 * KiB) + b"{}]}"
    data = b'{}\n{"type":"session","length":%d}\n' % len(big) + big + b"\n"
    with pytest.raises(PayloadTooLarge, match="session"):
        validate_items(parse_envelope(data))


def test_envelope_header_is_bounded_and_checked_before_any_item() -> None:
    seen: list[dict[str, Any]] = []

    def refuse(headers: dict[str, Any]) -> None:
        seen.append(headers)
        raise ForbiddenError("unknown or revoked public key")

    reader = EnvelopeReader(on_header=refuse, header_limit=16 * KiB)
    with pytest.raises(ForbiddenError):
        reader.feed(b'{"dsn":"http://k@h/1"}\n{"type":"bad header"')
    assert seen == [{"dsn": "http://k@h/1"}]
    long_line = EnvelopeReader(on_header=refuse, header_limit=16 * KiB)
    long_line.feed(b'{"dsn":"' + b"x" * (16 * KiB - 100))
    with pytest.raises(PayloadTooLarge, match="envelope header line exceeds 16384 bytes"):
        long_line.feed(b"x" * 200)
    with pytest.raises(EnvelopeParseError):
        EnvelopeReader(on_header=refuse, header_limit=16 * KiB).feed(b"not json\n")


# -- the endpoints, in-process ------------------------------------------------------


class App:
    def __init__(self, runtime: Runtime, client: TestClient, key: str, project_id: int) -> None:
        self.runtime = runtime
        self.client = client
        self.key = key
        self.project_id = project_id

    @property
    def budget(self) -> memory.MemoryBudget:
        return self.runtime.ingest_memory

    def envelope_url(self) -> str:
        return f"/api/{self.project_id}/envelope/"

    def auth(self) -> dict[str, str]:
        return {"X-Sentry-Auth": f"Sentry sentry_version=7, sentry_key={self.key}"}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    settings = Settings(data_dir=tmp_path / "data", ingest_memory_mb=48)
    runtime = Runtime(settings)
    try:
        welcome = ensure_defaults(runtime.store, settings.base_url)
        runtime.keys.reload()
        client = TestClient(create_app(settings, runtime), raise_server_exceptions=False)
        yield App(runtime, client, welcome.public_key, welcome.project.id)
    finally:
        runtime.close()


def _event_envelope(event_id: str, *extra: bytes) -> bytes:
    event = orjson.dumps({"event_id": event_id, "message": "hello"})
    return b"\n".join(
        [orjson.dumps({"event_id": event_id}), b'{"type":"event"}', event, *extra, b""]
    )


def test_every_ingest_endpoint_answers_503_in_its_dialect_when_the_budget_is_spent(
    app: App,
) -> None:
    body = b"x" * (64 * KiB)
    hog = app.budget.reservation()
    hog.grow(app.budget.limit - 32 * KiB)
    held = app.budget.in_use
    # Uncompressed, so that the body as it arrived (kept for the queue) is 64 KiB.
    envelope = app.client.post(
        app.envelope_url(),
        content=_event_envelope(uuid.uuid4().hex, b'{"type":"x"}', body),
        headers=app.auth(),
    )
    store = app.client.post(
        f"/api/{app.project_id}/store/",
        content=orjson.dumps({"message": body.decode()}),
        headers=app.auth(),
    )
    for response in (envelope, store):
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == str(memory.OVERLOAD_RETRY_AFTER)
        assert "memory" in response.headers["x-sentry-error"]
        assert response.headers["x-sentry-rate-limits"] == "2::organization:memory"
    batch = orjson.dumps(
        {"api_key": app.key, "batch": [{"event": "e", "distinct_id": body.decode()}]}
    )
    posthog = app.client.post("/batch/", content=batch)
    assert posthog.status_code == 503 and posthog.headers["retry-after"] == "2"
    assert "memory" in posthog.json()["detail"]
    otlp = app.client.post(
        "/v1/traces",
        content=orjson.dumps({"resourceSpans": [], "pad": body.decode()}),
        headers={"Authorization": f"Bearer {app.key}", "Content-Type": "application/json"},
    )
    assert otlp.status_code == 503 and otlp.headers["retry-after"] == "2"
    assert otlp.json()["code"] == 14  # google.rpc.Code UNAVAILABLE
    # Every refused request gave back what it had reserved.
    assert app.budget.in_use == held and app.budget.refused == 4
    hog.release()
    event_id = uuid.uuid4().hex
    accepted = app.client.post(
        app.envelope_url(), content=_event_envelope(event_id), headers=app.auth()
    )
    assert accepted.status_code == 200 and accepted.json() == {"id": event_id}
    assert app.budget.in_use == 0


def test_a_bad_key_in_the_dsn_header_costs_only_the_header_line(app: App) -> None:
    bad_dsn = f"http://{'0' * 32}@testserver/{app.project_id}"
    # 200 MiB: decoding it all would be a 413; a corrupt tail would be a 400.
    header = orjson.dumps({"event_id": uuid.uuid4().hex, "dsn": bad_dsn})
    bomb = gzip_zeros(header + b'\n{"type":"attachment"}\n', 200 * MiB)
    for body in (bomb, bomb[:-30] + b"\xff" * 30):
        response = app.client.post(
            app.envelope_url(), content=body, headers={"Content-Encoding": "gzip"}
        )
        assert response.status_code == 403, response.text
    assert app.budget.peak < 256 * KiB and app.budget.in_use == 0
    no_newline = gzip_zeros(b'{"dsn":"', 1 * MiB)
    response = app.client.post(
        app.envelope_url(), content=no_newline, headers={"Content-Encoding": "gzip"}
    )
    assert response.status_code == 413
    assert "16384" in response.headers["x-sentry-error"]


def test_a_valid_dsn_header_lets_the_rest_be_decoded(app: App) -> None:
    event_id = uuid.uuid4().hex
    header = orjson.dumps(
        {"event_id": event_id, "dsn": f"http://{app.key}@testserver/{app.project_id}"}
    )
    body = gzip_zeros(header + b'\n{"type":"attachment","length":%d}\n' % (60 * MiB), 60 * MiB)
    response = app.client.post(
        app.envelope_url(), content=body, headers={"Content-Encoding": "gzip"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"id": event_id}
    # 60 MiB decoded and checked, with the 48 MiB budget: the attachment streamed by.
    assert app.budget.peak < 1 * MiB and app.budget.in_use == 0


def test_an_envelope_rewritten_with_an_event_id_keeps_its_attachments(app: App) -> None:
    attachment = bytes(range(256)) * 4096  # 1 MiB
    body = (
        b'{}\n{"type":"event"}\n{"message":"no id anywhere"}\n'
        + b'{"type":"attachment","length":%d}\n' % len(attachment)
        + attachment
        + b"\n"
    )
    response = app.client.post(
        app.envelope_url(),
        content=gzip.compress(body),
        headers={**app.auth(), "Content-Encoding": "gzip"},
    )
    assert response.status_code == 200, response.text
    event_id = response.json()["id"]
    [queued] = app.runtime.queue.oldest(10)
    assert queued.encoding is None
    env = parse_envelope(queued.body)
    assert env.headers["event_id"] == event_id
    assert [i.type for i in env.items] == ["event", "attachment"]
    assert env.items[1].payload == attachment
    assert app.budget.in_use == 0
    # Twice 40 MiB of attachments is more than the whole 48 MiB budget: 413, not 503.
    big = gzip_zeros(
        b'{}\n{"type":"event"}\n{}\n{"type":"attachment","length":%d}\n' % (40 * MiB),
        40 * MiB,
        b"\n",
    )
    response = app.client.post(
        app.envelope_url(), content=big, headers={**app.auth(), "Content-Encoding": "gzip"}
    )
    assert response.status_code == 413, response.text
    assert app.budget.in_use == 0


def test_a_client_that_hangs_up_gives_its_reservation_back(app: App) -> None:
    asgi = app.client.app
    messages = [
        {"type": "http.request", "body": b'{"event_id":"abc"}\n{"type":"x"}\n', "more_body": True},
        {"type": "http.request", "body": b"y" * (64 * KiB), "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": app.envelope_url(),
        "raw_path": app.envelope_url().encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"x-sentry-auth", f"Sentry sentry_key={app.key}".encode()),
        ],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
        "state": {},
    }
    asyncio.run(asgi(scope, receive, send))  # type: ignore[arg-type]
    assert app.budget.peak >= 64 * KiB  # it did hold the body it had received
    assert app.budget.in_use == 0
    assert app.runtime.queue.depth == 0


def test_json_is_charged_what_parsing_it_costs_not_its_size(app: App) -> None:
    """Many tiny values cost far more parsed than sent: a PostHog batch of
    them is refused before it is parsed; ordinary batches pass."""
    tiny = b'{"event":"x","distinct_id":"u","properties":{}},'
    many = b'{"api_key":"' + app.key.encode() + b'","batch":[' + tiny * 100_000
    many = many.rstrip(b",") + b"]}"
    # Under a tenth of the 48 MiB budget as text, over all of it once parsed.
    assert len(many) < app.budget.limit // 10 < app.budget.limit < memory.parsed_cost(many)
    refused = app.client.post(
        "/batch/", content=gzip.compress(many), headers={"Content-Encoding": "gzip"}
    )
    assert refused.status_code == 413, refused.text
    assert "budget" in refused.json()["detail"]
    assert app.budget.in_use == 0

    events = [
        {"event": "$pageview", "distinct_id": f"user-{n}", "properties": {"$current_url": "/"}}
        for n in range(500)
    ]
    ordinary = orjson.dumps({"api_key": app.key, "batch": events})
    assert app.client.post("/batch/", content=ordinary).status_code == 200
    assert app.budget.in_use == 0
