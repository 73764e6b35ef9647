"""Errors: $exception_list shape, chains, groups, in_app, context, locals, scope."""

from __future__ import annotations

import json
import logging
import sys
import threading
from typing import Any

import click
import pytest

import heliograph_sdk
from heliograph_sdk import _hooks


def exception_event(server: Any) -> dict[str, Any]:
    assert heliograph_sdk.flush(5)
    (event,) = server.named("$exception")
    return event


def fail_inner(value: int) -> None:
    api_key = "sk-should-not-travel"  # noqa: F841
    password = "hunter2"  # noqa: F841
    details = {"token": "abc", "count": value, "nested": {"list": list(range(20))}}  # noqa: F841
    raise KeyError(f"missing {value}")


def fail_outer() -> None:
    try:
        fail_inner(7)
    except KeyError as exc:
        raise RuntimeError("lookup failed") from exc


def test_chain_is_outermost_first(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    try:
        fail_outer()
    except RuntimeError as exc:
        event_id = heliograph_sdk.capture_exception(exc)
    event = exception_event(server)
    assert event["uuid"] == event_id
    props = event["properties"]
    chain = props["$exception_list"]
    assert [e["type"] for e in chain] == ["RuntimeError", "KeyError"]
    assert chain[0]["value"] == "lookup failed"
    assert chain[0]["module"] is None  # builtins
    assert chain[0]["mechanism"] == {
        "type": "generic",
        "handled": True,
        "synthetic": False,
        "exception_id": 0,
    }
    assert chain[1]["mechanism"]["parent_id"] == 0
    assert chain[1]["mechanism"]["exception_id"] == 1
    assert chain[1]["mechanism"]["source"] == "__cause__"
    assert props["$exception_level"] == "error"
    assert props["$exception_type"] == "RuntimeError"
    assert props["$exception_message"] == "lookup failed"
    # Frames oldest first: the crash frame is last.
    frames = chain[1]["stacktrace"]["frames"]
    assert chain[1]["stacktrace"]["type"] == "raw"
    assert [f["function"] for f in frames] == ["fail_outer", "fail_inner"]
    crash = frames[-1]
    assert crash["platform"] == "python"
    assert crash["context_line"].strip() == 'raise KeyError(f"missing {value}")'
    assert len(crash["pre_context"]) == 5
    assert crash["pre_context"][-1].strip().startswith("details = ")
    assert len(crash["post_context"]) == 5
    assert crash["in_app"] is True
    assert crash["module"] == __name__
    assert crash["abs_path"] == __file__
    assert crash["filename"].endswith("test_exceptions.py")
    assert "vars" not in crash  # locals are opt-in


def test_implicit_context_and_suppressed_context(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    try:
        try:
            raise ValueError("first")
        except ValueError:
            raise TypeError("while handling") from None
    except TypeError as exc:
        heliograph_sdk.capture_exception(exc)
    try:
        try:
            raise ValueError("first")
        except ValueError:
            raise TypeError("while handling")  # noqa: B904
    except TypeError as exc:
        heliograph_sdk.capture_exception(exc)
    assert heliograph_sdk.flush(5)
    suppressed, implicit = server.named("$exception")
    assert [e["type"] for e in suppressed["properties"]["$exception_list"]] == ["TypeError"]
    chain = implicit["properties"]["$exception_list"]
    assert [e["type"] for e in chain] == ["TypeError", "ValueError"]
    assert chain[1]["mechanism"]["source"] == "__context__"


@pytest.mark.skipif(sys.version_info < (3, 11), reason="ExceptionGroup is 3.11+")
def test_exception_group(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    try:
        raise ExceptionGroup("many", [ValueError("a"), TypeError("b")])  # noqa: F821
    except Exception as exc:
        heliograph_sdk.capture_exception(exc)
    chain = exception_event(server)["properties"]["$exception_list"]
    assert [e["type"] for e in chain] == ["ExceptionGroup", "ValueError", "TypeError"]
    assert chain[0]["mechanism"]["is_exception_group"] is True
    assert [e["mechanism"].get("parent_id") for e in chain] == [None, 0, 0]
    assert chain[2]["mechanism"]["source"] == "exceptions[1]"


def test_library_frames_are_not_in_app(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    try:
        json.loads("{bad")
    except ValueError as exc:
        heliograph_sdk.capture_exception(exc)
    try:
        click.INT.convert("nope", None, None)
    except click.BadParameter as exc:
        heliograph_sdk.capture_exception(exc)
    assert heliograph_sdk.flush(5)
    stdlib_event, site_event = server.named("$exception")
    frames = stdlib_event["properties"]["$exception_list"][0]["stacktrace"]["frames"]
    assert frames[0]["in_app"] is True
    assert frames[-1]["module"].startswith("json")
    assert frames[-1]["in_app"] is False
    frames = site_event["properties"]["$exception_list"][0]["stacktrace"]["frames"]
    assert frames[-1]["module"].startswith("click")
    assert frames[-1]["in_app"] is False


def test_in_app_include_and_exclude(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk(in_app_include=["click"], in_app_exclude=[__name__])
    try:
        click.INT.convert("nope", None, None)
    except click.BadParameter as exc:
        heliograph_sdk.capture_exception(exc)
    frames = exception_event(server)["properties"]["$exception_list"][0]["stacktrace"]["frames"]
    assert frames[0]["in_app"] is False  # this test module, excluded
    assert frames[-1]["in_app"] is True  # click, included


def test_locals_opt_in_are_bounded_and_scrubbed(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk(capture_locals=True)
    try:
        fail_inner(3)
    except KeyError as exc:
        heliograph_sdk.capture_exception(exc)
    frames = exception_event(server)["properties"]["$exception_list"][0]["stacktrace"]["frames"]
    variables = frames[-1]["vars"]
    assert variables["value"] == 3
    assert variables["api_key"] == "[Filtered]"
    assert variables["password"] == "[Filtered]"
    assert variables["details"]["token"] == "[Filtered]"
    assert variables["details"]["count"] == 3
    nested = variables["details"]["nested"]["list"]
    assert len(nested) == 11 and nested[-1] == "… 10 more"


def test_locals_values_are_clipped() -> None:
    from heliograph_sdk._vars import MAX_REPR, frame_vars

    class Loud:
        def __repr__(self) -> str:
            return "L" * 10_000

    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError

    out = frame_vars(
        {"loud": Loud(), "broken": Broken(), "auth": "Bearer abc.def", "deep": [[[[1]]]]}
    )
    assert len(out["loud"]) == MAX_REPR + 1
    assert "repr failed" in out["broken"]
    assert out["auth"] == "[Filtered]"
    assert out["deep"] == [[["[1]"]]]
    many = frame_vars({f"v{i}": i for i in range(100)})
    assert len(many) == 20


def test_capture_exception_defaults_to_current_and_dedups(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    assert heliograph_sdk.capture_exception() is None  # nothing being handled
    try:
        raise ValueError("once")
    except ValueError as exc:
        assert heliograph_sdk.capture_exception() is not None
        assert heliograph_sdk.capture_exception(exc) is None
    assert len([exception_event(server)]) == 1


def test_scope_rides_on_error_events(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk(identify="full")
    heliograph_sdk.set_user(id=42, email="a@example.com", name="Ada", plan="pro")
    heliograph_sdk.set_tag("region", "eu")
    heliograph_sdk.set_tag("session_token", "s3cr3t")
    heliograph_sdk.set_context("order", {"id": 7, "cookie": "x", "auth": "Bearer xyz"})
    for i in range(150):
        heliograph_sdk.add_breadcrumb(f"step {i}", category="test", data={"i": i})
    heliograph_sdk.capture_message("disk almost full", "warning", fingerprint="disk")
    props = exception_event(server)["properties"]
    assert props["$exception_message"] == "disk almost full"
    assert props["$exception_level"] == "warning"
    assert props["$exception_fingerprint"] == "disk"
    assert "$exception_list" not in props
    assert props["$tags"] == {"region": "eu", "session_token": "[Filtered]"}
    assert props["$contexts"] == {"order": {"id": 7, "cookie": "[Filtered]", "auth": "[Filtered]"}}
    crumbs = props["$breadcrumbs"]
    assert len(crumbs) == 100
    assert crumbs[-1]["message"] == "step 149"
    assert crumbs[0]["message"] == "step 50"
    assert crumbs[0]["category"] == "test"
    assert "T" in crumbs[0]["timestamp"]
    assert props["$user"] == {"id": "42", "email": "a@example.com", "name": "Ada", "plan": "pro"}


def test_isolated_scope_does_not_leak(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    heliograph_sdk.set_tag("outer", "1")
    with heliograph_sdk.isolated_scope():
        heliograph_sdk.set_tag("inner", "1")
        heliograph_sdk.set_user(id="inside")
        heliograph_sdk.capture_message("in")
    heliograph_sdk.capture_message("out")
    assert heliograph_sdk.flush(5)
    inner, outer = server.named("$exception")
    assert inner["properties"]["$tags"] == {"outer": "1", "inner": "1"}
    assert inner["distinct_id"] == "inside"
    assert outer["properties"]["$tags"] == {"outer": "1"}
    assert outer["properties"]["$process_person_profile"] is False


def test_exception_inside_trace_carries_ids(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    with heliograph_sdk.trace("pipeline") as root, heliograph_sdk.trace("step") as span:
        try:
            raise ValueError("in trace")
        except ValueError:
            heliograph_sdk.capture_exception()
    props = exception_event(server)["properties"]
    assert props["$trace_id"] == root.trace_id
    assert props["$ai_trace_id"] == root.trace_id
    assert props["$span_id"] == span.span_id


def test_thread_excepthook_is_chained(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    seen: list[str] = []
    previous = threading.excepthook
    threading.excepthook = lambda args: seen.append(type(args.exc_value).__name__)
    saved = (_hooks._installed, _hooks._previous_sys_hook, _hooks._previous_thread_hook)
    sys_hook = sys.excepthook
    try:
        _hooks._installed = False
        _hooks.install_excepthooks()

        def boom() -> None:
            raise LookupError("in a thread")

        thread = threading.Thread(target=boom)
        thread.start()
        thread.join()
    finally:
        threading.excepthook = previous
        sys.excepthook = sys_hook
        _hooks._installed, _hooks._previous_sys_hook, _hooks._previous_thread_hook = saved
    props = exception_event(server)["properties"]
    assert seen == ["LookupError"]
    assert props["$exception_list"][0]["mechanism"]["type"] == "threading"
    assert props["$exception_list"][0]["mechanism"]["handled"] is False
    assert props["$exception_level"] == "fatal"


def test_logging_handler(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    log = logging.getLogger("tests.app")
    log.setLevel(logging.DEBUG)
    handler = heliograph_sdk.HeliographLoggingHandler()
    log.addHandler(handler)
    try:
        log.debug("too quiet")
        log.info("user %s logged in", "ada")
        log.warning("slow query")
        log.error("payment failed for %s", "order-1")
        try:
            raise ConnectionError("db down")
        except ConnectionError:
            log.exception("could not save")
    finally:
        log.removeHandler(handler)
    assert heliograph_sdk.flush(5)
    message, exception = server.named("$exception")
    assert message["properties"]["$exception_message"] == "payment failed for order-1"
    assert message["properties"]["$logger"] == "tests.app"
    crumbs = [c["message"] for c in message["properties"]["$breadcrumbs"]]
    assert crumbs == ["user ada logged in", "slow query"]
    assert exception["properties"]["$exception_list"][0]["type"] == "ConnectionError"
    assert exception["properties"]["$exception_list"][0]["mechanism"]["type"] == "logging"
    assert exception["properties"]["$log_message"] == "could not save"


def test_excepthook_subprocess_reports_and_chains(server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess

    script = tmp_path / "crash.py"
    script.write_text(
        "import heliograph_sdk\n"
        f"heliograph_sdk.init(api_key='k', host='{server.url}')\n"
        "def main():\n"
        "    raise SystemError('crash at top level')\n"
        "main()\n"
    )
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 1
    assert "SystemError: crash at top level" in result.stderr  # the default hook still ran
    (event,) = server.wait_named("$exception")
    chain = event["properties"]["$exception_list"]
    assert chain[0]["mechanism"] == {
        "type": "excepthook",
        "handled": False,
        "synthetic": False,
        "exception_id": 0,
    }
    assert chain[0]["stacktrace"]["frames"][-1]["context_line"].strip() == (
        "raise SystemError('crash at top level')"
    )


def test_secret_keys_are_read_as_words() -> None:
    from heliograph_sdk._scrub import is_secret_key

    for key in ("password", "dbPassword", "X-Api-Key", "csrftoken", "PHPSESSID", "client_secret"):
        assert is_secret_key(key), key
    for key in ("max_tokens", "$ai_tokens_source", "conversation_session", "author", "cache_key"):
        assert not is_secret_key(key), key
