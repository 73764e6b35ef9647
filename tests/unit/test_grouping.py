"""Grouping v1: one test per rule of ``docs/protocols.md`` "Grouping", then the real SDK."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sentry_sdk

from heliograph.digest.grouping import GROUPING_VERSION, Grouping, compute_grouping
from heliograph.digest.titles import event_culprit, event_title
from heliograph.model import Event, Exception_, Frame, Mechanism


def frame(
    function: str,
    module: str | None = "app.views",
    *,
    in_app: bool = True,
    line: str | None = None,
    lineno: int = 10,
    filename: str | None = None,
) -> Frame:
    return Frame(
        function=function,
        module=module,
        filename=filename,
        in_app=in_app,
        lineno=lineno,
        context_line=line if line is not None else f"    {function}()",
    )


def error(type_: str = "ValueError", value: str = "", *frames: Frame, **mech: Any) -> Exception_:
    return Exception_(type=type_, value=value, frames=list(frames), mechanism=Mechanism(**mech))


def event(**fields: Any) -> Event:
    return Event(project_id=1, event_id="0" * 32, timestamp=0.0, **fields)


def group(**fields: Any) -> Grouping:
    return compute_grouping(event(**fields))


def crash(*frames: Frame, type_: str = "ValueError", value: str = "bad") -> Grouping:
    return group(exceptions=[error(type_, value, *frames)])


VIEW = frame("index", "app.views")
LIB = frame("get", "requests.api", in_app=False)


# -- frames --------------------------------------------------------------------


def test_line_numbers_do_not_split() -> None:
    assert crash(frame("index", lineno=10)).hash == crash(frame("index", lineno=99)).hash


def test_different_in_app_call_paths_split() -> None:
    a = crash(frame("index"), frame("load_user", "app.users"))
    b = crash(frame("checkout"), frame("load_user", "app.users"))
    assert a.hash != b.hash


def test_library_frames_do_not_split_when_app_frames_exist() -> None:
    a = crash(VIEW, frame("get", "requests.api", in_app=False))
    b = crash(VIEW, frame("request", "urllib3.pool", in_app=False))
    assert a.variant == b.variant == "app"
    assert a.hash == b.hash
    assert a.secondary_hashes != b.secondary_hashes  # the system variant saw them


def test_system_variant_when_no_frame_is_in_app() -> None:
    a = crash(LIB)
    b = crash(frame("request", "urllib3.pool", in_app=False))
    assert a.variant == "system"
    assert a.secondary_hashes == []
    assert a.hash != b.hash


def test_all_in_app_has_no_distinct_secondary() -> None:
    assert crash(VIEW).secondary_hashes == []


def test_recursion_depth_does_not_split() -> None:
    rec = frame("walk", "app.tree", line="return walk(node.child)")
    leaf = frame("walk", "app.tree", line="raise KeyError(node)")
    shallow = crash(VIEW, *[rec] * 5, leaf)
    deep = crash(VIEW, *[rec] * 50, leaf)
    assert shallow.hash == deep.hash
    assert shallow.components.count("frame: app.tree in walk: return walk(node.child)") == 1


def test_mutual_recursion_cycles_collapse() -> None:
    even = frame("is_even", "app.parity", line="return is_odd(n - 1)")
    odd = frame("is_odd", "app.parity", line="return is_even(n - 1)")
    leaf = frame("is_odd", "app.parity", line="raise RecursionError")
    assert crash(*[even, odd] * 3, leaf).hash == crash(*[even, odd] * 30, leaf).hash


def test_long_context_line_is_ignored() -> None:
    a = crash(frame("index", line="x = " + "a" * 130))
    b = crash(frame("index", line="x = " + "b" * 130))
    c = crash(frame("index", line="x = 1"))
    assert a.hash == b.hash
    assert a.hash != c.hash


def test_context_line_whitespace_is_collapsed() -> None:
    a = crash(frame("index", line="        total  =\tprice *  qty  "))
    b = crash(frame("index", line="  total = price * qty"))
    assert a.hash == b.hash
    assert "frame: app.views in index: total = price * qty" in a.components


def test_module_missing_uses_lowercased_basename() -> None:
    a = crash(frame("run", None, filename="/srv/App/Jobs/Worker.PY"))
    b = crash(frame("run", None, filename="C:\\deploy\\app\\jobs\\worker.py"))
    assert a.hash == b.hash
    assert a.components[1] == "frame: worker.py in run: run()"


def test_javascript_query_strings_and_cache_busters_are_stripped() -> None:
    a = crash(frame("onClick", None, filename="https://cdn.example.com/js/main.3f2a1b9c.js?v=12"))
    b = crash(frame("onClick", None, filename="https://cdn.example.com/js/main.77aa0e41.js#x"))
    c = crash(frame("onClick", None, filename="/assets/main-BkU3jD9c.js"))
    assert a.hash == b.hash == c.hash


# -- exceptions ------------------------------------------------------------------


def test_value_is_ignored_when_frames_contribute() -> None:
    assert crash(VIEW, value="bad input 'x'").hash == crash(VIEW, value="other text").hash


def test_value_is_used_only_without_frames() -> None:
    a = group(exceptions=[error("ValueError", "bad input")])
    b = group(exceptions=[error("ValueError", "another problem")])
    assert a.hash != b.hash
    assert a.components == ["type: ValueError", "value: bad input"]


def test_value_is_normalised() -> None:
    a = group(exceptions=[error("LookupError", "User 123 not found")])
    b = group(exceptions=[error("LookupError", "User 456 not found")])
    assert a.hash == b.hash


def test_type_splits() -> None:
    assert crash(VIEW, type_="ValueError").hash != crash(VIEW, type_="TypeError").hash


def test_every_link_of_the_chain_contributes() -> None:
    outer = error("RuntimeError", "wrapped", VIEW)
    cause_a = error("KeyError", "'a'", frame("load", "app.config"))
    cause_b = error("TimeoutError", "slow", frame("load", "app.config"))
    a = group(exceptions=[outer, cause_a])
    b = group(exceptions=[outer, cause_b])
    assert a.hash != b.hash
    assert [c for c in a.components if c.startswith("type:")] == [
        "type: RuntimeError",
        "type: KeyError",
    ]


def test_cause_without_in_app_frames_contributes_its_value() -> None:
    outer = error("RuntimeError", "wrapped", VIEW)
    a = group(exceptions=[outer, error("OSError", "disk full", LIB)])
    b = group(exceptions=[outer, error("OSError", "permission denied", LIB)])
    assert a.variant == "app"
    assert a.hash != b.hash


def _exception_group(*members: Exception_, value: str = "2 failed") -> list[Exception_]:
    root = error("ExceptionGroup", value, VIEW, exception_id=0, is_exception_group=True)
    for index, member in enumerate(members, start=1):
        assert member.mechanism is not None
        member.mechanism.exception_id = index
        member.mechanism.parent_id = 0
        member.mechanism.source = f"exceptions[{index - 1}]"
    return [root, *members]


def test_exception_group_groups_by_the_set_of_members() -> None:
    fetch = frame("fetch", "app.tasks")
    parse = frame("parse", "app.tasks")
    a = group(
        exceptions=_exception_group(error("OSError", "", fetch), error("KeyError", "", parse))
    )
    b = group(
        exceptions=_exception_group(
            error("KeyError", "", parse),
            error("OSError", "", fetch),
            error("OSError", "", fetch),
            value="3 failed",
        )
    )
    c = group(
        exceptions=_exception_group(error("OSError", "", fetch), error("TypeError", "", parse))
    )
    assert a.hash == b.hash
    assert a.hash != c.hash
    assert "type: ExceptionGroup" in a.components
    assert not any("failed" in component for component in a.components)


def test_exception_group_members_keep_their_causes() -> None:
    member = error("RuntimeError", "", frame("job", "app.tasks"))
    cause_a = error("KeyError", "", frame("load", "app.config"), exception_id=2, parent_id=1)
    cause_b = error("OSError", "", frame("load", "app.config"), exception_id=2, parent_id=1)
    cause_a.mechanism.source = cause_b.mechanism.source = "__cause__"  # type: ignore[union-attr]
    a = group(exceptions=[*_exception_group(member), cause_a])
    b = group(exceptions=[*_exception_group(member), cause_b])
    assert a.hash != b.hash


def test_broken_exception_tree_is_read_as_a_chain() -> None:
    members = _exception_group(error("OSError", "", VIEW), error("KeyError", "", VIEW))
    members[2].mechanism.exception_id = 1  # type: ignore[union-attr]
    result = group(exceptions=members)
    assert [c for c in result.components if c.startswith("type:")] == [
        "type: ExceptionGroup",
        "type: OSError",
        "type: KeyError",
    ]


# -- precedence -----------------------------------------------------------------


def test_exception_beats_message() -> None:
    a = group(exceptions=[error("ValueError", "", VIEW)], message="first")
    b = group(exceptions=[error("ValueError", "", VIEW)], message="second")
    assert a.hash == b.hash


def test_stacktrace_beats_message() -> None:
    a = group(stacktrace=[VIEW, LIB], message="first")
    b = group(stacktrace=[VIEW], message="second")
    assert a.variant == "app"
    assert a.hash == b.hash


def test_stacktrace_system_variant() -> None:
    assert group(stacktrace=[LIB]).variant == "system"


def test_message_ids_group_together() -> None:
    a = group(message="User 123 not found")
    b = group(message="User 456 not found")
    c = group(message="Order 456 not found")
    assert a.variant == "message"
    assert a.hash == b.hash != c.hash
    assert a.components == ["message: User <int> not found"]


def test_empty_exception_falls_through_to_message() -> None:
    result = group(exceptions=[Exception_(type="")], message="hello")
    assert result.variant == "message"


def test_fallback_uses_level_logger_and_name() -> None:
    a = group()
    b = group(level="warning")
    assert a.variant == "fallback"
    assert a.components == ["level: error", "logger: ", "name: error"]
    assert a.hash != b.hash


# -- fingerprints ---------------------------------------------------------------


def test_custom_fingerprint_is_the_whole_key() -> None:
    a = group(exceptions=[error("ValueError", "", VIEW)], fingerprint=["db-down"])
    b = group(message="anything", fingerprint=["db-down"])
    assert a.variant == "custom"
    assert a.components == ["fingerprint: db-down"]
    assert a.hash == b.hash


def test_default_fingerprint_is_default_grouping() -> None:
    default = group(exceptions=[error("ValueError", "", VIEW)])
    for marker in ("{{ default }}", "{{default}}", "{{  DEFAULT }}"):
        same = group(exceptions=[error("ValueError", "", VIEW)], fingerprint=[marker])
        assert same == default


def test_mixed_fingerprint_salts_the_default() -> None:
    def salted(salt: str, *frames: Frame) -> Grouping:
        return group(
            exceptions=[error("ValueError", "", *frames)], fingerprint=["{{ default }}", salt]
        )

    default = group(exceptions=[error("ValueError", "", VIEW)])
    a = salted("eu", VIEW)
    assert a.variant == "app"
    assert a.components == [*default.components, "fingerprint: eu"]
    assert a.hash != default.hash
    assert a.hash != salted("us", VIEW).hash
    assert a.hash != salted("eu", frame("other")).hash


def test_fingerprint_variables() -> None:
    result = group(
        exceptions=[error("KeyError", "User 42", LIB, VIEW, LIB)],
        fingerprint=[
            "{{ type }}",
            "{{function}}/{{ Module }}",
            "{{ level }}:{{ logger }}",
            "{{ tags.Region }}",
            "{{ TRANSACTION }}",
            "{{ message }}",
            "{{ error.value }}",
            "{{ tags.missing }}",
            "{{ nonsense }}",
        ],
        level="warning",
        logger="billing",
        tags={"region": "eu-1"},
        transaction="/checkout",
        message="Order 17 failed",
    )
    assert result.components == [
        "fingerprint: KeyError",
        "fingerprint: index/app.views",
        "fingerprint: warning:billing",
        "fingerprint: eu-1",
        "fingerprint: /checkout",
        "fingerprint: Order <int> failed",
        "fingerprint: User <int>",
        "fingerprint: <no-value-for-tags.missing>",
        "fingerprint: <no-value-for-nonsense>",
    ]


def test_unresolvable_variables_are_stable_placeholders() -> None:
    result = group(message="x", fingerprint=["{{ type }}", "{{ function }}", "{{ logger }}"])
    assert result.components == [
        "fingerprint: <no-value-for-type>",
        "fingerprint: <no-value-for-function>",
        "fingerprint: <no-value-for-logger>",
    ]


# -- stability -------------------------------------------------------------------


def test_hash_is_pinned() -> None:
    """Changing this hash means changing the algorithm: bump GROUPING_VERSION.

    Reproducible by hand: sha256 of the compact JSON array of the components,
    first 32 hex digits.
    """
    result = group(
        exceptions=[
            error(
                "ZeroDivisionError",
                "division by zero",
                frame("handle", "django.core.handlers", in_app=False),
                frame("index", "app.views", line="    return 1 / 0"),
            )
        ]
    )
    assert result == Grouping(
        hash="b32c4fe1d03de93289152c2d6503d4e7",
        version="v2",
        variant="app",
        components=["type: ZeroDivisionError", "frame: app.views in index: return 1 / 0"],
        secondary_hashes=["4fafddfbed98e67d6c8ad7868c2e7d00"],
    )
    assert GROUPING_VERSION == "v2"


def test_grouping_is_pure() -> None:
    ev = event(
        exceptions=[error("ValueError", "x", VIEW)], message="m", fingerprint=["{{default}}"]
    )
    before = ev.to_dict()
    assert compute_grouping(ev) == compute_grouping(ev)
    assert ev.to_dict() == before


# -- titles ---------------------------------------------------------------------


def test_title() -> None:
    assert event_title(event(exceptions=[error("ZeroDivisionError", "division by zero")])) == (
        "ZeroDivisionError: division by zero"
    )
    assert event_title(event(exceptions=[error("KeyError", "\n  'a'\nmore")])) == "KeyError: 'a'"
    assert event_title(event(exceptions=[error("StopIteration", "")])) == "StopIteration"
    assert event_title(event(message="\n hello \nworld")) == "hello"
    assert event_title(event()) == "<unlabeled event>"
    long = event_title(event(exceptions=[error("ValueError", "x" * 500)]))
    assert len(long) == 200
    assert long.endswith("…")


def test_culprit() -> None:
    assert event_culprit(event(exceptions=[error("E", "", VIEW, LIB)])) == "app.views in index"
    assert event_culprit(event(exceptions=[error("E", "", LIB)])) == "requests.api in get"
    assert event_culprit(event(stacktrace=[VIEW])) == "app.views in index"
    no_module = frame("run", None, filename="jobs/worker.py")
    assert event_culprit(event(stacktrace=[no_module])) == "jobs/worker.py in run"
    assert event_culprit(event(transaction="/checkout")) == "/checkout"
    assert event_culprit(event()) == ""


# -- the real sentry-sdk -----------------------------------------------------------


@pytest.fixture
def capture() -> Iterator[Callable[[BaseException], Event]]:
    """Capture an exception with a real, isolated sentry-sdk client (nothing is sent)."""
    payloads: list[dict[str, Any]] = []

    def keep(payload: Any, hint: Any) -> None:
        payloads.append(payload)

    client = sentry_sdk.Client(
        dsn="http://public@127.0.0.1:9/1",
        before_send=keep,
        default_integrations=False,
        auto_enabling_integrations=False,
        send_client_reports=False,
        project_root=str(Path(__file__).parent),
    )

    def run(exc: BaseException) -> Event:
        with sentry_sdk.new_scope() as scope:
            scope.set_client(client)
            sentry_sdk.capture_exception(exc)
        return _from_sentry(payloads.pop())

    yield run
    client.close()


def _from_sentry(payload: dict[str, Any]) -> Event:
    """Just enough of a Sentry-to-canonical translation (not the ingest adapter)."""
    exceptions = []
    for value in reversed(payload["exception"]["values"]):  # Sentry: innermost first
        mech = value.get("mechanism") or {}
        frames = [
            Frame(
                function=f.get("function"),
                module=f.get("module"),
                filename=f.get("filename"),
                lineno=f.get("lineno"),
                in_app=bool(f.get("in_app")),
                context_line=f.get("context_line"),
            )
            for f in (value.get("stacktrace") or {}).get("frames", [])
        ]
        mechanism = Mechanism(
            exception_id=mech.get("exception_id"),
            parent_id=mech.get("parent_id"),
            is_exception_group=bool(mech.get("is_exception_group")),
            source=mech.get("source"),
        )
        exceptions.append(
            Exception_(value["type"], value.get("value") or "", None, mechanism, frames)
        )
    return Event(project_id=1, event_id=payload["event_id"], timestamp=0.0, exceptions=exceptions)


def _caught(fn: Callable[[], object]) -> BaseException:
    """Run ``fn`` (a ``partial``, so that no call-site line ends up in the stack)."""
    try:
        fn()
    except BaseException as exc:
        return exc
    raise AssertionError("did not raise")


class NotFound(Exception):
    pass


def find_user(user_id: int) -> None:
    raise NotFound(f"User {user_id} not found")


def profile_view(user_id: int) -> None:
    find_user(user_id)


def settings_view(user_id: int) -> None:
    find_user(user_id)


def descend(depth: int) -> None:
    if depth == 0:
        raise RecursionError("bottom")
    descend(depth - 1)


def test_real_sdk_same_path_different_ids_groups(capture: Callable[[BaseException], Event]) -> None:
    hashes = {compute_grouping(capture(_caught(partial(profile_view, i)))).hash for i in range(5)}
    assert len(hashes) == 1


def test_real_sdk_different_paths_split(capture: Callable[[BaseException], Event]) -> None:
    profile = compute_grouping(capture(_caught(partial(profile_view, 1))))
    settings = compute_grouping(capture(_caught(partial(settings_view, 1))))
    assert profile.variant == settings.variant == "app"
    assert profile.hash != settings.hash
    title_event = capture(_caught(partial(settings_view, 7)))
    assert event_title(title_event) == "NotFound: User 7 not found"
    assert event_culprit(title_event) == f"{__name__} in find_user"


def test_real_sdk_recursion_depth(capture: Callable[[BaseException], Event]) -> None:
    shallow = compute_grouping(capture(_caught(partial(descend, 5))))
    deep = compute_grouping(capture(_caught(partial(descend, 50))))
    assert shallow.hash == deep.hash


def test_real_sdk_chained_cause_splits(capture: Callable[[BaseException], Event]) -> None:
    def wrap(cause: Exception) -> None:
        try:
            raise cause
        except Exception as exc:
            raise RuntimeError("request failed") from exc

    key = capture(_caught(partial(wrap, KeyError("user"))))
    value = capture(_caught(partial(wrap, ValueError("user"))))
    assert [e.type for e in key.exceptions] == ["RuntimeError", "KeyError"]
    assert compute_grouping(key).hash != compute_grouping(value).hash


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("billing", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_real_sdk_moved_code_still_groups(
    capture: Callable[[BaseException], Event], tmp_path: Path
) -> None:
    source = "def charge(amount):\n    raise ValueError(f'cannot charge {amount}')\n"
    paths = []
    for release, padding in (("r1", 0), ("r2", 40)):
        (tmp_path / release).mkdir()
        paths.append(tmp_path / release / "billing.py")
        paths[-1].write_text("\n" * padding + source)
    v1, v2 = (_load(path) for path in paths)
    try:
        a = capture(_caught(partial(v1.charge, 10)))
        b = capture(_caught(partial(v2.charge, 99)))
    finally:
        sys.modules.pop("billing", None)
    assert a.exceptions[0].frames[-1].lineno != b.exceptions[0].frames[-1].lineno
    assert compute_grouping(a).hash == compute_grouping(b).hash


@pytest.mark.skipif(sys.version_info < (3, 11), reason="ExceptionGroup needs Python 3.11")
def test_real_sdk_exception_group(capture: Callable[[BaseException], Event]) -> None:
    def fail(*errors: Exception) -> None:
        raised = [_caught(partial(_raise, e)) for e in errors]
        raise ExceptionGroup("tasks failed", raised)  # type: ignore[type-var]  # noqa: F821

    two = capture(_caught(partial(fail, KeyError("a"), ValueError("b"))))
    three = capture(_caught(partial(fail, ValueError("c"), KeyError("d"), KeyError("e"))))
    other = capture(_caught(partial(fail, KeyError("a"), TypeError("b"))))
    assert two.exceptions[0].mechanism is not None
    assert two.exceptions[0].mechanism.is_exception_group
    assert compute_grouping(two).hash == compute_grouping(three).hash
    assert compute_grouping(two).hash != compute_grouping(other).hash


def _raise(exc: Exception) -> None:
    raise exc
