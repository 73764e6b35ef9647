"""LangChain and LangGraph runs as traces: a callback handler.

Pass ``heliograph_sdk.langchain_handler()`` in a run's ``callbacks`` and every
run LangChain reports becomes an event: chains, graphs and their nodes,
tools and retrievers become ``$ai_span`` (``$ai_trace`` for the top-level
run), chat model and LLM calls become ``$ai_generation`` with the model, the
provider and the token counts LangChain normalised. Parents follow
``parent_run_id``; runs LangChain marks hidden (``langsmith:hidden``: a
graph's channel writes and routing) are skipped, their children attached to
the nearest visible ancestor.

This module imports ``langchain_core``; only the entry point in ``_agents``
imports this module, when called.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document
from langchain_core.messages import BaseMessage
from langchain_core.outputs import LLMResult

from heliograph_sdk import _hub
from heliograph_sdk._agent_common import (
    FRAMEWORK,
    TOOL_NAME,
    RunTable,
    open_child,
    open_root,
    payloads_on,
    quietly,
    snapshot_scope,
)
from heliograph_sdk._generation import Generation
from heliograph_sdk._llm_common import field
from heliograph_sdk._tracing import Span, current_span

NAME = "langchain"
HIDDEN_TAG = "langsmith:hidden"
MODEL_PARAMETERS = (
    "temperature",
    "max_tokens",
    "max_completion_tokens",
    "top_p",
    "top_k",
    "frequency_penalty",
    "presence_penalty",
    "n",
    "stop",
    "seed",
    "reasoning_effort",
)
_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}


@dataclass(slots=True)
class _Run:
    """One open run: its event (None when hidden) and where its children hang."""

    node: Span | Generation | None
    anchor: Span | None


def _name(serialized: dict[str, Any] | None, kwargs: dict[str, Any], default: str) -> str:
    name = kwargs.get("name") or field(serialized, "name")
    if not name:
        ids = field(serialized, "id")
        name = ids[-1] if isinstance(ids, list) and ids else None
    return str(name or default)


def message_dict(message: Any) -> dict[str, Any]:
    """A LangChain message in the chat shape the other integrations send."""
    kind = getattr(message, "type", None)
    role = getattr(message, "role", None) if kind == "chat" else _ROLES.get(str(kind), kind)
    entry: dict[str, Any] = {"role": role, "content": getattr(message, "content", None)}
    calls = getattr(message, "tool_calls", None)
    if calls:
        entry["tool_calls"] = [
            {
                "type": "function",
                "id": field(call, "id"),
                "function": {"name": field(call, "name"), "arguments": field(call, "args")},
            }
            for call in calls
        ]
    call_id = getattr(message, "tool_call_id", None)
    if call_id:
        entry["tool_call_id"] = call_id
    return entry


def _documents(documents: Sequence[Any]) -> list[dict[str, Any]]:
    return [
        {"page_content": getattr(d, "page_content", None), "metadata": getattr(d, "metadata", {})}
        for d in documents
    ]


def _is_control_flow(error: BaseException) -> bool:
    """LangGraph raises to interrupt a graph or hand control to a parent: not failures."""
    return any(cls.__name__ == "GraphBubbleUp" for cls in type(error).__mro__)


def _record_usage(gen: Generation, response: LLMResult) -> None:
    """Token counts: the message's ``usage_metadata``, else the provider's ``llm_output``."""
    for candidates in response.generations:
        for candidate in candidates:
            usage = getattr(getattr(candidate, "message", None), "usage_metadata", None)
            if usage:
                gen.set_tokens(
                    field(usage, "input_tokens"),
                    field(usage, "output_tokens"),
                    cache_read=field(field(usage, "input_token_details"), "cache_read"),
                    cache_creation=field(field(usage, "input_token_details"), "cache_creation"),
                    reasoning=field(field(usage, "output_token_details"), "reasoning"),
                    total=field(usage, "total_tokens"),
                )
                # LangChain counts cached tokens inside input_tokens, for every provider.
                gen.set(**{"$ai_cache_reporting_exclusive": False})
                return
    llm_output = response.llm_output or {}
    usage = llm_output.get("token_usage") or {}
    gen.set_tokens(
        field(usage, "prompt_tokens"),
        field(usage, "completion_tokens"),
        total=field(usage, "total_tokens"),
    )


def _record_response(gen: Generation, response: LLMResult) -> None:
    llm_output = response.llm_output or {}
    gen.set_model(llm_output.get("model_name") or llm_output.get("model"))
    _record_usage(gen, response)
    outputs: list[dict[str, Any]] = []
    for candidates in response.generations:
        for candidate in candidates:
            message = getattr(candidate, "message", None)
            info = candidate.generation_info or {}
            metadata = getattr(message, "response_metadata", None) or {}
            gen.set_model(metadata.get("model_name") or metadata.get("model"))
            gen.set_stop_reason(
                info.get("finish_reason")
                or metadata.get("finish_reason")
                or metadata.get("stop_reason")
            )
            if payloads_on():
                if message is not None:
                    outputs.append(message_dict(message))
                else:
                    outputs.append({"role": "assistant", "content": candidate.text})
    if outputs:
        gen.set_output(outputs)


class HeliographCallbackHandler(BaseCallbackHandler):
    """Turns the runs of a LangChain or LangGraph invocation into Heliograph events.

    One instance may serve many invocations, concurrently: runs are keyed by
    their ``run_id``. Each callback costs microseconds, so it runs inline (on
    the caller's thread or event loop) rather than in an executor.
    """

    run_inline = True
    raise_error = False

    def __init__(self, *, trace_name: str | None = None, **properties: Any) -> None:
        super().__init__()
        self._trace_name = trace_name
        self._properties = properties
        self._runs: RunTable[_Run] = RunTable()

    # -- shared ----------------------------------------------------------------

    def _open_span(
        self,
        name: str,
        run_id: UUID,
        parent_run_id: UUID | None,
        tags: list[str] | None,
        input: Any,
        **properties: Any,
    ) -> None:
        if _hub.current() is None:
            return
        parent = self._runs.get(parent_run_id)
        if parent is not None and tags and HIDDEN_TAG in tags:
            self._runs.put(run_id, _Run(None, parent.anchor))
            return
        if parent is None or parent.anchor is None:
            span = open_root(self._trace_name or name, NAME)
            span.set(**properties)
        else:
            span = open_child(parent.anchor, name, NAME, **properties)
        span.set(**self._properties)
        span.set_input(input)
        self._runs.put(run_id, _Run(span, span))

    def _close(self, run_id: UUID, output: Any = None, error: BaseException | None = None) -> None:
        run = self._runs.pop(run_id)
        node = run.node if run is not None else None
        if node is None:
            return
        if isinstance(node, Generation):
            node.finish(error)
            return
        if error is not None and not _is_control_flow(error):
            node.set_error(error)
        elif output is not None:
            node.set_output(output)
        node.finish()

    def _open_generation(
        self,
        serialized: dict[str, Any] | None,
        run_id: UUID,
        parent_run_id: UUID | None,
        metadata: dict[str, Any] | None,
        kwargs: dict[str, Any],
        input: Any,
    ) -> None:
        if _hub.current() is None:
            return
        params = kwargs.get("invocation_params") or {}
        meta = metadata or {}
        parent = self._runs.get(parent_run_id)
        anchor = parent.anchor if parent is not None else None
        gen = Generation(
            str(meta.get("ls_provider") or params.get("_type") or NAME),
            meta.get("ls_model_name") or params.get("model") or params.get("model_name"),
            input=input,
            model_parameters={
                k: params[k]
                for k in MODEL_PARAMETERS
                if isinstance(params.get(k), (str, int, float, bool, list))
            },
            tools=params.get("tools") if isinstance(params.get("tools"), list) else None,
            properties={FRAMEWORK: NAME},
            parent=anchor if parent is not None else current_span(),
            scope=None if parent is not None else snapshot_scope(),
        )
        gen.set(**self._properties)
        self._runs.put(run_id, _Run(gen, anchor))

    # -- chains, graphs and agents ---------------------------------------------

    @quietly
    def on_chain_start(
        self,
        serialized: dict[str, Any],
        inputs: dict[str, Any],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._open_span(_name(serialized, kwargs, "chain"), run_id, parent_run_id, tags, inputs)

    @quietly
    def on_chain_end(
        self,
        outputs: dict[str, Any],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        self._close(run_id, outputs)

    @quietly
    def on_chain_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        self._close(run_id, error=error)

    # -- tools and retrievers --------------------------------------------------

    @quietly
    def on_tool_start(
        self,
        serialized: dict[str, Any],
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        name = _name(serialized, kwargs, "tool")
        tool_input = inputs if inputs is not None else input_str
        self._open_span(name, run_id, parent_run_id, tags, tool_input, **{TOOL_NAME: name})

    @quietly
    def on_tool_end(
        self,
        output: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        self._close(run_id, output)

    @quietly
    def on_tool_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        self._close(run_id, error=error)

    @quietly
    def on_retriever_start(
        self,
        serialized: dict[str, Any],
        query: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._open_span(_name(serialized, kwargs, "retriever"), run_id, parent_run_id, tags, query)

    @quietly
    def on_retriever_end(
        self,
        documents: Sequence[Document],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        self._close(run_id, _documents(documents) if payloads_on() else None)

    @quietly
    def on_retriever_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        self._close(run_id, error=error)

    # -- model calls -----------------------------------------------------------

    @quietly
    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        prompt = None
        if payloads_on():
            prompt = [message_dict(m) for batch in messages for m in batch]
        self._open_generation(serialized, run_id, parent_run_id, metadata, kwargs, prompt)

    @quietly
    def on_llm_start(
        self,
        serialized: dict[str, Any],
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        prompt = [{"role": "user", "content": p} for p in prompts] if payloads_on() else None
        self._open_generation(serialized, run_id, parent_run_id, metadata, kwargs, prompt)

    @quietly
    def on_llm_new_token(
        self,
        token: str | list[str | dict[str, Any]],
        *,
        chunk: Any = None,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        run = self._runs.get(run_id)
        if run is not None and isinstance(run.node, Generation):
            run.node.stream = True
            run.node.mark_first_token()

    @quietly
    def on_llm_end(
        self,
        response: LLMResult,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        run = self._runs.get(run_id)
        if run is not None and isinstance(run.node, Generation):
            _record_response(run.node, response)
        self._close(run_id)

    @quietly
    def on_llm_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self._close(run_id, error=error)
