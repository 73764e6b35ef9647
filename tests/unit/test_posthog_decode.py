"""PostHog capture decoding, fed with the bytes real clients send."""

from __future__ import annotations

import base64
import gzip
import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import pytest

from heliograph.protocols import posthog_capture as posthog
from heliograph.protocols import posthog_flags
from heliograph.protocols.errors import AuthError, BadRequest, PayloadTooLarge

TOKEN = "phc_test_token"

# Made with the lz-string package itself (npm lz-string 1.5.0, Node):
#   LZString.compressToBase64(JSON.stringify([{event: "$pageview", ...}]))
LZ_PLAIN = (
    '[{"event":"$pageview","properties":{"distinct_id":"user-1","token":"phc_test",'
    '"title":"héllo wörld 😀 ☃"},"timestamp":"2025-01-02T03:04:05.678Z",'
    '"uuid":"0193f3b8-1c2d-7e4f-8a9b-0c1d2e3f4a5b"}]'
)
LZ_VECTOR = (
    "NobwRApgbhB2AuYBcYAkAHAhgc2gSwgHcwAaMdAJwHt0IL4CBnZcAEz0YdgGN4B9PK2RgArozoBaAIykw8KgGs4w9AAtu"
    "feBE6yG8ADYRhqgJf79VAASEAbxX2tLgXg3AAHuXAwGRgAvmQYBbbXhMP3RhACYABjCAVgkIqTiwgBUIgGYkCIAWDOiA"
    "OgA2AHYADgAtWRERQWF4gE5UgDNUgCNi6W4w1glCiEyGiWLMWua47ilWMIhGzMxo5u8AXSA"
)
# LZString.compressToBase64("ab".repeat(5000)): has '+' and '/' in it.
LZ_REPEAT = (
    "IYI17SOrZ+6IcpqXrZj2u5/vQg4o0k8syi6q2m+uxh5p1l9tzj7r3n/voIHChokeLGSJ0qbJny5ihcqWqV6tZo3atunfr"
    "2GDxo6ZPmzli9au2b9u44fOnrl+7eeP3r75/+/QIDgoNCQ8LDIiOio2Jj4uMSE5KTUlPS0zIzsrNyc/LzCguKi0pLyss"
    "qK6qramvq6xobmptaW9rbOju6u3p7+vsGB4aHRkfGxyYmgA"
)


# --- a tiny capture server and the real posthog client -----------------------


class _Capture(BaseHTTPRequestHandler):
    requests: list[tuple[str, dict[str, str], bytes]]
    responses: dict[str, bytes]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        path = urlsplit(self.path).path
        payload = self.responses.get(path, b'{"status": "Ok"}')
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, type[_Capture]]]:
    handler = type("Handler", (_Capture,), {"requests": [], "responses": {}})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}", handler
    httpd.shutdown()
    httpd.server_close()


def _client(host: str, **options: Any) -> Any:
    from posthog import Posthog

    return Posthog(TOKEN, host=host, sync_mode=True, **options)


def _decode(body: bytes, **kwargs: Any) -> posthog.CaptureBatch:
    options: dict[str, Any] = {"query": {}, "content_type": "application/json"}
    options.update(kwargs)
    options.setdefault("content_encoding", None)
    return posthog.decode_capture(body=body, **options)


# --- the real posthog-python client ----------------------------------------------


def test_posthog_python_batch(server: tuple[str, type[_Capture]]) -> None:
    host, handler = server
    client = _client(host)
    client.capture("signup", distinct_id="user-1", properties={"plan": "pro"})
    client.shutdown()
    path, headers, body = handler.requests[0]
    assert path == "/batch/"
    batch = _decode(body, content_type=headers["content-type"], received_at=time.time())
    assert batch.api_key == TOKEN
    assert batch.historical_migration is False
    assert batch.sent_at is not None
    [event] = batch.events
    assert set(event) == {"event", "distinct_id", "properties", "timestamp", "uuid"}
    assert event["event"] == "signup"
    assert event["distinct_id"] == "user-1"
    assert event["properties"]["plan"] == "pro"
    assert event["properties"]["$lib"] == "posthog-python"
    sent = json.loads(body)["batch"][0]
    assert event["uuid"] == sent["uuid"]
    stamp = datetime.fromisoformat(event["timestamp"]).timestamp()
    assert abs(stamp - time.time()) < 5


def test_posthog_python_gzip(server: tuple[str, type[_Capture]]) -> None:
    host, handler = server
    client = _client(host, gzip=True)
    client.capture("anonymous event")
    client.shutdown()
    _, headers, body = handler.requests[0]
    assert headers["content-encoding"] == "gzip"
    batch = _decode(body, content_encoding=headers["content-encoding"])
    [event] = batch.events
    assert event["event"] == "anonymous event"
    # No distinct id given: the client makes one up and marks the event personless.
    assert event["distinct_id"]
    assert event["properties"]["$process_person_profile"] is False
    # The same body with the Content-Encoding already undone by the HTTP layer,
    # and with no header at all (detected by the gzip magic bytes).
    assert _decode(gzip.decompress(body)).events[0]["uuid"] == event["uuid"]
    assert _decode(body).events[0]["uuid"] == event["uuid"]


def test_posthog_python_exception(server: tuple[str, type[_Capture]]) -> None:
    host, handler = server
    client = _client(host)
    try:
        raise ValueError("boom")
    except ValueError as exc:
        client.capture_exception(exc, distinct_id="user-2")
    client.shutdown()
    [event] = _decode(handler.requests[0][2]).events
    assert event["event"] == "$exception"
    assert event["properties"]["$exception_list"][0]["type"] == "ValueError"


def test_posthog_python_understands_the_flags_answers(
    server: tuple[str, type[_Capture]],
) -> None:
    host, handler = server
    handler.responses["/flags/"] = json.dumps(posthog_flags.flags_response()).encode()
    client = _client(host)
    assert client.get_all_flags("user-1") == {}
    assert client.evaluate_flags("user-1").get_flag("some-flag") is None
    client.shutdown()
    paths = [urlsplit(path).path for path, _, _ in handler.requests]
    assert "/flags/" in paths


# --- posthog-js shapes ----------------------------------------------------------


def _js_events(token: str = TOKEN, count: int = 2) -> list[dict[str, Any]]:
    return [
        {
            "event": "$pageview",
            "properties": {"distinct_id": f"d{i}", "token": token, "$current_url": "http://x/"},
            "timestamp": "2025-01-02T03:04:05.678Z",
            "uuid": f"0193f3b8-1c2d-7e4f-8a9b-0c1d2e3f4a5{i}",
        }
        for i in range(count)
    ]


def test_posthog_js_gzip_js_text_plain() -> None:
    body = gzip.compress(json.dumps(_js_events()).encode())
    batch = _decode(
        body,
        query={"ip": "0", "_": "1735787045678", "ver": "1.200.0", "compression": "gzip-js"},
        content_type="text/plain",
    )
    assert batch.api_key == TOKEN
    assert [e["distinct_id"] for e in batch.events] == ["d0", "d1"]
    # `_` is the send time in milliseconds.
    assert batch.sent_at == pytest.approx(1735787045.678)


def test_posthog_js_plain_array() -> None:
    batch = _decode(json.dumps(_js_events(count=1)).encode())
    assert batch.events[0]["event"] == "$pageview"


def test_lz64_vector_from_the_javascript_library() -> None:
    assert posthog.lz_decompress_from_base64(LZ_VECTOR) == LZ_PLAIN
    assert posthog.lz_decompress_from_base64(LZ_REPEAT) == "ab" * 5000


def test_lz64_form_post_with_plus_signs_turned_into_spaces() -> None:
    # Old posthog-js posted "data=<lz64>&compression=lz64" without escaping '+'.
    body = ("compression=lz64&data=" + LZ_VECTOR).encode()
    batch = _decode(body, content_type="application/x-www-form-urlencoded")
    assert batch.api_key == "phc_test"
    assert batch.events[0]["properties"]["title"] == "héllo wörld 😀 ☃"
    batch = _decode(body, content_type="text/plain")  # sendBeacon: no form type
    assert batch.events[0]["distinct_id"] == "user-1"


def test_lz64_compressed_with_our_encoder_round_trips() -> None:
    events = _js_events(count=3)
    events[0]["properties"]["title"] = "𝄞 ünïcode ☃"
    payload = json.dumps(events, ensure_ascii=False)
    compressed = compress_to_base64(payload)
    batch = _decode(compressed.encode(), query={"compression": "lz64"}, content_type="text/plain")
    assert len(batch.events) == 3
    assert batch.events[0]["properties"]["title"] == "𝄞 ünïcode ☃"
    assert compress_to_base64(LZ_PLAIN) == LZ_VECTOR  # our encoder matches the library
    text = "𝄞 ünïcode \u2603 " * 50
    assert posthog.lz_decompress_from_base64(compress_to_base64(text)) == text


def test_lz64_named_in_the_content_encoding_header() -> None:
    batch = _decode(LZ_VECTOR.encode(), content_type="text/plain", content_encoding="lz64")
    assert batch.events[0]["distinct_id"] == "user-1"


def test_lz64_bomb_is_refused() -> None:
    bomb = lz_bomb(codes=2500)  # ~3 MB of "a" from a few kilobytes
    assert len(bomb) < 10_000
    with pytest.raises(PayloadTooLarge):
        _decode(bomb.encode(), query={"compression": "lz64"}, content_type="text/plain")


def test_base64_body() -> None:
    body = base64.b64encode(json.dumps(_js_events(count=1)).encode())
    batch = _decode(body, query={"compression": "base64"}, content_type="text/plain")
    assert batch.events[0]["distinct_id"] == "d0"


def test_legacy_get_data_query_parameter() -> None:
    events = _js_events(count=1)
    events[0]["properties"]["padding"] = ">>>???"  # base64 of this contains '+' and '/'
    encoded = base64.b64encode(json.dumps(events).encode()).decode()
    assert "+" in encoded
    # A query parser decodes an unescaped '+' as a space.
    query = {"data": encoded.replace("+", " "), "ip": "1"}
    batch = _decode(b"", query=query, content_type=None)
    assert batch.events[0]["properties"]["padding"] == ">>>???"


def test_form_post_parsed_by_the_http_layer() -> None:
    encoded = base64.b64encode(json.dumps(_js_events(count=1)).encode()).decode()
    batch = _decode(
        b"",
        form={"data": encoded},
        content_type="application/x-www-form-urlencoded",
    )
    assert batch.events[0]["distinct_id"] == "d0"
    # Properly escaped form body, parsed here.
    body = urlencode({"data": encoded}).encode()
    assert _decode(body, content_type="application/x-www-form-urlencoded").api_key == TOKEN
    # JSON (not base64) in the data field.
    body = ("data=" + quote(json.dumps(_js_events(count=1)))).encode()
    assert _decode(body, content_type="application/x-www-form-urlencoded").api_key == TOKEN


def test_gzip_in_base64_in_data_field() -> None:
    packed = base64.b64encode(gzip.compress(json.dumps(_js_events(count=1)).encode())).decode()
    batch = _decode(b"", query={"data": packed}, content_type=None)
    assert batch.events[0]["distinct_id"] == "d0"


# --- tokens -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        {"event": "e", "distinct_id": "d", "token": TOKEN},
        {"event": "e", "distinct_id": "d", "$token": TOKEN},
        {"event": "e", "distinct_id": "d", "api_key": TOKEN},
        {"event": "e", "properties": {"distinct_id": "d", "token": TOKEN}},
    ],
)
def test_single_event_token_places(event: dict[str, Any]) -> None:
    batch = _decode(json.dumps(event).encode())
    assert batch.api_key == TOKEN
    assert batch.events[0]["distinct_id"] == "d"


def test_batch_token_key_names() -> None:
    body = {"token": TOKEN, "batch": [{"event": "e", "distinct_id": "d"}]}
    assert _decode(json.dumps(body).encode()).api_key == TOKEN


def test_mixed_tokens_are_401() -> None:
    events = _js_events(count=1) + _js_events(token="phc_other", count=1)
    with pytest.raises(AuthError) as info:
        _decode(json.dumps(events).encode())
    assert info.value.status == 401


def test_missing_token_is_401() -> None:
    with pytest.raises(AuthError) as info:
        _decode(json.dumps([{"event": "e", "distinct_id": "d"}]).encode())
    assert info.value.status == 401


# --- per-event validation --------------------------------------------------------------


def _batch(*events: dict[str, Any], **extra: Any) -> bytes:
    return json.dumps({"api_key": TOKEN, "batch": list(events), **extra}).encode()


def test_missing_distinct_id_rejects_the_batch_naming_the_event() -> None:
    with pytest.raises(BadRequest) as info:
        _decode(_batch({"event": "ok", "distinct_id": "d"}, {"event": "no id"}))
    assert info.value.status == 400
    assert "event 1" in info.value.detail
    assert "distinct_id" in info.value.detail


@pytest.mark.parametrize(
    ("event", "words"),
    [
        ({"distinct_id": "d"}, "event name"),
        ({"event": "", "distinct_id": "d"}, "event name"),
        ({"event": "e", "distinct_id": "d", "timestamp": "yesterday"}, "timestamp"),
        ({"event": "e", "distinct_id": "d", "uuid": "not-a-uuid"}, "uuid"),
        ({"event": "e", "distinct_id": "d", "properties": [1]}, "properties"),
        ({"event": "e", "distinct_id": "   "}, "distinct_id"),
    ],
)
def test_bad_events_are_400(event: dict[str, Any], words: str) -> None:
    with pytest.raises(BadRequest) as info:
        _decode(_batch(event))
    assert words in info.value.detail
    assert "event 0" in info.value.detail


@pytest.mark.parametrize(
    "body",
    [b"{nope", b"42", b'"text"', b"[]", b'{"api_key": "k", "batch": {}}', b"[1]", b""],
)
def test_undecodable_bodies_are_400(body: bytes) -> None:
    with pytest.raises(BadRequest):
        _decode(body)


def test_corrupt_gzip_is_400() -> None:
    with pytest.raises(BadRequest):
        _decode(gzip.compress(b"[]")[:-6] + b"\x00" * 6)


def test_distinct_id_forms() -> None:
    batch = _decode(
        _batch(
            {"event": "a", "distinct_id": 42},
            {"event": "b", "properties": {"$distinct_id": "from-properties"}},
            {"event": "c", "distinct_id": "x" * 500},
        )
    )
    assert [e["distinct_id"] for e in batch.events[:2]] == ["42", "from-properties"]
    assert len(batch.events[2]["distinct_id"]) == posthog.MAX_DISTINCT_ID_CHARS


def test_missing_uuid_is_generated_and_top_level_set_moves_into_properties() -> None:
    batch = _decode(_batch({"event": "$identify", "distinct_id": "d", "$set": {"email": "a@b"}}))
    [event] = batch.events
    assert len(event["uuid"]) == 36
    assert event["properties"]["$set"] == {"email": "a@b"}


# --- timestamps -----------------------------------------------------------------------------


def _stamp(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["timestamp"]).timestamp()


def test_clock_skew_is_corrected_with_sent_at() -> None:
    # The client's clock is an hour fast: its event happened 10 s before sending.
    now = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc).timestamp()
    body = _batch(
        {"event": "e", "distinct_id": "d", "timestamp": "2025-06-01T12:59:50+00:00"},
        sent_at="2025-06-01T13:00:00+00:00",
    )
    [event] = _decode(body, received_at=now).events
    assert _stamp(event) == pytest.approx(now - 10)


def test_historical_migration_keeps_timestamps() -> None:
    now = time.time()
    body = _batch(
        {"event": "e", "distinct_id": "d", "timestamp": "2020-01-01T00:00:00Z"},
        sent_at="2025-06-01T13:00:00Z",
        historical_migration=True,
    )
    batch = _decode(body, received_at=now)
    assert batch.historical_migration is True
    assert _stamp(batch.events[0]) == datetime(2020, 1, 1, tzinfo=timezone.utc).timestamp()


def test_offset_milliseconds_timestamps_and_future_clamp() -> None:
    now = 1_750_000_000.0
    body = _batch(
        {"event": "offset", "distinct_id": "d", "offset": 1500},
        {"event": "ms", "distinct_id": "d", "timestamp": 1_700_000_000_000},
        {"event": "ms-text", "distinct_id": "d", "timestamp": "1700000000000"},
        {"event": "naive", "distinct_id": "d", "timestamp": "2023-11-14T22:13:20"},
        {"event": "future", "distinct_id": "d", "timestamp": "2999-01-01T00:00:00Z"},
        {"event": "none", "distinct_id": "d"},
    )
    events = _decode(body, received_at=now).events
    stamps = [_stamp(e) for e in events]
    assert stamps[0] == pytest.approx(now - 1.5)
    assert stamps[1] == stamps[2] == stamps[3] == pytest.approx(1_700_000_000)
    assert stamps[4] == pytest.approx(now)
    assert stamps[5] == pytest.approx(now)


# --- limits -----------------------------------------------------------------------------------


def test_route_limits() -> None:
    assert posthog.max_bytes_for_path("/batch/") == posthog.BATCH_MAX_BYTES == 20 * 1024 * 1024
    assert posthog.max_bytes_for_path("/batch") == posthog.BATCH_MAX_BYTES
    assert posthog.max_bytes_for_path("/i/v0/ai/batch/") == posthog.BATCH_MAX_BYTES
    for path in ("/e/", "/capture/", "/i/v0/e/", "/track", "/engage/"):
        assert posthog.max_bytes_for_path(path) == posthog.CAPTURE_MAX_BYTES == 2 * 1024 * 1024


def test_gzip_bomb_is_413() -> None:
    bomb = gzip.compress(b"[" + b" " * (3 * 1024 * 1024) + b"]")
    assert len(bomb) < 10_000
    with pytest.raises(PayloadTooLarge) as info:
        _decode(bomb, query={"compression": "gzip-js"}, max_bytes=posthog.CAPTURE_MAX_BYTES)
    assert info.value.status == 413
    # The batch route's larger limit lets the same body through to JSON parsing.
    with pytest.raises(BadRequest):
        _decode(bomb, max_bytes=posthog.BATCH_MAX_BYTES)


def test_oversized_body_is_413() -> None:
    with pytest.raises(PayloadTooLarge):
        _decode(b"[" + b" " * 100 + b"]", max_bytes=50)


def test_base64_bomb_inside_data_field_is_413() -> None:
    packed = base64.b64encode(gzip.compress(b" " * (3 * 1024 * 1024))).decode()
    with pytest.raises(PayloadTooLarge):
        _decode(b"", query={"data": packed}, content_type=None)


# --- flags and remote config ------------------------------------------------------------------


def test_flags_answers() -> None:
    v2 = posthog_flags.flags_response(request_id="r-1")
    assert v2 == {
        "flags": {},
        "featureFlags": {},
        "featureFlagPayloads": {},
        "errorsWhileComputingFlags": False,
        "quotaLimited": [],
        "requestId": "r-1",
    }
    decide = posthog_flags.flags_response(legacy=True)
    assert decide["featureFlags"] == {} and decide["featureFlagPayloads"] == {}
    assert decide["flags"] == {} and decide["requestId"]
    assert decide["sessionRecording"] is False
    assert posthog_flags.flag_definitions_response() == {
        "flags": [],
        "group_type_mapping": {},
        "cohorts": {},
    }


def test_remote_config_is_minimal_and_safe() -> None:
    config = posthog_flags.remote_config(TOKEN)
    assert config["token"] == TOKEN
    assert config["sessionRecording"] is False
    assert config["surveys"] is False
    assert config["heatmaps"] is False
    assert config["siteApps"] == []
    assert config["autocapture_opt_out"] is True
    assert config["hasFeatureFlags"] is False
    assert "gzip-js" in config["supportedCompression"]
    assert posthog_flags.remote_config(TOKEN, autocapture=True)["autocapture_opt_out"] is False
    script = posthog_flags.remote_config_js("</script><b>")
    assert "</script>" not in script
    assert "window._POSTHOG_REMOTE_CONFIG" in script


# --- an LZString compressor for fixtures (compressToBase64) ------------------------------------

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="


class _BitWriter:
    def __init__(self) -> None:
        self.out: list[str] = []
        self.value = 0
        self.position = 0

    def write(self, value: int, bits: int) -> None:
        for _ in range(bits):
            self.value = (self.value << 1) | (value & 1)
            value >>= 1
            if self.position == 5:
                self.out.append(_ALPHABET[self.value])
                self.position, self.value = 0, 0
            else:
                self.position += 1

    def finish(self) -> str:
        while True:
            self.value <<= 1
            if self.position == 5:
                self.out.append(_ALPHABET[self.value])
                break
            self.position += 1
        text = "".join(self.out)
        return text + "=" * (-len(text) % 4)


def compress_to_base64(text: str) -> str:
    """LZString.compressToBase64, written from the algorithm's description."""
    raw = text.encode("utf-16-le", "surrogatepass")
    units = [chr(int.from_bytes(raw[i : i + 2], "little")) for i in range(0, len(raw), 2)]
    dictionary: dict[str, int] = {}
    to_create: set[str] = set()
    size, num_bits, enlarge_in = 3, 2, 2
    writer = _BitWriter()
    w = ""

    def emit(word: str) -> None:
        nonlocal enlarge_in, num_bits
        if word in to_create:
            code = ord(word[0])
            if code < 256:
                writer.write(0, num_bits)
                writer.write(code, 8)
            else:
                writer.write(1, num_bits)
                writer.write(code, 16)
            enlarge_in -= 1
            if enlarge_in == 0:
                enlarge_in, num_bits = 1 << num_bits, num_bits + 1
            to_create.discard(word)
        else:
            writer.write(dictionary[word], num_bits)
        enlarge_in -= 1
        if enlarge_in == 0:
            enlarge_in, num_bits = 1 << num_bits, num_bits + 1

    for c in units:
        if c not in dictionary:
            dictionary[c] = size
            size += 1
            to_create.add(c)
        wc = w + c
        if wc in dictionary:
            w = wc
        else:
            emit(w)
            dictionary[wc] = size
            size += 1
            w = c
    if w:
        emit(w)
    writer.write(2, num_bits)
    return writer.finish()


def lz_bomb(codes: int) -> str:
    """A stream of ``codes`` back-references, each one longer than the last: "a" * ~codes²/2."""
    writer = _BitWriter()
    writer.write(0, 2)
    writer.write(ord("a"), 8)
    size, num_bits, enlarge_in = 4, 3, 4  # after the first literal
    for _ in range(codes):
        writer.write(size, num_bits)  # "the entry being defined": previous + previous[0]
        size += 1
        enlarge_in -= 1
        if enlarge_in == 0:
            enlarge_in, num_bits = 1 << num_bits, num_bits + 1
    writer.write(2, num_bits)
    return writer.finish()
