"""langchain_handler() with real langchain-core, langchain-openai and LangGraph.

``ChatOpenAI`` talks to the fake model server on loopback, which asks for the
weather tool once and then answers, so a LangGraph agent loop runs for real.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest

import heliograph_sdk

pytest.importorskip("langchain_core")
langchain_openai = pytest.importorskip("langchain_openai")
pytest.importorskip("langgraph")

from langchain_core.tools import tool  # noqa: E402
from langgraph.graph import END, START, MessagesState, StateGraph  # noqa: E402
from langgraph.prebuilt import ToolNode, tools_condition  # noqa: E402
from sdk_agent_servers import ANSWER, OPENAI_MODEL, USAGE, AgentModelServer  # noqa: E402

PROMPT = "What is the weather in Paris?"


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"Sunny in {city}"


@pytest.fixture
def llm() -> Iterator[AgentModelServer]:
    server = AgentModelServer()
    yield server
    server.close()


def chat_model(llm: AgentModelServer, model: str = "gpt-4o-mini", **kwargs: Any) -> Any:
    return langchain_openai.ChatOpenAI(
        model=model, api_key="sk-test", base_url=llm.url + "/v1", max_retries=0, **kwargs
    )


def agent_graph(llm: AgentModelServer, model: str = "gpt-4o-mini") -> Any:
    """The classic tool-calling loop: agent -> tools -> agent -> end."""
    bound = chat_model(llm, model).bind_tools([get_weather])

    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [bound.invoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("agent", agent)
    graph.add_node("tools", ToolNode([get_weather]))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition)
    graph.add_edge("tools", "agent")
    graph.add_edge("agent", END)
    return graph.compile()


def events(server: Any) -> list[dict[str, Any]]:
    assert heliograph_sdk.flush(5)
    return [e for e in server.events() if e["event"].startswith("$ai_")]


def by_id(evs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["properties"]["$ai_span_id"]: e for e in evs}


def named(evs: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (match,) = [e for e in evs if e["properties"].get("$ai_span_name") == name]
    return match


def assert_generation(props: dict[str, Any]) -> None:
    assert props["$ai_provider"] == "openai"
    assert props["$ai_model"] == OPENAI_MODEL  # as answered, not as requested
    assert props["$ai_framework"] == "langchain"
    assert props["$ai_input_tokens"] == USAGE["input"] + USAGE["cache_read"]
    assert props["$ai_output_tokens"] == USAGE["output"]
    assert props["$ai_cache_read_input_tokens"] == USAGE["cache_read"]
    # LangChain counts cached tokens inside input_tokens, whatever the provider.
    assert props["$ai_cache_reporting_exclusive"] is False
    assert props["$ai_is_error"] is False


def test_graph_run_is_one_trace_with_nodes_tool_and_generations(sdk, llm) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    result = agent_graph(llm).invoke(
        {"messages": [("user", PROMPT)]},
        config={"callbacks": [heliograph_sdk.langchain_handler()]},
    )
    assert result["messages"][-1].content == ANSWER
    evs = events(server)

    (trace,) = [e for e in evs if e["event"] == "$ai_trace"]
    root = trace["properties"]
    assert root["$ai_trace_name"] == "LangGraph"
    assert "$ai_parent_id" not in root
    assert root["$ai_generation_count"] == 2
    assert root["$ai_input_tokens"] == 2 * (USAGE["input"] + USAGE["cache_read"])
    assert root["$ai_output_tokens"] == 2 * USAGE["output"]
    assert all(e["properties"]["$ai_trace_id"] == root["$ai_trace_id"] for e in evs)

    generations = [e["properties"] for e in evs if e["event"] == "$ai_generation"]
    assert len(generations) == 2
    for props in generations:
        assert_generation(props)
        assert props["$ai_input"] is None and props["$ai_output_choices"] is None  # private

    spans = by_id(evs)
    tool_span = named(evs, "get_weather")["properties"]
    assert tool_span["$ai_tool_name"] == "get_weather"
    assert "$ai_input_state" not in tool_span
    tools_node = spans[tool_span["$ai_parent_id"]]["properties"]
    assert tools_node["$ai_span_name"] == "tools"
    assert tools_node["$ai_parent_id"] == root["$ai_span_id"]
    agent_nodes = [e for e in evs if e["properties"].get("$ai_span_name") == "agent"]
    assert len(agent_nodes) == 2
    for props in generations:  # each model call sits in an agent node
        assert spans[props["$ai_parent_id"]]["properties"]["$ai_span_name"] == "agent"


def test_payloads_with_capture_on(sdk, llm) -> None:  # type: ignore[no-untyped-def]
    server = sdk(llm_payloads=True)
    agent_graph(llm).invoke(
        {"messages": [("user", PROMPT)]},
        config={"callbacks": [heliograph_sdk.langchain_handler()]},
    )
    evs = events(server)
    first, second = [e["properties"] for e in evs if e["event"] == "$ai_generation"]
    assert first["$ai_input"] == [{"role": "user", "content": PROMPT}]
    (choice,) = first["$ai_output_choices"]
    (call,) = choice["tool_calls"]
    assert call["function"] == {"name": "get_weather", "arguments": {"city": "Paris"}}
    assert first["$ai_tools"][0]["function"]["name"] == "get_weather"
    assert [m["role"] for m in second["$ai_input"]] == ["user", "assistant", "tool"]
    assert second["$ai_input"][2]["tool_call_id"] == call["id"]
    assert second["$ai_output_choices"] == [{"role": "assistant", "content": ANSWER}]
    tool_span = named(evs, "get_weather")["properties"]
    assert tool_span["$ai_input_state"] == {"city": "Paris"}
    assert tool_span["$ai_output_state"]["content"] == "Sunny in Paris"
    (trace,) = [e["properties"] for e in evs if e["event"] == "$ai_trace"]
    assert trace["$ai_input_state"] == {"messages": [["user", PROMPT]]}


def test_async_graph_run(sdk, llm) -> None:  # type: ignore[no-untyped-def]
    server = sdk()

    async def run() -> Any:
        return await agent_graph(llm).ainvoke(
            {"messages": [("user", PROMPT)]},
            config={"callbacks": [heliograph_sdk.langchain_handler(trace_name="weather")]},
        )

    assert asyncio.run(run())["messages"][-1].content == ANSWER
    evs = events(server)
    (trace,) = [e["properties"] for e in evs if e["event"] == "$ai_trace"]
    assert trace["$ai_trace_name"] == "weather"
    assert trace["$ai_generation_count"] == 2
    assert len([e for e in evs if e["event"] == "$ai_generation"]) == 2


def test_lone_chat_model_call_streamed(sdk, llm) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    handler = heliograph_sdk.langchain_handler(feature="support")
    model = chat_model(llm, stream_usage=True)
    text = "".join(str(c.content) for c in model.stream(PROMPT, config={"callbacks": [handler]}))
    assert text == ANSWER
    (event,) = events(server)
    props = event["properties"]
    assert event["event"] == "$ai_generation"  # no chain around it: no trace event
    assert_generation(props)
    assert props["$ai_stream"] is True
    assert 0 < props["$ai_time_to_first_token"] <= props["$ai_latency"]
    assert props["$ai_stop_reason"] == "stop"
    assert props["feature"] == "support"
    assert "$ai_parent_id" not in props


def test_failed_model_call_marks_generation_and_chain(sdk, llm) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    graph = agent_graph(llm, model="fail")
    with pytest.raises(Exception, match="no such model"):
        graph.invoke(
            {"messages": [("user", PROMPT)]},
            config={"callbacks": [heliograph_sdk.langchain_handler()]},
        )
    evs = events(server)
    (gen,) = [e["properties"] for e in evs if e["event"] == "$ai_generation"]
    assert gen["$ai_is_error"] is True
    assert "no such model" in gen["$ai_error"]
    (trace,) = [e["properties"] for e in evs if e["event"] == "$ai_trace"]
    assert trace["$ai_is_error"] is True
    assert trace["$ai_error_count"] == 1


def test_nests_in_an_open_trace_as_the_current_user(sdk, llm) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    heliograph_sdk.set_user("user-7")
    with heliograph_sdk.trace("request", session_id="chat-1") as request:
        agent_graph(llm).invoke(
            {"messages": [("user", PROMPT)]},
            config={"callbacks": [heliograph_sdk.langchain_handler()]},
        )
    evs = events(server)
    (trace,) = [e for e in evs if e["event"] == "$ai_trace"]
    assert trace["properties"]["$ai_span_name"] == "request"
    assert trace["properties"]["$ai_generation_count"] == 2  # the graph's calls count here
    graph = named(evs, "LangGraph")
    assert graph["event"] == "$ai_span"
    assert graph["properties"]["$ai_parent_id"] == request.span_id
    for event in evs:
        assert event["distinct_id"] == "user-7"
        assert event["properties"]["$ai_trace_id"] == request.trace_id
        assert event["properties"]["$ai_session_id"] == "chat-1"


def test_hidden_runs_are_skipped_and_their_children_kept(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    handler = heliograph_sdk.langchain_handler()
    top, hidden, child = uuid4(), uuid4(), uuid4()
    handler.on_chain_start({"name": "graph"}, {}, run_id=top)
    handler.on_chain_start(
        {"name": "ChannelWrite"}, {}, run_id=hidden, parent_run_id=top, tags=["langsmith:hidden"]
    )
    handler.on_tool_start({"name": "lookup"}, "x", run_id=child, parent_run_id=hidden)
    handler.on_tool_end("y", run_id=child, parent_run_id=hidden)
    handler.on_chain_end({}, run_id=hidden, parent_run_id=top)
    handler.on_chain_end({}, run_id=top)
    evs = events(server)
    assert [e["properties"]["$ai_span_name"] for e in evs] == ["lookup", "graph"]
    assert evs[0]["properties"]["$ai_parent_id"] == evs[1]["properties"]["$ai_span_id"]


def test_graph_interrupts_are_not_errors(sdk) -> None:  # type: ignore[no-untyped-def]
    from langgraph.errors import GraphInterrupt

    server = sdk()
    handler = heliograph_sdk.langchain_handler()
    run = uuid4()
    handler.on_chain_start({"name": "graph"}, {}, run_id=run)
    handler.on_chain_error(GraphInterrupt(()), run_id=run)
    (event,) = events(server)
    assert event["properties"]["$ai_is_error"] is False


def test_off_sends_nothing_and_keeps_nothing(server, llm) -> None:  # type: ignore[no-untyped-def]
    handler = heliograph_sdk.langchain_handler()
    agent_graph(llm).invoke({"messages": [("user", PROMPT)]}, config={"callbacks": [handler]})
    assert heliograph_sdk.flush(1)
    assert server.events() == []
    assert len(handler._runs) == 0
