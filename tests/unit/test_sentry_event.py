"""Sentry event JSON -> canonical Event, against payloads of the real sentry-sdk."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import sentry_sdk
from sentry_sdk.envelope import Envelope as SdkEnvelope
from sentry_sdk.transport import Transport

from heliograph.model import Event
from heliograph.protocols.errors import BadRequest
from heliograph.protocols.sentry_envelope import parse_envelope, validate_items
from heliograph.protocols.sentry_event import (
    AUTO_IP,
    normalize_event_id,
    parse_timestamp,
    to_event,
)

REPO = Path(__file__).resolve().parents[2]
RECEIVED = 1_700_000_000.0


class CapturingTransport(Transport):
    """Keeps the exact bytes the SDK would have sent."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.sent: list[bytes] = []

    def capture_envelope(self, envelope: SdkEnvelope) -> None:
        self.sent.append(envelope.serialize())


def _capture(action: Callable[[], None], **options: Any) -> list[bytes]:
    """Run ``action`` with a real client whose transport captures envelopes."""
    transport = CapturingTransport()
    client = sentry_sdk.Client(
        dsn="https://e12d836b15bb49d7bbf99e64295d995b@example.com/42",
        transport=transport,
        default_integrations=False,
        auto_enabling_integrations=False,
        project_root=str(REPO),
        release="shop@1.2.3",
        environment="staging",
        server_name="web-1",
        **options,
    )
    with sentry_sdk.isolation_scope() as scope:
        scope.set_client(client)
        sentry_sdk.set_user({"id": 42, "email": "ada@example.com", "segment": "paid"})
        sentry_sdk.set_tag("region", "eu")
        sentry_sdk.set_tag("attempt", 3)
        sentry_sdk.add_breadcrumb(category="auth", message="user logged in", level="info")
        action()
    client.flush(timeout=2)
    client.close(timeout=0)
    return transport.sent


def _convert(raw: bytes) -> tuple[str, dict[str, Any], Event]:
    envelope = parse_envelope(raw)
    validate_items(envelope)
    (item,) = [i for i in envelope.items if i.type == "event"]
    payload = orjson.loads(item.payload)
    header_id = envelope.headers["event_id"]
    event = to_event(payload, project_id=42, event_id=header_id, received_at=time.time())
    return header_id, payload, event


def _parse_config(text: str) -> dict[str, Any]:
    settings = {"source": text}
    return dict(json.loads(settings["source"]))


def _load(text: str) -> None:
    try:
        _parse_config(text)
    except ValueError as exc:
        raise RuntimeError("config is broken") from exc


def test_real_chained_exception() -> None:
    def action() -> None:
        try:
            _load("{not json")
        except RuntimeError:
            sentry_sdk.capture_exception()

    (raw,) = _capture(action)
    event_id, payload, event = _convert(raw)

    assert event.event_id == event_id
    assert event.kind == "error" and event.name == "error"
    assert event.platform == "python"
    assert event.level == "error"
    # Sentry sends root cause first; canonical order is outermost first.
    assert [e.type for e in event.exceptions] == ["RuntimeError", "JSONDecodeError"]
    assert [v["type"] for v in payload["exception"]["values"]] == [
        "JSONDecodeError",
        "RuntimeError",
    ]
    outer, cause = event.exceptions
    assert outer.value == "config is broken"
    assert outer.module is None or isinstance(outer.module, str)
    assert outer.mechanism is not None and outer.mechanism.handled is True

    # Frames oldest first; the crash frame is last and carries its source line.
    assert [f.function for f in outer.frames] == ["action", "_load"]
    crash = outer.frames[-1]
    assert crash.context_line is not None
    assert crash.context_line.strip() == 'raise RuntimeError("config is broken") from exc'
    assert crash.lineno is not None and crash.pre_context and crash.post_context
    assert crash.abs_path == __file__
    assert crash.in_app is True
    assert crash.vars is not None and "text" in crash.vars

    # The root cause runs into the standard library, which is not in-app.
    app = [f.function for f in cause.frames if f.in_app]
    assert app == ["_load", "_parse_config"]
    assert cause.frames[-1].module == "json.decoder"
    assert cause.frames[-1].in_app is False
    parse_frame = next(f for f in cause.frames if f.function == "_parse_config")
    assert parse_frame.vars is not None and parse_frame.vars["text"] == "'{not json'"

    assert event.crash_frames[-1] is crash


@pytest.mark.skipif(sys.version_info < (3, 11), reason="ExceptionGroup is 3.11+")
def test_real_exception_group() -> None:
    def action() -> None:
        try:
            errors = [ValueError("bad value"), TypeError("bad type")]
            raise ExceptionGroup("two failures", errors)  # noqa: F821 (3.11+ builtin)
        except Exception:
            sentry_sdk.capture_exception()

    (raw,) = _capture(action)
    _, _, event = _convert(raw)
    assert [e.type for e in event.exceptions] == ["ExceptionGroup", "ValueError", "TypeError"]
    group = event.exceptions[0]
    assert group.mechanism is not None
    assert group.mechanism.is_exception_group is True
    assert group.mechanism.exception_id == 0
    assert group.frames and group.frames[-1].function == "action"
    children = event.exceptions[1:]
    assert all(c.mechanism is not None and c.mechanism.parent_id == 0 for c in children)
    assert {c.mechanism.exception_id for c in children if c.mechanism} == {1, 2}
    assert {c.mechanism.source for c in children if c.mechanism} == {
        "exceptions[0]",
        "exceptions[1]",
    }


def test_real_scope_data() -> None:
    def action() -> None:
        try:
            1 / 0  # noqa: B018
        except ZeroDivisionError:
            sentry_sdk.capture_exception()

    before = time.time()
    (raw,) = _capture(action)
    _, payload, event = _convert(raw)

    assert before - 1 <= event.timestamp <= time.time() + 1
    assert event.user is not None
    assert event.user.id == "42"
    assert event.user.email == "ada@example.com"
    assert event.user.data == {"segment": "paid"}
    assert event.user.key == "id:42"
    assert event.tags == {"region": "eu", "attempt": "3"}
    assert event.release == "shop@1.2.3"
    assert event.environment == "staging"
    assert event.server_name == "web-1"
    assert event.sdk_name == "sentry.python"
    assert event.sdk_version == sentry_sdk.VERSION
    (crumb,) = event.breadcrumbs
    assert (crumb.category, crumb.message, crumb.level) == ("auth", "user logged in", "info")
    assert crumb.timestamp is not None and before - 1 <= crumb.timestamp <= time.time() + 1
    trace = payload["contexts"]["trace"]
    assert event.trace_id == trace["trace_id"]
    assert event.span_id == trace["span_id"]
    assert event.contexts["trace"] == trace
    # The converted event survives the model's own storage round trip.
    assert Event.from_dict(event.to_dict()) == event


def test_real_message_with_thread_stacktrace() -> None:
    def action() -> None:
        sentry_sdk.capture_message("disk almost full", level="warning")

    (raw,) = _capture(action, attach_stacktrace=True)
    _, payload, event = _convert(raw)
    assert "threads" in payload
    assert event.message == "disk almost full"
    assert event.level == "warning"
    assert event.exceptions == []
    assert event.stacktrace and event.stacktrace[-1].function == "action"
    assert event.stacktrace[-1].in_app is True
    assert event.crash_frames == event.stacktrace


# -- synthetic payloads: one rule each ------------------------------------------


def _event(payload: dict[str, Any], event_id: str | None = None) -> Event:
    return to_event(payload, project_id=1, event_id=event_id, received_at=RECEIVED)


def test_event_id_precedence_and_normalisation() -> None:
    envelope_id = "9EC79C33-EC99-42AB-8353-589FCB2E04DC"
    payload_id = "12c2d058d58442709aa2eca08bf20986"
    assert (
        _event({"event_id": payload_id}, envelope_id).event_id == "9ec79c33ec9942ab8353589fcb2e04dc"
    )
    assert _event({"event_id": payload_id}).event_id == payload_id
    assert _event({"event_id": payload_id}, "not-an-id").event_id == payload_id
    generated = _event({"event_id": "zz"}).event_id
    assert len(generated) == 32 and int(generated, 16) >= 0
    assert _event({}).event_id != _event({}).event_id


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1_600_000_000.25, 1_600_000_000.25),
        (1_600_000_000, 1_600_000_000.0),
        ("2020-09-13T12:26:40Z", 1_600_000_000.0),
        ("2020-09-13T12:26:40.5Z", 1_600_000_000.5),
        ("2020-09-13T14:26:40+02:00", 1_600_000_000.0),
        ("2020-09-13T12:26:40.1234567Z", 1_600_000_000.1234567),  # .NET: 7 digits
        ("2020-09-13T12:26:40", 1_600_000_000.0),  # no zone: UTC
        ("2020-09-13 12:26:40.000+0000", 1_600_000_000.0),
        ("1600000000.5", 1_600_000_000.5),
        ("2020-13-01T00:00:00Z", None),
        ("yesterday", None),
        (True, None),
        (float("nan"), None),
        (-5, None),
        ([], None),
    ],
)
def test_parse_timestamp(value: Any, expected: float | None) -> None:
    result = parse_timestamp(value)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected)


def test_timestamp_defaults_and_future_clamp() -> None:
    assert _event({}).timestamp == RECEIVED
    assert _event({"timestamp": "junk"}).timestamp == RECEIVED
    assert _event({"timestamp": RECEIVED - 3600}).timestamp == RECEIVED - 3600
    assert _event({"timestamp": RECEIVED + 30}).timestamp == RECEIVED + 30
    assert _event({"timestamp": RECEIVED + 3600}).timestamp == RECEIVED


def test_normalize_event_id() -> None:
    assert (
        normalize_event_id("{9EC79C33-EC99-42AB-8353-589FCB2E04DC}")
        == "9ec79c33ec9942ab8353589fcb2e04dc"
    )
    assert normalize_event_id("9ec79c33ec9942ab8353589fcb2e04d") is None
    assert normalize_event_id(12) is None


def test_exception_as_bare_list_and_legacy_forms() -> None:
    values = [{"type": "KeyError", "value": "root"}, {"type": "ValueError", "value": "outer"}]
    assert [e.type for e in _event({"exception": values}).exceptions] == ["ValueError", "KeyError"]
    legacy = _event({"sentry.interfaces.Exception": {"values": values}})
    assert [e.type for e in legacy.exceptions] == ["ValueError", "KeyError"]
    single = _event({"exception": {"type": "OldError", "value": "raven"}})
    assert [(e.type, e.value) for e in single.exceptions] == [("OldError", "raven")]


def test_exception_without_type_or_value_is_dropped() -> None:
    event = _event({"exception": {"values": [{"module": "x"}, {"value": "only a value"}, 5]}})
    assert [(e.type, e.value) for e in event.exceptions] == [("Error", "only a value")]


def test_exception_takes_frames_from_its_thread() -> None:
    frames = [{"function": "main", "in_app": True}, {"function": "crash", "in_app": True}]
    payload = {
        "exception": {"values": [{"type": "SIGSEGV", "thread_id": 7}]},
        "threads": {
            "values": [
                {"id": 1, "stacktrace": {"frames": [{"function": "idle"}]}},
                {"id": 7, "crashed": True, "stacktrace": {"frames": frames}},
            ]
        },
    }
    event = _event(payload)
    assert [f.function for f in event.exceptions[0].frames] == ["main", "crash"]
    assert event.stacktrace == []


@pytest.mark.parametrize(
    ("threads", "expected"),
    [
        (
            [
                {"stacktrace": {"frames": [{"function": "a"}]}},
                {"crashed": True, "stacktrace": {"frames": [{"function": "b"}]}},
                {"current": True, "stacktrace": {"frames": [{"function": "c"}]}},
            ],
            "b",
        ),
        (
            [
                {"stacktrace": {"frames": [{"function": "a"}]}},
                {"current": True, "stacktrace": {"frames": [{"function": "c"}]}},
            ],
            "c",
        ),
        ([{"crashed": True}, {"stacktrace": {"frames": [{"function": "a"}]}}], "a"),
    ],
)
def test_thread_choice(threads: list[dict[str, Any]], expected: str) -> None:
    assert _event({"threads": {"values": threads}}).stacktrace[0].function == expected


def test_top_level_stacktrace() -> None:
    event = _event({"stacktrace": {"frames": [{"function": "f", "lineno": 3, "colno": 9}]}})
    assert (
        event.stacktrace[0].function,
        event.stacktrace[0].lineno,
        event.stacktrace[0].colno,
    ) == ("f", 3, 9)


def test_in_app_explicit_flags_make_missing_ones_false() -> None:
    frames = [
        {"function": "lib", "abs_path": "/app/vendor.py"},
        {"function": "mine", "abs_path": "/app/main.py", "in_app": True},
    ]
    event = _event({"exception": [{"type": "E", "stacktrace": {"frames": frames}}]})
    assert [f.in_app for f in event.exceptions[0].frames] == [False, True]


def test_in_app_heuristic_when_no_frame_says_anything() -> None:
    frames = [
        {"function": "run", "abs_path": "/usr/lib/python3.11/threading.py"},
        {"function": "handler", "abs_path": "/venv/lib/python3.12/site-packages/flask/app.py"},
        {"function": "render", "filename": "webpack:///./node_modules/react-dom/index.js"},
        {"function": "checkout", "abs_path": "/srv/shop/views.py"},
        {"function": "anonymous"},
    ]
    event = _event({"exception": [{"type": "E", "stacktrace": {"frames": frames}}]})
    assert [f.in_app for f in event.exceptions[0].frames] == [False, False, False, True, False]


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        ("warn", "warning"),
        ("WARNING", "warning"),
        ("critical", "fatal"),
        ("fatal", "fatal"),
        ("info", "info"),
        ("log", "info"),
        ("debug", "debug"),
        ("error", "error"),
        ("verbose", "error"),
        (None, "error"),
        (30, "warning"),
        (50, "fatal"),
        ([], "error"),
    ],
)
def test_level_normalisation(level: Any, expected: str) -> None:
    assert _event({"level": level}).level == expected


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            {"logentry": {"message": "Hello %s", "params": ["Ada"], "formatted": "Hello Ada!"}},
            "Hello Ada!",
        ),
        (
            {"logentry": {"message": "%d of %s failed (100%%)", "params": [3, "jobs"]}},
            "3 of jobs failed (100%)",
        ),
        ({"logentry": {"message": "Hello %s and %s", "params": ["Ada"]}}, "Hello Ada and %s"),
        ({"message": "plain"}, "plain"),
        ({"message": {"formatted": "from object"}}, "from object"),
        ({"sentry.interfaces.Message": {"message": "legacy"}}, "legacy"),
        ({"logentry": {"message": "wins"}, "message": "loses"}, "wins"),
        ({"message": 5}, None),
    ],
)
def test_message(payload: dict[str, Any], expected: str | None) -> None:
    assert _event(payload).message == expected


def test_tags_as_pairs_stringified_and_clipped() -> None:
    tags = [
        ["browser", "Firefox"],
        ["count", 3],
        ["flag", True],
        ["k" * 300, "v" * 300],
        ["nested", {"a": 1}],
        ["none", None],
        "junk",
        ["too", "many", "parts"],
    ]
    event = _event({"tags": tags, "dist": "42"})
    assert event.tags == {
        "browser": "Firefox",
        "count": "3",
        "flag": "true",
        "k" * 200: "v" * 200,
        "dist": "42",
    }
    assert _event({"tags": {"a": 1.5}}).tags == {"a": "1.5"}
    assert _event({"tags": "junk"}).tags == {}


def test_user() -> None:
    user = _event(
        {
            "user": {
                "id": 7,
                "ip_address": "{{auto}}",
                "geo": {"city": "Oslo"},
                "data": {"plan": "pro"},
            }
        }
    ).user
    assert user is not None
    assert (user.id, user.ip_address) == ("7", AUTO_IP)  # digest fills in the sender's
    assert user.data == {"geo": {"city": "Oslo"}, "plan": "pro"}
    assert _event({"user": {"id": True}}).user is None
    assert _event({"user": "ada"}).user is None
    named = _event({"user": {"username": "ada", "ip_address": "10.0.0.1", "name": "Ada L"}}).user
    assert named is not None and named.key == "username:ada" and named.name == "Ada L"


def _address(payload: dict[str, Any]) -> str | None:
    user = _event(payload).user
    return user.ip_address if user else None


def test_which_events_ask_the_server_for_the_senders_address() -> None:
    browser = {"platform": "javascript"}
    assert _address({"user": {"ip_address": "{{auto}}"}}) == AUTO_IP
    assert _address({"sdk": {"settings": {"infer_ip": "auto"}}}) == AUTO_IP
    # A browser SDK from before the setting: the server infers, unless it sent one.
    assert _address(browser) == AUTO_IP
    assert _address({**browser, "user": {"ip_address": "10.1.1.1"}}) == "10.1.1.1"
    # @sentry/browser 9+ without sendDefaultPii says never, which wins over {{auto}}.
    never = {"settings": {"infer_ip": "never"}}
    assert _address({**browser, "sdk": never}) is None
    assert _address({"sdk": never, "user": {"id": "1", "ip_address": "{{auto}}"}}) is None
    # A server SDK sends the address of the user it served, or none: nothing inferred.
    assert _address({"platform": "python"}) is None
    auto_with_address = {"sdk": {"settings": {"infer_ip": "auto"}}, "user": {"ip_address": "::1"}}
    assert _address(auto_with_address) == "::1"


def test_breadcrumbs_as_list_with_mixed_timestamps() -> None:
    crumbs = [
        {"timestamp": 1_600_000_000, "category": "ui.click", "message": "Buy", "data": {"id": 1}},
        {"timestamp": "2020-09-13T12:26:40Z", "type": "http", "level": "warn"},
        "junk",
        {"timestamp": "soon", "message": 5},
    ]
    event = _event({"breadcrumbs": crumbs})
    assert [b.timestamp for b in event.breadcrumbs] == [1_600_000_000.0, 1_600_000_000.0, None]
    assert event.breadcrumbs[0].data == {"id": 1}
    assert event.breadcrumbs[1].level == "warning"
    assert event.breadcrumbs[2].message is None


def test_frame_fields() -> None:
    frame = {
        "function": "f",
        "module": "m",
        "filename": "m.py",
        "abs_path": "/a/m.py",
        "lineno": 10,
        "colno": 4.0,
        "in_app": True,
        "context_line": "x = 1",
        "pre_context": ["a", None, "c"],
        "post_context": "junk",
        "vars": {"x": "1"},
        "platform": "python",
    }
    (result,) = _event({"stacktrace": {"frames": [frame]}}).stacktrace
    assert result.function == "f" and result.module == "m" and result.filename == "m.py"
    assert result.abs_path == "/a/m.py" and result.lineno == 10 and result.colno == 4
    assert result.context_line == "x = 1" and result.pre_context == ["a", "", "c"]
    assert result.post_context == [] and result.vars == {"x": "1"} and result.platform == "python"


def test_scalar_fields_and_trace_context() -> None:
    event = _event(
        {
            "logger": "app.payments",
            "transaction": "/checkout",
            "platform": "javascript",
            "server_name": "web-2",
            "environment": "prod",
            "release": "1.0",
            "extra": {"a": 1},
            "fingerprint": ["{{ default }}", 42, None, "db"],
            "request": {"url": "https://x/"},
            "contexts": {
                "trace": {
                    "trace_id": "4BF92F3577B34DA6A3CE929D0E0E4736",
                    "span_id": "00f067aa0ba902b7",
                }
            },
            "sdk": {"name": "sentry.javascript.browser", "version": "8.0.0"},
        }
    )
    assert (event.logger, event.transaction, event.platform) == (
        "app.payments",
        "/checkout",
        "javascript",
    )
    assert (event.server_name, event.environment, event.release) == ("web-2", "prod", "1.0")
    assert event.extra == {"a": 1} and event.request == {"url": "https://x/"}
    assert event.fingerprint == ["{{ default }}", "42", "db"]
    assert event.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert event.span_id == "00f067aa0ba902b7"
    assert (event.sdk_name, event.sdk_version) == ("sentry.javascript.browser", "8.0.0")
    assert _event({"culprit": "app.views.index"}).transaction == "app.views.index"


JUNK: list[Any] = [None, True, 5, 2.5, "s", [], [1, "x", None], {}, {"values": 3}, {"frames": "x"}]
FIELDS = [
    "event_id",
    "timestamp",
    "level",
    "logger",
    "transaction",
    "culprit",
    "platform",
    "server_name",
    "environment",
    "release",
    "dist",
    "tags",
    "user",
    "request",
    "contexts",
    "breadcrumbs",
    "extra",
    "fingerprint",
    "sdk",
    "exception",
    "threads",
    "stacktrace",
    "logentry",
    "message",
]


@pytest.mark.parametrize("junk", JUNK, ids=repr)
def test_junk_in_every_field_never_raises(junk: Any) -> None:
    event = _event(dict.fromkeys(FIELDS, junk))
    assert event.project_id == 1 and len(event.event_id) == 32
    assert event.level in ("fatal", "error", "warning", "info", "debug")
    nested = {
        "exception": {
            "values": [
                {
                    "type": junk,
                    "value": junk,
                    "mechanism": junk,
                    "stacktrace": {
                        "frames": [
                            dict.fromkeys(
                                ["function", "lineno", "in_app", "vars", "pre_context"], junk
                            )
                        ]
                    },
                }
            ]
        },
        "contexts": {"trace": junk},
        "user": dict.fromkeys(["id", "email", "data"], junk),
        "breadcrumbs": {"values": [dict.fromkeys(["timestamp", "level", "data"], junk)]},
    }
    _event(nested)


@pytest.mark.parametrize("payload", [[], "event", None, 5])
def test_non_object_payload_is_a_bad_request(payload: Any) -> None:
    with pytest.raises(BadRequest, match="event payload must be a JSON object"):
        to_event(payload, project_id=1, event_id=None, received_at=RECEIVED)
