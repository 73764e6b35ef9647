"""``claude-agent-sdk`` queries as traces.

The Claude Agent SDK runs the Claude Code CLI and streams its messages back.
This module watches that stream — through :func:`traced_query` (a drop-in
``query``) or a wrapped ``ClaudeSDKClient`` — and records each prompt's
answer as one trace:

* ``$ai_trace``: from the prompt to its ``ResultMessage``, carrying the
  result's totals — model, input, output, cache read and cache creation
  tokens, ``total_cost_usd`` (the CLI's own price), duration, API duration,
  number of turns, stop reason, error — and, with payload capture on, the
  prompt and the final result;
* ``$ai_generation`` per assistant turn (one API message, which the CLI may
  split over several ``AssistantMessage`` objects), with its model, tokens,
  stop reason and time to first token;
* ``$ai_span`` per tool call, from its ``ToolUseBlock`` to its
  ``ToolResultBlock``, with the tool's name (and, with capture on, its input
  and result). A sub-agent's turns and tool calls nest under the tool call
  that started it (``parent_tool_use_id``).

The CLI reports an assistant message as soon as its content is complete,
before the API has said how many tokens it produced, so ``AssistantMessage``
carries a provisional output count. The exact counts come in the raw stream
events, which the CLI only sends with ``include_partial_messages``; the
wrappers turn it on and, unless the caller asked for it, hide those
``StreamEvent`` messages from the caller — as the OpenAI wrapper does with
its usage chunk. Without them (a custom transport, a client wrapped after
connecting) turns keep the provisional counts; the trace's totals are exact
either way.

Messages are told apart by class name, so SDK versions that lack a message
type still work. This module is imported only when an entry point in
``_agents`` is called.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import aclosing
from typing import Any, TypeVar

from heliograph_sdk import _hub
from heliograph_sdk._agent_common import (
    FRAMEWORK,
    TOOL_NAME,
    RunTable,
    open_child,
    open_root,
    payloads_on,
)
from heliograph_sdk._generation import Generation
from heliograph_sdk._llm_common import field, safely
from heliograph_sdk._tracing import Span

NAME = "claude-agent-sdk"
PROVIDER = "anthropic"
DEFAULT_TRACE_NAME = "claude-agent"
SYNTHETIC_MODEL = "<synthetic>"  # a message the CLI made up (an API error), no model call
WRAPPED = "__heliograph_wrapped__"
TOOL_USES = ("ToolUseBlock", "ServerToolUseBlock")
TOOL_RESULTS = ("ToolResultBlock", "ServerToolResultBlock")

C = TypeVar("C")


def _kind(obj: Any) -> str:
    return type(obj).__name__


def _block(block: Any) -> dict[str, Any]:
    """A content block in the shape ``wrap_anthropic`` sends."""
    kind = _kind(block)
    if kind == "TextBlock":
        return {"type": "text", "text": field(block, "text")}
    if kind == "ThinkingBlock":
        return {"type": "thinking", "thinking": field(block, "thinking")}
    if kind in TOOL_USES:
        return {
            "type": "function",
            "id": field(block, "id"),
            "function": {"name": field(block, "name"), "arguments": field(block, "input")},
        }
    return {"type": kind}


def _merge_usage(gen: Generation, usage: Any) -> None:
    """Anthropic usage; counts only grow within a message, so keep the largest seen."""
    if not isinstance(usage, dict):
        return
    for attr, key in (
        ("input_tokens", "input_tokens"),
        ("output_tokens", "output_tokens"),
        ("cache_read_tokens", "cache_read_input_tokens"),
        ("cache_creation_tokens", "cache_creation_input_tokens"),
    ):
        value = usage.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            setattr(gen, attr, max(value, getattr(gen, attr) or 0))


class _RunningTotals:
    """The CLI's running totals, turned back into each answer's own share.

    ``total_cost_usd``, ``duration_api_ms`` and ``model_usage`` on a
    ``ResultMessage`` add up over the life of the CLI process (a client's
    session answers many prompts); ``usage``, ``duration_ms`` and
    ``num_turns`` are the answer's own. Subtracting the previous result's
    values gives each trace its own cost (anthropics/claude-code#83239).
    """

    def __init__(self) -> None:
        self.cost = 0.0
        self.api_ms = 0.0
        self.model_cost: dict[str, float] = {}

    @staticmethod
    def _step(total: Any, before: float) -> float | None:
        if not isinstance(total, (int, float)) or isinstance(total, bool):
            return None
        # A smaller total means a new process (a reconnect): it is all new.
        return float(total) - before if total >= before else float(total)

    def take(self, message: Any) -> tuple[float | None, float | None, str | None]:
        """(cost, API milliseconds, costliest model) of this answer alone."""
        cost = self._step(field(message, "total_cost_usd"), self.cost)
        if cost is not None:
            self.cost = float(field(message, "total_cost_usd"))
        api_ms = self._step(field(message, "duration_api_ms"), self.api_ms)
        if api_ms is not None:
            self.api_ms = float(field(message, "duration_api_ms"))
        model, most = None, -1.0
        usage = field(message, "model_usage")
        for name, entry in usage.items() if isinstance(usage, dict) else ():
            spent = self._step(field(entry, "costUSD"), self.model_cost.get(name, 0.0))
            if spent is None:
                continue
            self.model_cost[name] = float(field(entry, "costUSD"))
            if spent > most:
                model, most = str(name), spent
        return cost, api_ms, model


class _Turn:
    """One model response being assembled from the stream."""

    def __init__(self, gen: Generation, message_id: str | None) -> None:
        self.gen = gen
        self.message_id = message_id
        self.blocks: list[dict[str, Any]] = []
        self.streamed = False  # described by stream events: exact usage and end
        self.synthetic = False
        self.last_seen = time.perf_counter()


class _QueryTrace:
    """One prompt's answer: its trace, open turns and open tool calls.

    ``threads`` is the stream's table of tool calls by id, shared by its
    traces, so that a sub-agent's messages find the trace that launched it.
    """

    def __init__(self, name: str, prompt: Any, threads: RunTable[_QueryTrace]) -> None:
        self.threads = threads
        self.root = open_root(name, NAME)
        self.root.set_input(prompt)
        self.model: str | None = None
        self.turns: dict[str | None, _Turn] = {}
        self.tools: dict[str, Span] = {}  # open tool calls
        # Every tool call by id, ended or not: a background sub-agent reports
        # its turns after its launching call has returned (and even after
        # the result that closed this trace).
        self.anchors: dict[str, Span] = {}
        # When the next turn of each thread (None: the main one) can have started.
        self.ready: dict[str | None, float] = {None: time.perf_counter()}

    def observe(self, message: Any, running: _RunningTotals) -> bool:
        """Record one message; True when it ends the trace (a ``ResultMessage``)."""
        kind = _kind(message)
        if kind == "StreamEvent":
            self._stream_event(message)
        elif kind == "AssistantMessage":
            self._assistant(message)
        elif kind == "UserMessage":
            self._user(message)
        elif kind == "SystemMessage":
            self._system(message)
        elif kind == "ResultMessage":
            self._result(message, running)
            return True
        return False

    # -- threads, turns and tools ----------------------------------------------

    def _system(self, message: Any) -> None:
        data = field(message, "data") or {}
        subtype = field(message, "subtype")
        if subtype == "init":
            self.model = data.get("model") or self.model
            self._session(data.get("session_id"))
        # The CLI is up (init) or about to call the API (status): the main
        # thread's next turn starts now, not when the process was spawned.
        if subtype == "init" or (subtype == "status" and data.get("status") == "requesting"):
            self.ready[None] = time.perf_counter()

    def _session(self, session_id: Any) -> None:
        if session_id and not self.root.session_id:
            self.root.session_id = str(session_id)

    def _anchor(self, thread: str | None) -> Span:
        """Where a thread's events hang: a sub-agent's under the tool call that started it."""
        return self.anchors.get(thread or "") or self.root

    def _open_turn(self, thread: str | None, message_id: str | None) -> _Turn:
        self._end_turn(thread)
        gen = Generation(
            PROVIDER,
            self.model,
            properties={FRAMEWORK: NAME},
            parent=self._anchor(thread),
            start_time=self.ready.get(thread),
        )
        turn = self.turns[thread] = _Turn(gen, message_id)
        return turn

    def _end_turn(self, thread: str | None) -> None:
        turn = self.turns.pop(thread, None)
        if turn is None:
            return
        gen = turn.gen
        if turn.synthetic:
            if gen.error is None:
                return  # the CLI's own message, not a model call
            gen.model = self.model
        if payloads_on():
            gen.set_output([{"role": "assistant", "content": turn.blocks}])
        end = None if turn.streamed else turn.last_seen
        gen.finish(end=end)
        self.ready[thread] = time.perf_counter() if end is None else end

    def _stream_event(self, message: Any) -> None:
        thread = field(message, "parent_tool_use_id")
        event = field(message, "event") or {}
        kind = event.get("type")
        turn = self.turns.get(thread)
        if kind == "message_start":
            start = event.get("message") or {}
            turn = self._open_turn(thread, start.get("id"))
            turn.streamed = True
            turn.gen.set_model(start.get("model"))
            _merge_usage(turn.gen, start.get("usage"))
        elif turn is None:
            return
        elif kind == "content_block_delta":
            turn.gen.mark_first_token()
        elif kind == "message_delta":
            _merge_usage(turn.gen, event.get("usage"))
            turn.gen.set_stop_reason(field(event.get("delta"), "stop_reason"))
        elif kind == "message_stop":
            self._end_turn(thread)

    def _assistant(self, message: Any) -> None:
        thread = field(message, "parent_tool_use_id")
        message_id = field(message, "message_id")
        turn = self.turns.get(thread)
        if turn is None or (message_id and turn.message_id and message_id != turn.message_id):
            turn = self._open_turn(thread, message_id)
        turn.message_id = turn.message_id or message_id
        turn.last_seen = time.perf_counter()
        gen = turn.gen
        model = field(message, "model")
        if model == SYNTHETIC_MODEL:
            turn.synthetic = True
        else:
            gen.set_model(model)
        if not turn.streamed:
            _merge_usage(gen, field(message, "usage"))
        gen.set_stop_reason(field(message, "stop_reason"))
        if field(message, "error"):
            gen.set_error(f"assistant message error: {field(message, 'error')}")
        self._session(field(message, "session_id"))
        for block in field(message, "content") or ():
            turn.blocks.append(_block(block))
            if _kind(block) in TOOL_USES:
                name = str(field(block, "name") or "tool")
                span = open_child(self._anchor(thread), name, NAME, **{TOOL_NAME: name})
                span.set_input(field(block, "input"))
                tool_id = str(field(block, "id"))
                self.tools[tool_id] = self.anchors[tool_id] = span
                self.threads.put(tool_id, self)
                self.ready[tool_id] = time.perf_counter()  # a sub-agent it starts begins now

    def _user(self, message: Any) -> None:
        thread = field(message, "parent_tool_use_id")
        turn = self.turns.get(thread)
        if turn is not None and not turn.streamed:
            # Its end was never announced; a streamed turn waits for message_stop,
            # which (with its final usage) may come after a quick tool's result.
            self._end_turn(thread)
        content = field(message, "content")
        for block in content if isinstance(content, list) else ():
            if _kind(block) not in TOOL_RESULTS:
                continue
            span = self.tools.pop(str(field(block, "tool_use_id")), None)
            if span is None:
                continue
            span.set_output(field(block, "content"))
            if field(block, "is_error"):
                span.set_error("the tool reported an error")
            span.finish()
        self.ready[thread] = time.perf_counter()

    # -- the end ---------------------------------------------------------------

    def end_thread(self, thread: str) -> None:
        """A sub-agent finished: its last turn, whose end was never announced, ends."""
        self._end_turn(thread)

    def close_open(self) -> None:
        for thread in list(self.turns):
            self._end_turn(thread)
        for span in self.tools.values():
            span.finish()
        self.tools.clear()

    def _result(self, message: Any, running: _RunningTotals) -> None:
        self.close_open()
        root = self.root
        usage = field(message, "usage") or {}
        # The costliest model is the main one (the CLI may use a small one on the side).
        cost, api_ms, model = running.take(message)
        totals = {
            "$ai_provider": PROVIDER,
            "$ai_model": model or self.model,
            "$ai_input_tokens": field(usage, "input_tokens"),
            "$ai_output_tokens": field(usage, "output_tokens"),
            "$ai_cache_read_input_tokens": field(usage, "cache_read_input_tokens"),
            "$ai_cache_creation_input_tokens": field(usage, "cache_creation_input_tokens"),
            "$ai_total_cost_usd": cost,
            "$ai_num_turns": field(message, "num_turns"),
            "$ai_duration_ms": field(message, "duration_ms"),
            "$ai_api_duration_ms": api_ms,
            "$ai_stop_reason": field(message, "stop_reason"),
            "$ai_result_subtype": field(message, "subtype"),
        }
        root.set(**{k: v for k, v in totals.items() if v is not None})
        self._session(field(message, "session_id"))
        if field(message, "is_error"):
            errors = field(message, "errors")
            status = field(message, "api_error_status")
            subtype = field(message, "subtype")
            if errors:
                root.set_error("; ".join(str(e) for e in errors))
            elif status:
                root.set_error(f"API error {status}")
            else:
                root.set_error(str(subtype) if subtype and subtype != "success" else "error")
        output = field(message, "structured_output")
        root.set_output(output if output is not None else field(message, "result"))
        root.finish()

    def abandon(self, error: BaseException | None) -> None:
        """The stream ended before the result: send what is known."""
        self.close_open()
        if error is not None:
            self.root.set_error(error)
        self.root.finish()


class _Tracer:
    """One message stream (a ``query`` call or a client): prompts in, traces out.

    Prompts are answered in order, so each ``ResultMessage`` closes the
    oldest open trace; a message that arrives with none open (a prompt sent
    some other way) opens one without an input.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.open: deque[_QueryTrace] = deque()
        self.running = _RunningTotals()
        self.threads: RunTable[_QueryTrace] = RunTable()

    def sent(self, prompt: Any) -> None:
        if _hub.current() is not None:
            self.open.append(_QueryTrace(self.name, prompt, self.threads))

    async def watch(self, prompts: AsyncIterable[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
        """Pass a stream of prompt messages through, opening a trace for each user message."""
        async for item in prompts:
            if isinstance(item, dict) and item.get("type", "user") == "user":
                body = item.get("message")
                safely(self.sent, field(body, "content") if body is not None else item)
            yield item

    def observe(self, message: Any) -> None:
        if _hub.current() is None:
            return
        kind = _kind(message)
        if kind == "TaskNotificationMessage":  # a sub-agent is done
            tool_id = field(field(message, "data"), "tool_use_id")
            owner = self.threads.get(tool_id)
            if owner is not None:
                owner.end_thread(str(tool_id))
            return
        owner = self.threads.get(field(message, "parent_tool_use_id"))
        if owner is not None and kind != "ResultMessage":
            owner.observe(message, self.running)
            return
        if not self.open:
            self.open.append(_QueryTrace(self.name, None, self.threads))
        if self.open[0].observe(message, self.running):
            self.open.popleft()

    def close(self, error: BaseException | None) -> None:
        while self.open:
            self.open.popleft().abandon(error)
        for owner in set(self.threads.values()):  # sub-agents still running
            owner.close_open()


def with_partial_messages(options: Any) -> tuple[Any, bool]:
    """``options`` with raw stream events on; True when the caller had them off."""
    from claude_agent_sdk import ClaudeAgentOptions

    if options is None:
        options = ClaudeAgentOptions()
    if getattr(options, "include_partial_messages", True):
        return options, False
    try:
        return dataclasses.replace(options, include_partial_messages=True), True
    except (TypeError, ValueError):
        return options, False


def _is_hidden(message: Any, hide: bool) -> bool:
    return hide and _kind(message) == "StreamEvent"


async def traced_query(
    *,
    prompt: str | AsyncIterable[dict[str, Any]],
    options: Any = None,
    trace_name: str | None = None,
    **kwargs: Any,
) -> AsyncIterator[Any]:
    """``claude_agent_sdk.query`` with each answered prompt recorded as a trace."""
    from claude_agent_sdk import query

    # query() is an async generator: closed at once when the caller stops early.
    stream: Any = query
    if _hub.current() is None:
        async with aclosing(stream(prompt=prompt, options=options, **kwargs)) as plain:
            async for message in plain:
                yield message
        return
    options, hide = with_partial_messages(options)
    tracer = _Tracer(trace_name or DEFAULT_TRACE_NAME)
    if isinstance(prompt, str):
        safely(tracer.sent, prompt)
    else:
        prompt = tracer.watch(prompt)
    error: BaseException | None = None
    try:
        async with aclosing(stream(prompt=prompt, options=options, **kwargs)) as messages:
            async for message in messages:
                safely(tracer.observe, message)
                if not _is_hidden(message, hide):
                    yield message
    except GeneratorExit:
        raise
    except BaseException as exc:
        error = exc
        raise
    finally:
        safely(tracer.close, error)


def wrap_client(client: C, *, trace_name: str | None = None) -> C:
    """Instrument a ``ClaudeSDKClient`` in place (see :func:`_agents.wrap_claude_agent`)."""
    if getattr(client, WRAPPED, False):
        return client
    target: Any = client
    tracer = _Tracer(trace_name or DEFAULT_TRACE_NAME)
    hide = False
    if getattr(target, "_query", None) is None:  # not connected yet: options still apply
        target.options, hide = with_partial_messages(getattr(target, "options", None))

    original_connect = target.connect
    original_query = target.query
    original_receive = target.receive_messages
    original_disconnect = target.disconnect

    async def connect(prompt: Any = None, *args: Any, **kwargs: Any) -> Any:
        tracer.running = _RunningTotals()  # a new CLI process starts counting afresh
        if isinstance(prompt, str):
            safely(tracer.sent, prompt)
        elif prompt is not None and _hub.current() is not None:
            prompt = tracer.watch(prompt)
        return await original_connect(prompt, *args, **kwargs)

    async def query(prompt: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(prompt, str):
            safely(tracer.sent, prompt)
        elif _hub.current() is not None:
            prompt = tracer.watch(prompt)
        return await original_query(prompt, *args, **kwargs)

    async def receive_messages() -> AsyncIterator[Any]:
        try:
            async with aclosing(original_receive()) as stream:
                async for message in stream:
                    safely(tracer.observe, message)
                    if not _is_hidden(message, hide):
                        yield message
        except GeneratorExit:  # the caller stopped reading: its prompts may still be answered
            raise
        except BaseException as exc:
            safely(tracer.close, exc)
            raise

    async def disconnect(*args: Any, **kwargs: Any) -> Any:
        try:
            return await original_disconnect(*args, **kwargs)
        finally:
            safely(tracer.close, None)

    target.connect = connect
    target.query = query
    target.receive_messages = receive_messages
    target.disconnect = disconnect
    setattr(target, WRAPPED, True)
    return client
