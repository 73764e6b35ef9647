"""JavaScript grouping across browsers, synthetic exceptions, exception groups of one kind.

Payloads are shaped as @sentry/browser sends them (frames oldest first, as its
stack parsers for Chrome/Edge, Firefox and Safari produce them).
"""

from __future__ import annotations

from typing import Any

from heliograph.digest.frames import js_function
from heliograph.digest.grouping import compute_grouping
from heliograph.digest.titles import event_culprit, event_title
from heliograph.model import Event
from heliograph.protocols.sentry_event import to_event

APP = "https://shop.example/static/js/main.3f2a1b9c.js"
SDK = "https://shop.example/static/js/vendor.js"


def _event(payload: dict[str, Any]) -> Event:
    return to_event(
        {"platform": "javascript", **payload}, project_id=1, event_id=None, received_at=1.7e9
    )


def _error(kind: str, value: str, frames: list[dict[str, Any]]) -> Event:
    return _event(
        {
            "exception": {
                "values": [
                    {
                        "type": kind,
                        "value": value,
                        "stacktrace": {"frames": frames},
                        "mechanism": {"type": "onerror", "handled": False},
                    }
                ]
            }
        }
    )


def _app(function: str, **extra: Any) -> dict[str, Any]:
    return {"filename": APP, "abs_path": APP, "function": function, "in_app": True,
            "lineno": 1, "colno": 100, **extra}  # fmt: skip


CHROME = [
    _app("HTMLButtonElement.onClick"),
    _app("async Cart.checkout"),
    _app("Cart.prototype.total"),
    {"filename": "<anonymous>", "function": "Array.forEach", "in_app": False},
    _app("Object.price", colno=7),
]
FIREFOX = [
    _app("onClick"),
    _app("checkout"),
    _app("total"),
    _app("price@", colno=9),
]
SAFARI = [
    _app("onClick"),
    _app("checkout"),
    _app("total"),
    {"filename": "[native code]", "function": "forEach", "in_app": False},
    _app("price"),
    {"filename": "chrome-extension://abc/inject.js", "function": "wrap", "in_app": False},
]
EDGE = [*CHROME, {"function": "?", "in_app": False}]


def test_one_error_in_every_browser_is_one_issue() -> None:
    events = [
        _error("TypeError", "Cannot read properties of undefined (reading 'amount')", CHROME),
        _error("TypeError", "item is undefined", FIREFOX),
        _error("TypeError", "undefined is not an object (evaluating 'item.amount')", SAFARI),
        _error("TypeError", "Cannot read properties of undefined (reading 'amount')", EDGE),
    ]
    groupings = [compute_grouping(event) for event in events]
    assert {g.hash for g in groupings} == {groupings[0].hash}
    assert groupings[0].components == [
        "type: TypeError",
        "frame: main.js in onClick",
        "frame: main.js in checkout",
        "frame: main.js in total",
        "frame: main.js in price",
    ]


def test_with_source_context_the_line_stands_for_the_function_name() -> None:
    line = "return item.amount * rate;"
    chrome = _error("TypeError", "x", [_app("?", context_line=line)])
    firefox = _error("TypeError", "y", [_app("total/<", context_line=line)])
    assert compute_grouping(chrome).hash == compute_grouping(firefox).hash


def test_messages_decide_only_without_frames() -> None:
    bare = [_error("TypeError", "undefined is not an object (evaluating 'a.b')", [])]
    other = _error("TypeError", "Cannot read properties of undefined (reading 'b')", [])
    assert compute_grouping(bare[0]).hash != compute_grouping(other).hash


def test_js_function_names() -> None:
    cases = {
        "Foo.bar": "bar", "Foo.prototype.bar": "bar", "Object.bar": "bar", "bar@": "bar",
        "async Foo.bar": "bar", "<anonymous>": "", "?": "", "total/<": "", "Foo/<.bar": "bar",
        "Foo.bar [as baz]": "bar", "new Cart": "Cart", "global code": "", "": "",
    }  # fmt: skip
    assert {name: js_function(name) for name in cases} == cases


CAPTURE_MESSAGE = {
    "level": "info",
    "message": "Checkout button unresponsive for cart 8812",
    "exception": {
        "values": [
            {
                "value": "Checkout button unresponsive for cart 8812",
                "stacktrace": {
                    "frames": [
                        {"filename": APP, "function": "Cart.submit", "in_app": False},
                        {
                            "filename": SDK,
                            "function": "captureMessage",
                            "in_app": False,
                            "module": "node_modules/@sentry/browser/build/npm/esm/exports",
                        },
                    ]
                },
                "mechanism": {"type": "generic", "handled": True, "synthetic": True},
            }
        ]
    },
}


def test_capture_message_is_titled_and_grouped_by_its_message() -> None:
    event = _event(CAPTURE_MESSAGE)
    assert event_title(event) == "Checkout button unresponsive for cart 8812"
    assert event_culprit(event) == f"{APP} in Cart.submit"
    grouping = compute_grouping(event)
    assert grouping.variant == "message"
    plain = _event({"message": "Checkout button unresponsive for cart 10"})
    assert grouping.hash == compute_grouping(plain).hash


def _group(kind: str, members: list[tuple[str, str]]) -> Event:
    values: list[dict[str, Any]] = []
    for index, (member_kind, where) in enumerate(members, start=1):
        values.append({
            "type": member_kind, "value": f"bad {index}",
            "stacktrace": {"frames": [{"function": where, "module": "app.jobs", "in_app": True}]},
            "mechanism": {"type": "chained", "source": f"exceptions[{index - 1}]",
                          "exception_id": index, "parent_id": 0},
        })  # fmt: skip
    values.append({
        "type": kind, "value": f"{len(members)} sub-exceptions",
        "stacktrace": {"frames": [{"function": "run_all", "module": "app.jobs", "in_app": True}]},
        "mechanism": {"type": "generic", "is_exception_group": True, "exception_id": 0},
    })  # fmt: skip
    return to_event(
        {"platform": "python", "exception": {"values": values}},
        project_id=1, event_id=None, received_at=1.7e9,
    )  # fmt: skip


def test_a_group_of_one_kind_groups_with_the_bare_exception() -> None:
    bare = to_event(
        {"platform": "python", "exception": {"values": [{
            "type": "ValueError", "value": "bad",
            "stacktrace": {"frames": [{"function": "run", "module": "app.jobs", "in_app": True}]},
        }]}},
        project_id=1, event_id=None, received_at=1.7e9,
    )  # fmt: skip
    wrapped = _group("ExceptionGroup", [("ValueError", "run"), ("ValueError", "run")])
    aggregate = _group("System.AggregateException", [("ValueError", "run")])
    assert compute_grouping(wrapped).hash == compute_grouping(bare).hash
    assert compute_grouping(aggregate).hash == compute_grouping(bare).hash
    mixed = _group("ExceptionGroup", [("ValueError", "run"), ("KeyError", "run")])
    assert compute_grouping(mixed).hash != compute_grouping(bare).hash
