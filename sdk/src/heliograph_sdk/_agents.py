"""The public entry points of the agent-framework integrations.

Each framework is an optional extra (``heliograph-sdk[langchain]``,
``[openai-agents]``, ``[claude-agent-sdk]``): importing ``heliograph_sdk``
must never import one, so each entry point imports its integration module —
and with it the framework — only when it is called.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from agents.tracing import TracingProcessor
    from langchain_core.callbacks import BaseCallbackHandler

C = TypeVar("C")


def langchain_handler(*, trace_name: str | None = None, **properties: Any) -> BaseCallbackHandler:
    """A LangChain callback handler recording runs as traces, spans and generations.

    ``chain.invoke(x, config={"callbacks": [heliograph_sdk.langchain_handler()]})``.
    ``trace_name`` names the trace (default: the top-level run's name);
    ``properties`` are added to every event. Needs ``langchain-core``.
    """
    from heliograph_sdk._agent_langchain import HeliographCallbackHandler

    return HeliographCallbackHandler(trace_name=trace_name, **properties)


def openai_agents_processor(**properties: Any) -> TracingProcessor:
    """An ``openai-agents`` tracing processor sending each agent run as a trace.

    ``agents.add_trace_processor(heliograph_sdk.openai_agents_processor())``
    (or ``set_trace_processors([...])`` to stop exporting to OpenAI).
    ``properties`` are added to every event. Needs ``openai-agents``.
    """
    from heliograph_sdk._agent_openai import HeliographTracingProcessor

    return HeliographTracingProcessor(**properties)


def claude_agent_query(
    *,
    prompt: str | AsyncIterable[dict[str, Any]],
    options: Any = None,
    trace_name: str | None = None,
    **kwargs: Any,
) -> AsyncIterator[Any]:
    """``claude_agent_sdk.query(...)``, each answered prompt recorded as a trace.

    Takes and yields what ``query`` does (``kwargs`` pass through, e.g.
    ``transport=``). Needs ``claude-agent-sdk``.
    """
    from heliograph_sdk._agent_claude import traced_query

    return traced_query(prompt=prompt, options=options, trace_name=trace_name, **kwargs)


def wrap_claude_agent(client: C, *, trace_name: str | None = None) -> C:
    """Instrument a ``ClaudeSDKClient`` in place: each prompt it answers becomes a trace.

    Returns the same client. Wrap it before ``connect()`` (or ``async with``)
    so token counts per turn are exact. Needs ``claude-agent-sdk``.
    """
    from heliograph_sdk._agent_claude import wrap_client

    return wrap_client(client, trace_name=trace_name)
