"""What the agent-framework integrations share: roots, a bounded run table, quiet callbacks.

A framework tells us about its runs through callbacks, each naming the run
and its parent by the framework's own ids. The integrations keep the open
spans and generations in a :class:`RunTable` under those ids and build the
tree with explicit parents (``Span(parent=...)``), not with the context
variable, because callbacks for one run tree may arrive on several threads.

A framework's top-level run becomes a trace — or, when the application
already has a Heliograph span open around it (``with trace(...)``), a span of
that trace, so an agent run inside a request shows up inside the request's
trace. The scope (user, flags) is copied when the root opens and used for every
event of the tree.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from heliograph_sdk import _hub
from heliograph_sdk._scope import Scope, current_scope
from heliograph_sdk._tracing import Span, current_span

logger = logging.getLogger("heliograph_sdk")

FRAMEWORK = "$ai_framework"
TOOL_NAME = "$ai_tool_name"
AGENT_NAME = "$ai_agent_name"
# Open runs a table remembers: a framework that never reports some run's end
# (a crash, a cancelled task) must not make the application's memory grow.
MAX_OPEN_RUNS = 10_000

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def snapshot_scope() -> Scope:
    """The user, session and flags as they are now, kept for a run's later events.

    A copy, not the scope itself: the global scope is changed in place by
    ``set_user``, and a run's events belong to whoever started it.
    """
    return Scope(current_scope())


def open_root(
    name: str,
    framework: str,
    *,
    session_id: str | None = None,
    start_time: float | None = None,
) -> Span:
    """A framework's top-level run: a trace, or a span of the Heliograph span around it.

    ``session_id`` (the framework's conversation id) applies unless the span
    around it already belongs to a session.
    """
    parent = current_span()
    span = Span(
        name,
        {FRAMEWORK: framework},
        session_id=(parent.session_id if parent else None) or session_id,
        parent=parent,
        scope=snapshot_scope(),
    )
    return span.start(start_time)


def open_child(parent: Span, name: str, framework: str, **properties: Any) -> Span:
    """A span under ``parent``, started now, outside the context variable."""
    props = {FRAMEWORK: framework}
    props.update({k: v for k, v in properties.items() if v is not None})
    return Span(name, props, parent=parent).start()


class RunTable(Generic[T]):
    """Open spans or generations by the framework's run id; thread-safe and bounded.

    Past :data:`MAX_OPEN_RUNS` the oldest entries are forgotten without being
    sent: losing a run that never ended is better than holding it forever.
    """

    def __init__(self, limit: int = MAX_OPEN_RUNS) -> None:
        self._runs: OrderedDict[Any, T] = OrderedDict()
        self._lock = threading.Lock()
        self._limit = limit

    def put(self, key: Any, value: T) -> None:
        with self._lock:
            self._runs[key] = value
            while len(self._runs) > self._limit:
                self._runs.popitem(last=False)

    def get(self, key: Any) -> T | None:
        if key is None:
            return None
        with self._lock:
            return self._runs.get(key)

    def pop(self, key: Any) -> T | None:
        with self._lock:
            return self._runs.pop(key, None)

    def values(self) -> list[T]:
        with self._lock:
            return list(self._runs.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._runs)


def quietly(method: F) -> F:
    """A framework callback that must never raise into the framework (nor the app)."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except Exception:
            logger.debug("heliograph_sdk: %s failed", method.__qualname__, exc_info=True)
            return None

    return wrapper  # type: ignore[return-value]


def payloads_on() -> bool:
    """Whether prompts and outputs are kept: skip building them when they would be dropped."""
    settings = _hub.settings
    return bool(settings is not None and settings.llm_payloads)
