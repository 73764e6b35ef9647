"""Hostile requests to every ingest endpoint, generated: never a 5xx, and ingest still works.

Hypothesis builds requests for the Sentry envelope and store endpoints,
PostHog capture and OTLP/HTTP JSON: random bytes, broken envelope framing and
lying lengths, JSON nested past 1,000 levels, integers past 64 bits and past
the float range, non-ASCII, bogus auth headers, project ids, content types
and encodings, and structurally valid bodies with such values in the places
that matter (event ids, timestamps, properties, attributes). Each request is
posted in-process to the ASGI app and no answer may be a 5xx. Afterwards
digest must get through everything that was queued, and a valid Sentry event
and a valid PostHog event must still be accepted and stored.

Derandomized with a fixed example budget: the same requests every run, in
seconds.
"""

from __future__ import annotations

import gzip
import logging
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import brotli
import orjson
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.ingest_app import IngestApp, ingest_app
from tests.payloads import auth_header, envelope, sentry_event

EXAMPLES = 500
FUZZ = settings(
    derandomize=True,
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- JSON with holes ------------------------------------------------------------------------
# Values are generated as Python data with HOLE strings in them, serialised, and
# then each hole is replaced by raw hostile text that no serialiser would write.

HOLE = "\x00hole\x00"
_HOLE_TEXT = orjson.dumps(HOLE)


def _deep_lists(depth: int) -> str:
    return "[" * depth + "]" * depth


def _deep_objects(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


HOSTILE_RAW = st.one_of(
    st.integers(90, 1100).map(_deep_lists),
    st.integers(90, 1100).map(_deep_objects),
    st.sampled_from(
        [
            "99999999999999999999999",
            "-99999999999999999999999",
            "9223372036854775808",
            "-9223372036854775809",
            "18446744073709551616",
            "1e400",
            "-1e400",
            "NaN",
            "Infinity",
            "1" * 5000,
            '"\\ud83d"',
            '"€ 中 \\u0000 \\n"',
            '"99999-01-01"',
            '"-0001-01-01T00:00:00Z"',
            '"9999999999999999999999999"',
            '"../x"',
            '"hello"',
            "{}",
            "[]",
            "null",
            "true",
            '""',
        ]
    ),
)

LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.just(HOLE),
)
JSON = st.recursive(
    LEAF,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)


@st.composite
def render(draw: st.DrawFn, value: Any) -> bytes:
    """``value`` as JSON, each hole filled with hostile text."""
    text = orjson.dumps(value)
    parts = text.split(_HOLE_TEXT)
    out = [parts[0]]
    for part in parts[1:]:
        out += [draw(HOSTILE_RAW).encode(), part]
    return b"".join(out)


class Spoiler:
    """Starts from a valid request and spoils each part of it with chance ``rate`` %.

    A rate of 0 gives a valid request, which is also where shrinking heads:
    a failure is reported with as few spoiled parts as it takes.
    """

    def __init__(self, draw: st.DrawFn, rate: int) -> None:
        self.draw = draw
        self.rate = rate

    def spoil(self) -> bool:
        return self.rate > 0 and self.draw(st.integers(0, 99)) < self.rate

    def field(self, valid: Any, hostile: st.SearchStrategy[Any] | None = None) -> Any:
        """``valid``, or (spoiled) a hole, any JSON value or a draw from ``hostile``."""
        if not self.spoil():
            return valid
        choices = [st.just(HOLE), JSON] + ([hostile] if hostile is not None else [])
        return self.draw(st.one_of(*choices))


VALID_TIMES = st.sampled_from(
    ["2025-01-02T03:04:05Z", "2025-01-02T03:04:05.123+02:00", 1_735_787_045_678]
)
ODD_IDS = st.sampled_from(["hello", "../x", "", "ABCDEF", "€", "0" * 33])

# --- encodings ------------------------------------------------------------------------------

ENCODERS = {
    "gzip": lambda body: gzip.compress(body, mtime=0),
    "deflate": zlib.compress,
    "br": brotli.compress,
    "zstd": lambda body: zstandard.ZstdCompressor().compress(body),
}


def encoded(spoiler: Spoiler, body: bytes) -> tuple[bytes, dict[str, Any]]:
    """The body as is or properly encoded; spoiled: truncated, or a lying or unknown encoding."""
    draw = spoiler.draw
    name = draw(st.sampled_from(sorted(ENCODERS)))
    if not spoiler.spoil():
        if draw(st.booleans()):
            return body, {}
        return ENCODERS[name](body), {"Content-Encoding": name}
    if draw(st.booleans()):
        data = ENCODERS[name](body)
        return data[: draw(st.integers(0, max(0, len(data) - 1)))], {"Content-Encoding": name}
    header = draw(st.sampled_from([*ENCODERS, "gzip, br", "compress", "x-gzip", "gzip," * 5, "€"]))
    return body, {"Content-Encoding": header.encode("utf-8")}


# --- the four endpoint families ---------------------------------------------------------------

ODD_PROJECTS = st.one_of(
    st.sampled_from(
        ["99999999999999999999999", "9223372036854775808", "0", "-1", "+1", "1_0", "٣"]
    ),
    st.text(min_size=1, max_size=8),
)


def sentry_auth(spoiler: Spoiler, key: str) -> tuple[dict[str, Any], str]:
    """Auth headers and a query string; spoiled: none, another key, junk, or two sources."""
    if not spoiler.spoil():
        return dict(auth_header(key)), ""
    draw = spoiler.draw
    choice = draw(st.sampled_from(["query", "none", "junk", "both"]))
    headers: dict[str, Any] = {}
    query = ""
    if choice == "both":
        headers = dict(auth_header(key))
    if choice in ("query", "both"):
        query = f"?sentry_key={draw(st.sampled_from([key, '0' * 32, '%E2%82%AC']))}"
    if choice == "junk":
        raw = draw(st.binary(max_size=40)).replace(b"\r", b"").replace(b"\n", b"")
        headers["X-Sentry-Auth"] = b"Sentry sentry_key=" + raw
    return headers, query


def sentry_payload(spoiler: Spoiler) -> dict[str, Any]:
    # Nothing from the clock or os.urandom: Hypothesis replays draws and needs the same bytes.
    event = sentry_event(spoiler.draw(st.text(max_size=10)), event_id=spoiler.draw(st.uuids()).hex)
    event["event_id"] = spoiler.field(event["event_id"], ODD_IDS)
    event["timestamp"] = spoiler.field(1_735_787_045.5)
    for name in ("exception", "tags", "contexts", "extra", "breadcrumbs", "user", "sdk"):
        if spoiler.spoil():
            event[name] = spoiler.draw(JSON)
    return event


def envelope_body(spoiler: Spoiler, key: str, project_id: int) -> bytes:
    draw = spoiler.draw
    if spoiler.spoil() and spoiler.spoil():
        return draw(st.binary(max_size=300))
    event = sentry_payload(spoiler)
    header: dict[str, Any] = {"sent_at": spoiler.field("2025-01-02T03:04:05Z")}
    if not spoiler.spoil():
        header["event_id"] = event["event_id"]
    if spoiler.spoil():
        header.update(draw(st.dictionaries(st.text(max_size=6), JSON, max_size=2)))
    if spoiler.spoil():
        header["dsn"] = spoiler.field(
            draw(
                st.sampled_from(
                    [
                        f"http://{key}@localhost/{project_id}",
                        f"http://{'0' * 32}@localhost/{project_id}",
                        "not a dsn",
                        "http://€@h/1",
                    ]
                )
            )
        )
    items: list[tuple[Any, bytes]] = [("event", draw(render(event)))]
    while spoiler.spoil() and len(items) < 4:
        item_type = draw(
            st.one_of(
                st.sampled_from(["event", "session", "attachment", "client_report", "weird"]),
                JSON,
            )
        )
        payload = draw(st.one_of(st.binary(max_size=80), JSON.flatmap(render)))
        items.append((item_type, payload))
    lines = [draw(render(header))]
    for item_type, payload in items:
        item_header: dict[str, Any] = {"type": item_type}
        length = spoiler.field(len(payload), st.integers(-5, len(payload) + 5))
        if not (spoiler.spoil() and draw(st.booleans())):
            item_header["length"] = length
        lines += [draw(render(item_header)), payload]
    separator = b"\n"
    if spoiler.spoil():
        separator = draw(st.sampled_from([b"\r\n", b"", b"\n\n", b" "]))
    end = draw(st.sampled_from([b"", b"\n\n\n", b"x", b"{"])) if spoiler.spoil() else b"\n"
    return separator.join(lines) + end


def store_body(spoiler: Spoiler) -> bytes:
    if spoiler.spoil() and spoiler.spoil():
        return spoiler.draw(st.binary(max_size=200))
    return spoiler.draw(render(sentry_payload(spoiler)))


def posthog_body(spoiler: Spoiler, key: str) -> bytes:
    draw = spoiler.draw
    if spoiler.spoil() and spoiler.spoil():
        return draw(st.binary(max_size=200))
    api_key = spoiler.field(key, st.just("phc_unknown"))
    events = []
    for _ in range(draw(st.integers(1, 3))):
        properties: dict[str, Any] = {"$lib": "posthog-python"}
        if spoiler.spoil():
            names = st.sampled_from(["$ai_input_tokens", "$ai_latency", "$set", "p", "$lib"])
            properties.update(draw(st.dictionaries(names, JSON, max_size=4)))
        event: dict[str, Any] = {
            "event": spoiler.field(
                draw(st.sampled_from(["$pageview", "$ai_generation", "$exception"]))
            ),
            "distinct_id": spoiler.field("user-1", st.just("€")),
            "timestamp": spoiler.field(draw(VALID_TIMES)),
            "uuid": spoiler.field(str(draw(st.uuids())), ODD_IDS),
            "properties": spoiler.field(properties),
        }
        for name in ("offset", "sent_at", "$set"):
            if spoiler.spoil():
                event[name] = draw(st.one_of(st.just(HOLE), JSON))
        events.append(event)
    shape = draw(st.sampled_from(["batch", "array", "single"]))
    if shape == "batch":
        return draw(
            render(
                {"api_key": api_key, "sent_at": spoiler.field(draw(VALID_TIMES)), "batch": events}
            )
        )
    if shape == "array":
        for event in events:
            if isinstance(event["properties"], dict):
                event["properties"]["token"] = api_key
        return draw(render(events))
    return draw(render({**events[0], "api_key": api_key}))


def otlp_body(spoiler: Spoiler) -> bytes:
    draw = spoiler.draw
    if spoiler.spoil() and spoiler.spoil():
        return draw(st.binary(max_size=200))

    def any_value(depth: int) -> Any:
        kind = draw(st.sampled_from(["string", "int", "double", "array", "kv"]))
        if kind == "array" and depth < 6:
            value: Any = {"arrayValue": {"values": [any_value(depth + 1)]}}
        elif kind == "kv" and depth < 6:
            value = {"kvlistValue": {"values": [{"key": "k", "value": any_value(depth + 1)}]}}
        elif kind == "int":
            value = {"intValue": spoiler.field("12")}
        elif kind == "double":
            value = {"doubleValue": spoiler.field(0.5)}
        else:
            value = {"stringValue": spoiler.field(draw(st.text(max_size=8)))}
        return spoiler.field(value)

    keys = st.sampled_from(
        ["gen_ai.request.model", "gen_ai.usage.input_tokens", "gen_ai.input.messages", "x"]
    )
    attributes = [
        spoiler.field({"key": draw(keys), "value": any_value(0)})
        for _ in range(draw(st.integers(0, 3)))
    ]
    span = {
        "traceId": spoiler.field(uuid.UUID(int=draw(st.integers(1, 2**128 - 1))).hex),
        "spanId": spoiler.field(f"{draw(st.integers(1, 2**64 - 1)):016x}"),
        "name": spoiler.field("chat gpt-4o"),
        "startTimeUnixNano": spoiler.field("1700000000000000000"),
        "endTimeUnixNano": spoiler.field("1700000001000000000"),
        "attributes": spoiler.field(attributes),
    }
    resource = {"attributes": spoiler.field(attributes)}
    body = {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": [span]}]}]}
    return draw(render(spoiler.field(body)))


@st.composite
def request(draw: st.DrawFn, key: str, project_id: int) -> tuple[str, str, bytes, dict[str, Any]]:
    """One hostile request: (endpoint family, path with query, body, headers)."""
    spoiler = Spoiler(draw, draw(st.sampled_from([0, 5, 15, 40])))
    family = draw(st.sampled_from(["envelope", "store", "posthog", "otlp"]))
    headers: dict[str, Any] = {}
    if family in ("envelope", "store"):
        project = quote(draw(ODD_PROJECTS) if spoiler.spoil() else str(project_id), safe="")
        headers, query = sentry_auth(spoiler, key)
        path = f"/api/{project}/{family}/{query}"
        body = (
            envelope_body(spoiler, key, project_id) if family == "envelope" else store_body(spoiler)
        )
        content_type = "application/x-sentry-envelope"
    elif family == "posthog":
        route = draw(st.sampled_from(["/batch/", "/capture/", "/e/", "/i/v0/e/", "/track"]))
        query = ""
        if spoiler.spoil():
            query = draw(
                st.sampled_from(
                    [
                        "?compression=gzip-js",
                        "?compression=lz64",
                        "?_=99999999999999999999",
                        "?compression=base64",
                        "?data=%E2%82",
                    ]
                )
            )
        path = route + query
        body = posthog_body(spoiler, key)
        content_type = "application/json"
    else:
        path = draw(st.sampled_from(["/v1/traces", "/api/public/otel/v1/traces"]))
        headers["Authorization"] = spoiler.field(
            f"Bearer {key}", st.sampled_from(["Bearer €", "Basic x"])
        )
        body = otlp_body(spoiler)
        content_type = "application/json"
    body, encoding = encoded(spoiler, body)
    headers.update(encoding)
    if spoiler.spoil():
        content_type = draw(
            st.sampled_from(
                [
                    "application/x-protobuf",
                    "text/plain",
                    "application/x-www-form-urlencoded",
                    "€",
                    "",
                ]
            )
        )
    headers["Content-Type"] = content_type.encode("utf-8")
    if spoiler.spoil():
        headers["Origin"] = draw(st.sampled_from(["https://example.com", "null", "€"])).encode()
    for name, value in list(headers.items()):
        if isinstance(value, str):
            headers[name] = value.encode("utf-8")
        elif not isinstance(value, bytes):  # a spoiled field that is no header value
            headers[name] = orjson.dumps(value)
    return family, path, body, headers


# --- the test ---------------------------------------------------------------------------------


@pytest.fixture
def app(tmp_path: Path) -> Iterator[IngestApp]:
    with ingest_app(tmp_path / "data") as found:
        yield found


def test_no_hostile_request_gets_a_5xx_and_ingest_still_works(
    app: IngestApp, caplog: pytest.LogCaptureFixture
) -> None:
    statuses: dict[str, list[int]] = {}

    @FUZZ
    @given(st.data())
    def post_one(data: st.DataObject) -> None:
        family, path, body, headers = data.draw(request(app.public_key, app.project_id))
        response = app.client.post(path, content=body, headers=headers)
        statuses.setdefault(family, []).append(response.status_code)
        assert response.status_code < 500, (path, headers, body[:300], response.text)
        error = response.headers.get("x-sentry-error")
        if error is not None:
            assert error.isascii() and error.isprintable() and len(error) <= 512

    with caplog.at_level(logging.WARNING, logger="heliograph"):
        post_one()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors[0].getMessage()
    # Every endpoint must have both accepted and refused some requests, or the
    # generator only knocks at the door.
    assert sorted(statuses) == ["envelope", "otlp", "posthog", "store"]
    for family, seen in statuses.items():
        assert 200 in seen and any(400 <= status < 500 for status in seen), (family, seen)

    app.digest()  # whatever got queued, digest gets through it
    event = sentry_event("still fine after the fuzz")
    response = app.client.post(
        f"/api/{app.project_id}/envelope/",
        content=envelope(event),
        headers=auth_header(app.public_key),
    )
    assert response.status_code == 200
    analytics = str(uuid.uuid4())
    body = {
        "api_key": app.public_key,
        "batch": [{"event": "after", "distinct_id": "d", "uuid": analytics, "properties": {}}],
    }
    assert app.client.post("/batch/", content=orjson.dumps(body)).status_code == 200
    app.digest()
    assert app.stored(event["event_id"]) is not None
    assert app.stored(analytics) is not None
