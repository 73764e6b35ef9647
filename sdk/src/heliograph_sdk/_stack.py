"""What ``capture_exception`` must do on the calling thread, and nothing more.

An exception chain is walked once: ``__cause__``, else ``__context__`` unless
``__suppress_context__``, and the members of an ``ExceptionGroup``. For every
link we keep its type, message and a list of cheap frame tuples; traceback
objects are never kept (they would pin every frame's locals in memory).
Context lines and ``in_app`` are filled in later by :mod:`._frames`.

Order: outermost exception first, root cause last (pre-order, so a group's
members follow the group); frames oldest call first.
"""

from __future__ import annotations

import builtins
import sys
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from heliograph_sdk._frames import InApp, RawFrame, format_frame
from heliograph_sdk._vars import frame_vars

MAX_EXCEPTIONS = 25
MAX_FRAMES = 200  # per exception; deep recursion keeps both ends


def _group_type() -> type[BaseException] | None:
    group: type[BaseException] | None = getattr(builtins, "BaseExceptionGroup", None)
    if group is None:  # Python 3.10: the backport, when the application uses it
        backport = sys.modules.get("exceptiongroup")
        group = getattr(backport, "BaseExceptionGroup", None)
    return group


_GROUP = _group_type()


@dataclass(slots=True)
class RawException:
    type: str
    module: str | None
    value: str
    frames: list[RawFrame]
    exception_id: int
    parent_id: int | None
    source: str | None
    is_group: bool


def _value(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return f"<{type(exc).__name__}: str() failed>"


def _frames(tb: TracebackType | None, capture_locals: bool, in_app: InApp | None) -> list[RawFrame]:
    frames: list[RawFrame] = []
    append = frames.append
    while tb is not None:
        frame = tb.tb_frame
        code = frame.f_code
        module = frame.f_globals.get("__name__")
        variables = None
        if capture_locals and in_app is not None and in_app(code.co_filename, module):
            try:
                variables = frame_vars(frame.f_locals)
            except Exception:
                variables = None
        append(RawFrame(code.co_filename, tb.tb_lineno, code.co_name, module, variables))
        tb = tb.tb_next
    if len(frames) > MAX_FRAMES:
        half = MAX_FRAMES // 2
        frames = frames[:half] + frames[-half:]
    return frames


def collect(
    exc: BaseException, *, capture_locals: bool = False, in_app: InApp | None = None
) -> list[RawException]:
    """Walk the chain of ``exc`` (see the module docstring)."""
    out: list[RawException] = []
    seen: set[int] = set()
    pending: list[tuple[BaseException, int | None, str | None]] = [(exc, None, None)]
    while pending and len(out) < MAX_EXCEPTIONS:
        current, parent, source = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        cls = type(current)
        module = cls.__module__
        is_group = _GROUP is not None and isinstance(current, _GROUP)
        exception_id = len(out)
        out.append(
            RawException(
                type=cls.__name__,
                module=None if module == "builtins" else module,
                value=_value(current),
                frames=_frames(current.__traceback__, capture_locals, in_app),
                exception_id=exception_id,
                parent_id=parent,
                source=source,
                is_group=is_group,
            )
        )
        # Pushed in reverse so the pop order is: group members, then the cause.
        nxt: list[tuple[BaseException, int | None, str | None]] = []
        if is_group:
            for i, member in enumerate(getattr(current, "exceptions", ())):
                nxt.append((member, exception_id, f"exceptions[{i}]"))
        if current.__cause__ is not None:
            nxt.append((current.__cause__, exception_id, "__cause__"))
        elif current.__context__ is not None and not current.__suppress_context__:
            nxt.append((current.__context__, exception_id, "__context__"))
        pending.extend(reversed(nxt))
    return out


def render_exceptions(
    raw: list[RawException], *, mechanism: str, handled: bool, in_app: InApp
) -> list[dict[str, Any]]:
    """The ``$exception_list`` value (runs on the background thread)."""
    result: list[dict[str, Any]] = []
    for item in raw:
        mech: dict[str, Any] = {
            "type": mechanism if item.parent_id is None else "chained",
            "handled": handled,
            "synthetic": False,
            "exception_id": item.exception_id,
        }
        if item.parent_id is not None:
            mech["parent_id"] = item.parent_id
        if item.source:
            mech["source"] = item.source
        if item.is_group:
            mech["is_exception_group"] = True
        result.append(
            {
                "type": item.type,
                "value": item.value,
                "module": item.module,
                "mechanism": mech,
                "stacktrace": {
                    "type": "raw",
                    "frames": [format_frame(f, in_app) for f in item.frames],
                },
            }
        )
    return result


def current_exception() -> BaseException | None:
    return sys.exc_info()[1]
