"""openai_agents_processor() with a real openai-agents ``Agent`` and ``Runner``.

The agent's model client points at the fake model server on loopback, over
the Responses API (the Agents SDK's default) and over chat completions; the
server asks for the weather tool once, then answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import heliograph_sdk

agents = pytest.importorskip("agents")
openai = pytest.importorskip("openai")

from sdk_agent_servers import ANSWER, OPENAI_MODEL, USAGE, AgentModelServer  # noqa: E402

PROMPT = "What is the weather in Paris?"
INSTRUCTIONS = "You answer questions about the weather."


@agents.function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"Sunny in {city}"


@pytest.fixture
def llm() -> Iterator[AgentModelServer]:
    server = AgentModelServer()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def processor(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Ours as the only processor: nothing tries to export to OpenAI from a test."""
    monkeypatch.delenv("OPENAI_AGENTS_DISABLE_TRACING", raising=False)
    agents.set_tracing_disabled(False)
    ours = heliograph_sdk.openai_agents_processor(team="weather")
    agents.set_trace_processors([ours])
    yield ours
    agents.set_trace_processors([])


def weather_agent(llm: AgentModelServer, api: str = "responses", model: str = "gpt-4o-mini") -> Any:
    client = openai.AsyncOpenAI(api_key="sk-test", base_url=llm.url + "/v1", max_retries=0)
    if api == "responses":
        chosen: Any = agents.OpenAIResponsesModel(model=model, openai_client=client)
    else:
        chosen = agents.OpenAIChatCompletionsModel(model=model, openai_client=client)
    return agents.Agent(
        name="Forecaster", instructions=INSTRUCTIONS, tools=[get_weather], model=chosen
    )


def run(agent: Any, **config: Any) -> Any:
    return agents.Runner.run_sync(agent, PROMPT, run_config=agents.RunConfig(**config))


def events(server: Any) -> list[dict[str, Any]]:
    assert heliograph_sdk.flush(5)
    return [e for e in server.events() if e["event"].startswith("$ai_")]


def one(evs: list[dict[str, Any]], event: str, **where: Any) -> dict[str, Any]:
    (match,) = [
        e["properties"]
        for e in evs
        if e["event"] == event and all(e["properties"].get(k) == v for k, v in where.items())
    ]
    return match


@pytest.mark.parametrize("api", ["responses", "chat_completions"])
def test_agent_run_is_one_trace(sdk, llm, api: str) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    result = run(weather_agent(llm, api), workflow_name="forecast", group_id="conversation-1")
    assert result.final_output == ANSWER
    expected_path = "/v1/responses" if api == "responses" else "/v1/chat/completions"
    assert llm.paths() == [expected_path, expected_path]
    evs = events(server)

    trace = one(evs, "$ai_trace")
    assert trace["$ai_trace_name"] == "forecast"
    assert trace["$ai_framework"] == "openai-agents"
    assert trace["$ai_session_id"] == "conversation-1"  # the group id
    assert trace["$ai_generation_count"] == 2
    assert trace["$ai_input_tokens"] == 2 * (USAGE["input"] + USAGE["cache_read"])
    assert trace["$ai_output_tokens"] == 2 * USAGE["output"]
    for event in evs:
        props = event["properties"]
        assert props["$ai_trace_id"] == trace["$ai_trace_id"]
        assert props["$ai_session_id"] == "conversation-1"
        assert props["team"] == "weather"

    generations = [e["properties"] for e in evs if e["event"] == "$ai_generation"]
    assert len(generations) == 2
    for props in generations:
        assert props["$ai_provider"] == "openai"
        assert props["$ai_model"] == (OPENAI_MODEL if api == "responses" else "gpt-4o-mini")
        assert props["$ai_input_tokens"] == USAGE["input"] + USAGE["cache_read"]
        assert props["$ai_output_tokens"] == USAGE["output"]
        assert props["$ai_is_error"] is False
        assert props["$ai_input"] is None and props["$ai_output_choices"] is None  # private
    if api == "responses":
        assert {g["$ai_cache_read_input_tokens"] for g in generations} == {USAGE["cache_read"]}
        assert {g["$ai_response_id"] for g in generations} == {"resp_1", "resp_2"}

    # The Runner's run span restates the trace: folded into it, not a second "forecast".
    assert [e["event"] for e in evs if e["properties"].get("$ai_span_name") == "forecast"] == [
        "$ai_trace"
    ]
    agent = one(evs, "$ai_span", **{"$ai_span_name": "Forecaster"})
    assert agent["$ai_agent_name"] == "Forecaster"
    tool = one(evs, "$ai_span", **{"$ai_span_name": "get_weather"})
    assert tool["$ai_tool_name"] == "get_weather"
    assert "$ai_input_state" not in tool
    spans = {e["properties"]["$ai_span_id"]: e["properties"] for e in evs}
    parent = tool
    while parent["$ai_parent_id"] != trace["$ai_span_id"]:  # the tool runs inside the agent
        parent = spans[parent["$ai_parent_id"]]
        if parent is agent:
            break
    assert parent is agent


def test_payloads_with_capture_on(sdk, llm) -> None:  # type: ignore[no-untyped-def]
    server = sdk(llm_payloads=True)
    run(weather_agent(llm))
    evs = events(server)
    first, second = [e["properties"] for e in evs if e["event"] == "$ai_generation"]
    assert first["$ai_input"][0] == {"role": "system", "content": INSTRUCTIONS}
    assert first["$ai_input"][1]["content"] == PROMPT
    assert first["$ai_output_choices"][0]["type"] == "function_call"
    assert first["$ai_tools"][0]["name"] == "get_weather"
    assert second["$ai_output_choices"][0]["content"][0]["text"] == ANSWER
    tool = one(evs, "$ai_span", **{"$ai_span_name": "get_weather"})
    assert tool["$ai_input_state"] == {"city": "Paris"}
    assert tool["$ai_output_state"] == "Sunny in Paris"


def test_the_agents_sdk_own_privacy_setting_still_applies(sdk, llm) -> None:  # type: ignore[no-untyped-def]
    server = sdk(llm_payloads=True)
    run(weather_agent(llm), trace_include_sensitive_data=False)
    evs = events(server)
    for props in [e["properties"] for e in evs if e["event"] == "$ai_generation"]:
        assert props["$ai_input"] is None
    tool = one(evs, "$ai_span", **{"$ai_span_name": "get_weather"})
    assert tool.get("$ai_input_state") is None


def test_failed_model_call(sdk, llm) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    with pytest.raises(openai.BadRequestError):
        run(weather_agent(llm, model="fail"))
    evs = events(server)
    gen = one(evs, "$ai_generation")
    assert gen["$ai_is_error"] is True
    trace = one(evs, "$ai_trace")
    assert trace["$ai_error_count"] == 1
    assert trace["$ai_is_error"] is True  # the agent run failed
    agent = one(evs, "$ai_span", **{"$ai_span_name": "Forecaster"})
    assert agent["$ai_is_error"] is True


def test_nests_in_an_open_trace_as_the_current_user(sdk, llm) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    heliograph_sdk.set_user("user-9")
    with heliograph_sdk.trace("request", session_id="chat-2") as request:
        run(weather_agent(llm), workflow_name="forecast", group_id="ignored")
    evs = events(server)
    assert one(evs, "$ai_trace")["$ai_span_name"] == "request"
    workflow = one(evs, "$ai_span", **{"$ai_span_name": "forecast"})
    assert workflow["$ai_parent_id"] == request.span_id
    for event in evs:
        assert event["distinct_id"] == "user-9"
        assert event["properties"]["$ai_trace_id"] == request.trace_id
        assert event["properties"]["$ai_session_id"] == "chat-2"  # the enclosing session wins


def test_off_sends_nothing(server, llm, processor) -> None:  # type: ignore[no-untyped-def]
    assert run(weather_agent(llm)).final_output == ANSWER
    assert heliograph_sdk.flush(1)
    assert server.events() == []
    assert len(processor._traces) == 0 and len(processor._spans) == 0
