"""ai/describe.py: what the model sees, frame trimming, and the token budget."""

from __future__ import annotations

import itertools
import json
import linecache
import os
import time
from types import TracebackType
from typing import Any

import pytest

from heliograph.ai.describe import (
    PROMPT_VERSION,
    Description,
    build_messages,
    describe_event,
    select_frames,
)
from heliograph.ai.tokens import count_tokens
from heliograph.model import Breadcrumb, Event, Exception_, Frame, Mechanism, User

# -- building events -----------------------------------------------------------------


def frame(
    function: str,
    *,
    in_app: bool = True,
    lineno: int = 10,
    line: str | None = None,
    module: str = "app.views",
    vars: dict[str, Any] | None = None,
    colno: int | None = None,
) -> Frame:
    return Frame(
        function=function,
        module=module,
        filename=module.replace(".", "/") + ".py",
        lineno=lineno,
        colno=colno,
        in_app=in_app,
        context_line=line if line is not None else f"    result = {function}(value)",
        pre_context=[f"def {function}(value):", "    # before 1", "    # before 2"],
        post_context=["    # after 1", "    return result", ""],
        vars=vars,
    )


def event(*chain: Exception_, **fields: Any) -> Event:
    fields.setdefault("platform", "python")
    return Event(project_id=1, event_id="a" * 32, timestamp=0.0, exceptions=list(chain), **fields)


def exc(type_: str, value: str, *frames: Frame, **mechanism: Any) -> Exception_:
    return Exception_(
        type=type_, value=value, frames=list(frames), mechanism=Mechanism(**mechanism)
    )


def _frames_of(tb: TracebackType | None) -> list[Frame]:
    frames = []
    while tb is not None:
        code, lineno = tb.tb_frame.f_code, tb.tb_lineno
        lines = [
            linecache.getline(code.co_filename, n).rstrip("\n")
            for n in range(lineno - 3, lineno + 4)
        ]
        frames.append(
            Frame(
                function=code.co_name,
                module=tb.tb_frame.f_globals.get("__name__"),
                filename=code.co_filename,
                lineno=lineno,
                in_app="site-packages" not in code.co_filename,
                context_line=lines[3],
                pre_context=lines[:3],
                post_context=lines[4:],
                vars={k: repr(v) for k, v in tb.tb_frame.f_locals.items()},
            )
        )
        tb = tb.tb_next
    return frames


def from_exception(error: BaseException) -> Event:
    """A canonical event from a real Python exception (outermost first)."""
    chain: list[Exception_] = []
    current: BaseException | None = error
    source = None
    while current is not None and len(chain) < 50:
        chain.append(
            Exception_(
                type=type(current).__name__,
                value=str(current),
                module=type(current).__module__,
                mechanism=Mechanism(
                    type="chained" if chain else "generic",
                    handled=None if chain else False,
                    source=source,
                ),
                frames=_frames_of(current.__traceback__),
            )
        )
        if current.__cause__ is not None:
            current, source = current.__cause__, "__cause__"
        elif current.__context__ is not None and not current.__suppress_context__:
            current, source = current.__context__, "__context__"
        else:
            current = None
    return event(*chain)


def crash_frame(description: Description) -> dict[str, Any]:
    frames = description.data["exceptions"][0]["frames"]
    crash = [f for f in frames if f.get("crash")]
    assert len(crash) == 1
    assert frames[0] is crash[0], "most recent first: the crash frame leads"
    found: dict[str, Any] = crash[0]
    return found


def assert_budget(description: Description, budget: int) -> None:
    assert description.tokens == count_tokens(description.text) <= budget
    assert json.loads(description.text) == description.data


# -- content -------------------------------------------------------------------------


def test_frames_most_recent_first_with_the_crash_frame_marked() -> None:
    frames = [frame("main", lineno=1), frame("load", in_app=False, lineno=2), frame("parse")]
    ev = event(exc("ValueError", "bad input", *frames, type="excepthook", handled=False))
    description = describe_event(ev)
    first = description.data["exceptions"][0]
    assert first["number"] == 1
    assert first["type"] == "ValueError"
    assert first["value"] == "bad input"
    assert first["mechanism"] == "excepthook" and first["handled"] is False
    names = [f["function"] for f in first["frames"]]
    assert names == ["parse", "load", "main"]
    crash = crash_frame(description)
    assert crash["in_app"] is True
    assert crash["file"] == "app/views.py" and crash["line"] == 10
    assert crash["context_line"] == "    result = parse(value)"  # indentation kept in a window
    assert crash["pre_context"][0] == "def parse(value):"
    assert crash["post_context"][:2] == ["    # after 1", "    return result"]
    assert description.data["language"] == "python"
    assert description.omitted_frames == 0


def test_code_context_for_the_crash_and_nearest_in_app_frames_only() -> None:
    frames = [frame(f"f{i}", lineno=i) for i in range(6)]
    data = describe_event(event(exc("KeyError", "'x'", *frames))).data
    listed = data["exceptions"][0]["frames"]
    with_window = [f["function"] for f in listed if "pre_context" in f]
    assert with_window == ["f5", "f4", "f3"]  # the crash frame and the two in-app frames under it
    assert all("context_line" in f for f in listed)


def test_message_language_and_nothing_private() -> None:
    secret_fields = {
        "tags": {"customer": "TAG-SECRET"},
        "user": User(email="USER-SECRET@example.com"),
        "request": {"headers": {"X": "REQUEST-SECRET"}},
        "breadcrumbs": [Breadcrumb(message="CRUMB-SECRET")],
        "extra": {"x": "EXTRA-SECRET"},
        "contexts": {"os": {"name": "CONTEXT-SECRET"}},
    }
    description = describe_event(
        event(exc("ValueError", "v", frame("f")), message="payment failed", **secret_fields)
    )
    assert description.data["message"] == "payment failed"
    assert "SECRET" not in description.text
    other = describe_event(event(exc("ValueError", "v", frame("f")), platform="other"))
    assert "language" not in other.data


def test_bare_stacktrace_without_exception() -> None:
    ev = Event(
        project_id=1,
        event_id="b" * 32,
        timestamp=0.0,
        platform="javascript",
        message="render loop",
        stacktrace=[frame("a"), frame("b")],
    )
    data = describe_event(ev).data
    assert data["message"] == "render loop"
    assert [f["function"] for f in data["frames"]] == ["b", "a"]


def test_real_chain_relations_outermost_first() -> None:
    def load() -> None:
        try:
            os.environ["HELIOGRAPH_TEST_NO_SUCH_VARIABLE"]
        except KeyError as error:
            raise ValueError("config missing") from error

    def start() -> None:
        try:
            load()
        except ValueError:
            raise RuntimeError("cannot start")  # noqa: B904 - the implicit chain is the point

    with pytest.raises(RuntimeError) as info:
        start()
    data = describe_event(from_exception(info.value)).data
    chain = data["exceptions"]
    assert [link["type"] for link in chain] == ["RuntimeError", "ValueError", "KeyError"]
    assert chain[0]["relation"] == "raised while handling #2"
    assert chain[1]["relation"] == "caused by #3 (raise ... from)"
    assert "relation" not in chain[2]
    root_frames = [f["function"] for f in chain[2]["frames"]]
    assert root_frames[:2] == ["__getitem__", "load"]  # where the root cause was raised


def test_exception_group_members() -> None:
    group = exc("ExceptionGroup", "2 errors", frame("run"), exception_id=0, is_exception_group=True)
    first = exc("ValueError", "a", frame("a"), exception_id=1, parent_id=0, source="exceptions[0]")
    second = exc("KeyError", "b", frame("b"), exception_id=2, parent_id=0, source="exceptions[1]")
    chain = describe_event(event(group, first, second)).data["exceptions"]
    assert chain[1]["relation"] == "member of exception group #1"
    assert chain[2]["relation"] == "member of exception group #1"


def test_generic_mechanism_is_left_out() -> None:
    link = describe_event(event(exc("ValueError", "v", frame("f"), handled=True))).data
    assert "mechanism" not in link["exceptions"][0]
    assert link["exceptions"][0]["handled"] is True


def test_module_qualified_types_but_not_builtins() -> None:
    link = Exception_(type="ConnectError", value="refused", module="httpx", frames=[frame("get")])
    builtin = Exception_(type="ValueError", value="v", module="builtins", frames=[frame("get")])
    assert describe_event(event(link)).data["exceptions"][0]["type"] == "httpx.ConnectError"
    assert describe_event(event(builtin)).data["exceptions"][0]["type"] == "ValueError"


def test_trace_summary_is_included_compactly() -> None:
    summary = {
        "trace_id": "t" * 32,
        "models": ["gpt-4.1-mini", "claude-sonnet-4-5"],
        "generations": 7,
        "failing_generation": {"model": "gpt-4.1-mini", "error": "context length " + "x" * 5000},
    }
    description = describe_event(event(exc("ValueError", "v", frame("f"))), trace_summary=summary)
    trace = description.data["llm_trace"]
    assert trace["models"] == summary["models"] and trace["generations"] == 7
    assert len(trace["failing_generation"]["error"]) < 400
    assert "truncated" in trace["failing_generation"]["error"]


# -- locals and scrubbed values --------------------------------------------------------


def test_locals_only_when_asked() -> None:
    variables = {f"v{i}": f"'{i}'" for i in range(15)}
    variables["__builtins__"] = "{...}"
    variables["v0"] = "'" + "x" * 1000 + "'"
    ev = event(exc("ValueError", "v", frame("f", vars=variables)))
    assert "vars" not in crash_frame(describe_event(ev))
    assert "v1" not in describe_event(ev).text
    shown = crash_frame(describe_event(ev, include_locals=True))["vars"]
    assert len(shown) == 10
    assert "__builtins__" not in shown
    assert len(shown["v0"]) < 250 and "truncated" in shown["v0"]


def test_only_the_crash_frame_has_locals() -> None:
    frames = [frame("outer", vars={"outer_var": "1"}), frame("inner", vars={"inner_var": "2"})]
    text = describe_event(event(exc("ValueError", "v", *frames)), include_locals=True).text
    assert "inner_var" in text and "outer_var" not in text


def test_filtered_values_stay_filtered() -> None:
    variables = {"password": "[Filtered]", "token": "abc123secret", "nested": {"api_key": "k-123"}}
    ev = event(
        exc("ValueError", "login failed for [Filtered]", frame("login", vars=variables)),
        message="[Filtered] tried to log in",
    )
    description = describe_event(ev, include_locals=True)
    shown = crash_frame(description)["vars"]
    assert shown["password"] == "[Filtered]"
    assert shown["token"] == "[Filtered]"  # scrubbed once more: never less private than stored
    assert "k-123" not in shown["nested"]
    assert description.data["exceptions"][0]["value"] == "login failed for [Filtered]"
    assert description.data["message"] == "[Filtered] tried to log in"


# -- frame trimming --------------------------------------------------------------------


def test_select_keeps_everything_under_the_limit() -> None:
    assert select_frames([True, False, True], 15) == [0, 1, 2]
    assert select_frames([], 15) == []


@pytest.mark.parametrize("limit", [0, 1, 2, 3, 5, 15, 40])
@pytest.mark.parametrize("length", [1, 2, 16, 50, 300])
def test_select_keeps_exactly_the_limit_and_the_crash(limit: int, length: int) -> None:
    pattern = [i % 7 in (0, 3) for i in range(length)]
    kept = select_frames(pattern, limit)
    assert len(kept) == min(length, max(limit, 1))
    assert kept[-1] == length - 1
    assert kept == sorted(set(kept))


def test_select_prefers_in_app_then_both_ends() -> None:
    # 40 system frames, 5 in-app frames in the middle, crash in a library.
    in_app = [False] * 20 + [True] * 5 + [False] * 20
    kept = select_frames(in_app, 15)
    assert set(range(20, 25)) <= set(kept)  # every in-app frame
    assert 44 in kept and 43 in kept  # the crash and the frames nearest it
    assert 0 in kept  # the oldest end


def test_select_deep_app_stack_keeps_both_ends() -> None:
    kept = select_frames([True] * 100, 15)
    assert 99 in kept and 98 in kept
    assert 0 in kept  # the app's entry point survives


def test_omitted_markers_where_frames_were_dropped() -> None:
    # Mutual recursion does not fold: 300 frames alternating between two functions.
    frames = [frame("main", lineno=1)] + [
        frame("ping" if i % 2 else "pong", lineno=20 + i % 2) for i in range(298)
    ]
    frames.append(frame("check", lineno=99))
    description = describe_event(event(exc("RecursionError", "too deep", *frames)))
    listed = description.data["exceptions"][0]["frames"]
    real = [f for f in listed if "omitted" not in f]
    markers = [f for f in listed if "omitted" in f]
    assert len(real) == 15
    assert listed[0]["function"] == "check" and listed[0]["crash"] is True
    assert real[-1]["function"] == "main"  # the oldest end
    assert sum(m["omitted"] for m in markers) == description.omitted_frames == 300 - 15
    for before, after in itertools.pairwise(listed):
        assert not ("omitted" in before and "omitted" in after), "one marker per gap"


def test_direct_recursion_folds_into_one_entry() -> None:
    frames = [frame("main", lineno=1)] + [frame("walk", lineno=5)] * 300 + [frame("leaf", lineno=9)]
    description = describe_event(event(exc("RecursionError", "deep", *frames)))
    listed = description.data["exceptions"][0]["frames"]
    assert [f["function"] for f in listed] == ["leaf", "walk", "main"]
    assert listed[1]["repeated"] == 300
    assert description.omitted_frames == 0


# -- the token budget ------------------------------------------------------------------


def _recursion_event(depth: int) -> Event:
    def ping(n: int) -> None:
        if n == 0:
            raise ValueError("reached the bottom of the recursion: " + "detail " * 50)
        pong(n - 1)

    def pong(n: int) -> None:
        ping(n)

    with pytest.raises(ValueError) as info:
        ping(depth)
    return from_exception(info.value)


@pytest.mark.parametrize("budget", [150, 300, 600, 1000, 2000, 4000])
def test_budget_on_a_300_frame_recursion(budget: int) -> None:
    ev = _recursion_event(150)
    assert len(ev.crash_frames) > 300
    description = describe_event(ev, budget_tokens=budget, include_locals=True)
    assert_budget(description, budget)
    crash = crash_frame(description)
    assert crash["function"] == "ping"
    assert "raise ValueError" in crash["context_line"]


def test_describing_a_300_frame_recursion_is_fast() -> None:
    ev = _recursion_event(150)
    describe_event(ev)  # warm the encoder
    for budget in (2000, 300):
        started = time.perf_counter()
        for _ in range(10):
            describe_event(ev, budget_tokens=budget, include_locals=True)
        assert (time.perf_counter() - started) / 10 < 0.05


def _chain_event(links: int) -> Event:
    def level(k: int) -> None:
        if k == 0:
            raise KeyError("root cause " + "r" * 400)
        try:
            level(k - 1)
        except Exception as error:
            raise RuntimeError(f"level {k} failed: " + "m" * 400) from error

    with pytest.raises(RuntimeError) as info:
        level(links - 1)
    return from_exception(info.value)


@pytest.mark.parametrize("budget", [150, 400, 800, 2000])
def test_budget_on_a_10_link_chain(budget: int) -> None:
    ev = _chain_event(10)
    assert len(ev.exceptions) == 10
    description = describe_event(ev, budget_tokens=budget)
    assert_budget(description, budget)
    chain = description.data["exceptions"]
    assert chain[0]["number"] == 1
    assert "raise RuntimeError" in crash_frame(description)["context_line"]
    kept = [link for link in chain if "number" in link]
    marker = [link for link in chain if "omitted_exceptions" in link]
    assert len(kept) <= 5
    assert marker and marker[0]["omitted_exceptions"] == 10 - len(kept)
    assert description.omitted_exceptions == 10 - len(kept)


def test_chain_keeps_the_root_cause_longest() -> None:
    chain = describe_event(_chain_event(10), budget_tokens=2000).data["exceptions"]
    assert chain[-1]["type"] == "KeyError" and chain[-1]["number"] == 10


def test_degradation_order_locals_first() -> None:
    variables = {f"v{i}": "'" + "x" * 180 + "'" for i in range(10)}
    ev = event(exc("ValueError", "v", frame("f", vars=variables)))
    full = describe_event(ev, include_locals=True, budget_tokens=4000)
    assert "vars" in crash_frame(full) and full.steps == ()
    tight = describe_event(ev, include_locals=True, budget_tokens=full.tokens - 50)
    assert tight.steps[0] == "drop locals"
    assert "vars" not in crash_frame(tight)
    assert "pre_context" in crash_frame(tight)  # the crash window survives the first step


@pytest.mark.parametrize("budget", [120, 200, 500])
def test_crash_line_survives_huge_values(budget: int) -> None:
    minified = "var a=1;" * 5000 + "throw new TypeError(x.y)" + ";b()" * 5000
    column = minified.index("throw")
    crash = frame("render", line=minified, colno=column, module="bundle.min")
    ev = event(
        exc("TypeError", "x is undefined " * 2000, frame("boot"), crash),
        message="m" * 10000,
        platform="javascript",
    )
    description = describe_event(ev, budget_tokens=budget)
    assert_budget(description, budget)
    line = crash_frame(description)["context_line"]
    assert "throw new TypeError" in line  # clipped around the column, not from the start


def test_tiny_budget_still_keeps_the_crash_frame() -> None:
    description = describe_event(_chain_event(10), budget_tokens=10)
    crash = crash_frame(description)
    assert crash["context_line"]
    assert description.steps[-1] == "minimal"


# -- the prompt ------------------------------------------------------------------------


def test_build_messages() -> None:
    description = describe_event(event(exc("ValueError", "v", frame("f"))))
    messages = build_messages(description)
    assert [m["role"] for m in messages] == ["system", "user"]
    system = messages[0]["content"]
    for section in ("## Problem description", "## Proposed solution", "## What else to check"):
        assert section in system
    assert "never a diff" in system
    assert description.text in messages[1]["content"]
    assert PROMPT_VERSION


def test_to_json_is_indented_and_equal() -> None:
    description = describe_event(event(exc("ValueError", "v", frame("f"))))
    dumped = description.to_json()
    assert "\n  " in dumped
    assert json.loads(dumped) == description.data
