"""Traces and spans for LLM pipelines, carried by a ``ContextVar``.

``trace(name)`` (or ``@observe``) opens a span. With no span around it, it is
a trace root: its id is the trace id, and when it ends it emits ``$ai_trace``
with the totals of everything inside (tokens, cost, generation count, error).
Nested, it emits ``$ai_span`` with its parent's id. Children find their parent
through the context variable, so nesting follows ``await`` and asyncio tasks,
and threads started with a copied context (``contextvars.copy_context().run``).

Root-level children point at the trace id as their parent, the way PostHog's
own SDKs do, so trees build the same whichever SDK sent them.

Agent-framework integrations learn the tree from the framework's callbacks
(a run id and its parent's), not from the context: they pass ``parent=``
explicitly, open spans with :meth:`Span.start` (which leaves the context
alone), and pin the ``scope`` seen when the run began, because a framework
may call back on a thread that never saw the user's scope.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import os
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any, TypeVar, overload

from heliograph_sdk import _hub
from heliograph_sdk._client import Client
from heliograph_sdk._clip import clip_payload
from heliograph_sdk._scope import Scope

logger = logging.getLogger("heliograph_sdk")

F = TypeVar("F", bound=Callable[..., Any])

_span_var: ContextVar[Span | None] = ContextVar("heliograph_span", default=None)
_OFF = object()
# ``parent=`` left out: the parent is the context's current span.
FROM_CONTEXT: Any = object()


def new_trace_id() -> str:
    return os.urandom(16).hex()


def new_span_id() -> str:
    return os.urandom(8).hex()


def current_span() -> Span | None:
    """The innermost open span of this context, if any."""
    return _span_var.get()


def payload(value: Any) -> Any:
    """A clipped copy of an LLM payload, or ``_OFF`` when payload capture is off."""
    settings = _hub.settings
    if settings is None or not settings.llm_payloads:
        return _OFF
    return clip_payload(value, settings.llm_payload_max_chars)


def wall_time(perf: float | None) -> float | None:
    """The ``time.time()`` of a past ``time.perf_counter()`` reading (None stays None).

    For events sent after the fact: their timestamp must be when the work
    ended, since the server places the start at timestamp minus latency.
    """
    if perf is None:
        return None
    return time.time() - max(0.0, time.perf_counter() - perf)


def error_text(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class TraceTotals:
    """What a trace's root reports: summed by every generation inside it."""

    __slots__ = ("cost", "errors", "generations", "input_tokens", "lock", "output_tokens")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.input_tokens = 0
        self.output_tokens = 0
        self.cost: float | None = None
        self.generations = 0
        self.errors = 0

    def add(
        self, input_tokens: int | None, output_tokens: int | None, cost: float | None, error: bool
    ) -> None:
        with self.lock:
            self.generations += 1
            self.input_tokens += input_tokens or 0
            self.output_tokens += output_tokens or 0
            if cost is not None:
                self.cost = (self.cost or 0.0) + cost
            if error:
                self.errors += 1


class Span:
    """An open trace or span; use ``set(...)`` for custom properties.

    ``set_input`` / ``set_output`` record ``$ai_input_state`` /
    ``$ai_output_state`` only when LLM payload capture is on.
    """

    def __init__(
        self,
        name: str,
        properties: dict[str, Any] | None = None,
        *,
        session_id: str | None = None,
        parent: Span | None = FROM_CONTEXT,
        scope: Scope | None = None,
    ) -> None:
        if parent is FROM_CONTEXT:
            parent = _span_var.get()
        self.name = name
        self.parent = parent
        if parent is None:
            self.trace_id = new_trace_id()
            self.span_id = self.trace_id
            self.parent_id: str | None = None
            self.totals = TraceTotals()
            self.session_id = session_id
        else:
            self.trace_id = parent.trace_id
            self.span_id = new_span_id()
            self.parent_id = parent.span_id
            self.totals = parent.totals
            self.session_id = session_id or parent.session_id
        # Whose events these are: None reads the scope current when each is sent.
        self.scope: Scope | None = (
            scope if scope is not None else (parent.scope if parent else None)
        )
        self.properties: dict[str, Any] = dict(properties or {})
        self.error: str | None = None
        self._input: Any = _OFF
        self._output: Any = _OFF
        self._start = 0.0
        self._token: Token[Span | None] | None = None
        self._done = False

    @property
    def is_root(self) -> bool:
        return self.parent is None

    def set(self, **properties: Any) -> None:
        """Attach custom properties (e.g. ``verdict="pass"``) to the emitted event."""
        self.properties.update(properties)

    def set_input(self, value: Any) -> None:
        self._input = payload(value)

    def set_output(self, value: Any) -> None:
        self._output = payload(value)

    def set_error(self, error: BaseException | str) -> None:
        self.error = error_text(error) if isinstance(error, BaseException) else str(error)

    def start(self, at: float | None = None) -> Span:
        """Start the clock without becoming the context's current span.

        For spans whose end is signalled by a callback rather than a ``with``
        block; end them with :meth:`finish`. ``at``: the ``perf_counter()``
        reading it really began at, when that was earlier.
        """
        self._start = time.perf_counter() if at is None else at
        return self

    def __enter__(self) -> Span:
        self._start = time.perf_counter()
        self._token = _span_var.set(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._token is not None:
            with contextlib.suppress(ValueError):  # exited in another context: leave it
                _span_var.reset(self._token)
            self._token = None
        if exc is not None and not isinstance(exc, GeneratorExit):
            self.set_error(exc)
        self.finish()

    async def __aenter__(self) -> Span:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def finish(self, end: float | None = None) -> None:
        """Emit the event once; ``end``: the ``perf_counter()`` reading it ended at, if past."""
        if self._done:
            return
        self._done = True
        client = _hub.current()
        if client is None:
            return
        try:
            self._emit(client, end)
        except Exception:
            logger.debug("heliograph_sdk: could not record a span", exc_info=True)

    def _emit(self, client: Client, end: float | None = None) -> None:
        ended = time.perf_counter() if end is None else end
        props: dict[str, Any] = {
            "$ai_trace_id": self.trace_id,
            "$ai_span_id": self.span_id,
            "$ai_span_name": self.name,
            "$ai_latency": max(0.0, ended - self._start) if self._start else 0.0,
            "$ai_is_error": self.error is not None,
        }
        if self.error is not None:
            props["$ai_error"] = self.error
        if self.parent_id is not None:
            props["$ai_parent_id"] = self.parent_id
        if self.session_id:
            props["$ai_session_id"] = self.session_id
        if self._input is not _OFF:
            props["$ai_input_state"] = self._input
        if self._output is not _OFF:
            props["$ai_output_state"] = self._output
        if self.is_root:
            totals = self.totals
            with totals.lock:
                props["$ai_trace_name"] = self.name
                props["$ai_input_tokens"] = totals.input_tokens
                props["$ai_output_tokens"] = totals.output_tokens
                props["$ai_generation_count"] = totals.generations
                props["$ai_error_count"] = totals.errors
                if totals.cost is not None:
                    props["$ai_total_cost_usd"] = totals.cost
        props.update(self.properties)
        event = "$ai_trace" if self.is_root else "$ai_span"
        client.capture(event, props, scope=self.scope, at=wall_time(end))


def trace(name: str, *, session_id: str | None = None, **properties: Any) -> Span:
    """Open a trace (at the top) or a span (inside one): ``with trace("rag") as t:``."""
    return Span(name, properties, session_id=session_id)


@overload
def observe(func: F) -> F: ...


@overload
def observe(
    func: None = None, *, name: str | None = None, **properties: Any
) -> Callable[[F], F]: ...


def observe(
    func: F | None = None, *, name: str | None = None, **properties: Any
) -> F | Callable[[F], F]:
    """Decorator: run each call of a sync or async function inside ``trace(...)``.

    Arguments and return value become ``$ai_input_state`` / ``$ai_output_state``
    when LLM payload capture is on.
    """

    def decorate(fn: F) -> F:
        span_name = name or getattr(fn, "__qualname__", None) or repr(fn)

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                if _hub.current() is None:
                    return await fn(*args, **kwargs)
                with Span(span_name, properties) as span:
                    span.set_input({"args": list(args), "kwargs": kwargs})
                    result = await fn(*args, **kwargs)
                    span.set_output(result)
                    return result

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if _hub.current() is None:
                return fn(*args, **kwargs)
            with Span(span_name, properties) as span:
                span.set_input({"args": list(args), "kwargs": kwargs})
                result = fn(*args, **kwargs)
                span.set_output(result)
                return result

        return wrapper  # type: ignore[return-value]

    if func is not None:
        return decorate(func)
    return decorate
