"""claude_agent_query() and wrap_claude_agent() with the real claude-agent-sdk.

Nothing is faked on the SDK's side: it starts the Claude Code CLI it bundles
(or the one on ``PATH``), which talks the Anthropic Messages API to the fake
model server on loopback (``ANTHROPIC_BASE_URL``). The weather tool is a real
in-process MCP tool (``create_sdk_mcp_server``), so a whole agent loop runs:
the model asks for the tool, the CLI calls back into this process, the model
answers. The CLI gets an empty ``HOME`` and makes no other network call.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import heliograph_sdk

claude_agent_sdk = pytest.importorskip("claude_agent_sdk")

from sdk_agent_servers import (  # noqa: E402
    ANSWER,
    CLAUDE_MODEL,
    DELEGATE,
    USAGE,
    AgentModelServer,
)

_BUNDLED = Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude"
if not _BUNDLED.exists() and shutil.which("claude") is None:
    pytest.skip("no Claude Code CLI to run", allow_module_level=True)

PROMPT = "What is the weather in Paris?"
TOOL = "mcp__weather__get_weather"


@claude_agent_sdk.tool("get_weather", "The weather in a city", {"city": str})
async def get_weather(args: dict[str, Any]) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": f"Sunny in {args['city']}"}]}


@pytest.fixture
def llm() -> Iterator[AgentModelServer]:
    server = AgentModelServer()
    yield server
    server.close()


@pytest.fixture
def options(llm: AgentModelServer, tmp_path: Path) -> Any:
    """The CLI on the fake model, with only the weather tool and a private HOME."""
    env = {
        "ANTHROPIC_BASE_URL": llm.url,
        "ANTHROPIC_API_KEY": "sk-ant-test",
        "HOME": str(tmp_path),
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }
    weather = claude_agent_sdk.create_sdk_mcp_server("weather", tools=[get_weather])
    return claude_agent_sdk.ClaudeAgentOptions(
        env=env,
        cwd=str(tmp_path),
        model=CLAUDE_MODEL,
        max_turns=4,
        mcp_servers={"weather": weather},
        tools=[],
        allowed_tools=[TOOL],
    )


def ask(prompt: str, options: Any, **kwargs: Any) -> list[Any]:
    async def run() -> list[Any]:
        return [
            m
            async for m in heliograph_sdk.claude_agent_query(
                prompt=prompt, options=options, **kwargs
            )
        ]

    return asyncio.run(asyncio.wait_for(run(), 60))


def events(server: Any) -> list[dict[str, Any]]:
    assert heliograph_sdk.flush(5)
    return [e for e in server.events() if e["event"].startswith("$ai_")]


def kinds(messages: list[Any]) -> list[str]:
    return [type(m).__name__ for m in messages]


def assert_turn(props: dict[str, Any]) -> None:
    """A turn's exact usage: the stream events' final counts, not the provisional ones."""
    assert props["$ai_provider"] == "anthropic"
    assert props["$ai_model"] == CLAUDE_MODEL
    assert props["$ai_framework"] == "claude-agent-sdk"
    assert props["$ai_input_tokens"] == USAGE["input"]
    assert props["$ai_output_tokens"] == USAGE["output"]
    assert props["$ai_cache_read_input_tokens"] == USAGE["cache_read"]
    assert props["$ai_cache_creation_input_tokens"] == USAGE["cache_creation"]
    assert props["$ai_is_error"] is False
    assert 0 < props["$ai_time_to_first_token"] <= props["$ai_latency"]


def test_query_is_one_trace_with_turns_tool_and_result_totals(sdk, options) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    messages = ask(PROMPT, options)
    assert "StreamEvent" not in kinds(messages)  # turned on for us, hidden from the caller
    assert kinds(messages)[-1] == "ResultMessage"
    result = messages[-1]
    assert result.result == ANSWER
    evs = events(server)

    (trace,) = [e["properties"] for e in evs if e["event"] == "$ai_trace"]
    assert trace["$ai_trace_name"] == "claude-agent"
    assert trace["$ai_framework"] == "claude-agent-sdk"
    assert trace["$ai_model"] == CLAUDE_MODEL
    assert trace["$ai_provider"] == "anthropic"
    assert trace["$ai_input_tokens"] == 2 * USAGE["input"]
    assert trace["$ai_output_tokens"] == 2 * USAGE["output"]
    assert trace["$ai_cache_read_input_tokens"] == 2 * USAGE["cache_read"]
    assert trace["$ai_cache_creation_input_tokens"] == 2 * USAGE["cache_creation"]
    assert trace["$ai_total_cost_usd"] == pytest.approx(result.total_cost_usd)
    assert trace["$ai_total_cost_usd"] > 0
    assert trace["$ai_num_turns"] == result.num_turns == 2
    assert trace["$ai_duration_ms"] == result.duration_ms
    assert trace["$ai_api_duration_ms"] == result.duration_api_ms
    assert trace["$ai_stop_reason"] == "end_turn"
    assert trace["$ai_is_error"] is False
    assert trace["$ai_generation_count"] == 2
    assert trace["$ai_session_id"] == result.session_id
    assert "$ai_input_state" not in trace and "$ai_output_state" not in trace  # private

    turns = [e["properties"] for e in evs if e["event"] == "$ai_generation"]
    assert len(turns) == 2
    for props in turns:
        assert_turn(props)
        assert props["$ai_parent_id"] == trace["$ai_span_id"]
        assert props["$ai_output_choices"] is None
    assert [t["$ai_stop_reason"] for t in turns] == ["tool_use", "end_turn"]

    (tool,) = [e["properties"] for e in evs if e["event"] == "$ai_span"]
    assert tool["$ai_span_name"] == tool["$ai_tool_name"] == TOOL
    assert tool["$ai_parent_id"] == trace["$ai_span_id"]
    assert tool["$ai_is_error"] is False
    assert "$ai_input_state" not in tool
    assert {e["properties"]["$ai_trace_id"] for e in evs} == {trace["$ai_trace_id"]}


def test_payloads_with_capture_on(sdk, options) -> None:  # type: ignore[no-untyped-def]
    server = sdk(llm_payloads=True)
    ask(PROMPT, options)
    evs = events(server)
    (trace,) = [e["properties"] for e in evs if e["event"] == "$ai_trace"]
    assert trace["$ai_input_state"] == PROMPT
    assert trace["$ai_output_state"] == ANSWER
    (tool,) = [e["properties"] for e in evs if e["event"] == "$ai_span"]
    assert tool["$ai_input_state"] == {"city": "Paris"}
    assert tool["$ai_output_state"] == [{"type": "text", "text": "Sunny in Paris"}]
    first, second = [e["properties"] for e in evs if e["event"] == "$ai_generation"]
    (call,) = first["$ai_output_choices"][0]["content"]
    assert call["function"] == {"name": TOOL, "arguments": {"city": "Paris"}}
    assert second["$ai_output_choices"] == [
        {"role": "assistant", "content": [{"type": "text", "text": ANSWER}]}
    ]


def test_a_caller_who_asked_for_stream_events_still_gets_them(sdk, options) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    options.include_partial_messages = True
    messages = ask(PROMPT, options)
    assert "StreamEvent" in kinds(messages)
    for props in [e["properties"] for e in events(server) if e["event"] == "$ai_generation"]:
        assert_turn(props)


def test_client_session_gives_each_prompt_its_own_trace_and_cost(sdk, options) -> None:  # type: ignore[no-untyped-def]
    server = sdk()

    async def run() -> list[Any]:
        results = []
        client = heliograph_sdk.wrap_claude_agent(claude_agent_sdk.ClaudeSDKClient(options))
        assert heliograph_sdk.wrap_claude_agent(client) is client
        async with client:
            for prompt in (PROMPT, "And tomorrow?"):
                await client.query(prompt)
                async for message in client.receive_response():
                    assert type(message).__name__ != "StreamEvent"
                    if type(message).__name__ == "ResultMessage":
                        results.append(message)
        return results

    first, second = asyncio.run(asyncio.wait_for(run(), 60))
    assert options.include_partial_messages is False  # the caller's options are untouched
    evs = events(server)
    traces = [e["properties"] for e in evs if e["event"] == "$ai_trace"]
    assert [t["$ai_num_turns"] for t in traces] == [2, 1]
    assert {t["$ai_session_id"] for t in traces} == {first.session_id}
    # The CLI's cost is a running total over the session: each trace gets its share.
    assert second.total_cost_usd > first.total_cost_usd
    assert traces[0]["$ai_total_cost_usd"] == pytest.approx(first.total_cost_usd)
    assert traces[1]["$ai_total_cost_usd"] == pytest.approx(
        second.total_cost_usd - first.total_cost_usd
    )
    assert traces[1]["$ai_input_tokens"] == USAGE["input"]
    assert traces[0]["$ai_trace_id"] != traces[1]["$ai_trace_id"]
    assert [t["$ai_generation_count"] for t in traces] == [2, 1]


def test_sub_agent_turns_nest_under_the_call_that_started_them(sdk, options) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    options.tools = ["Agent", "Task"]
    options.allowed_tools = ["Agent", "Task"]
    messages = ask(f"Please {DELEGATE}: {PROMPT}", options)
    assert kinds(messages)[-1] == "ResultMessage"
    evs = events(server)
    (call,) = [
        e["properties"]
        for e in evs
        if e["event"] == "$ai_span" and e["properties"]["$ai_tool_name"] in ("Agent", "Task")
    ]
    inside = [e for e in evs if e["properties"].get("$ai_parent_id") == call["$ai_span_id"]]
    # The sub-agent has the weather tool too: it calls it, then answers.
    assert [e["event"] for e in inside].count("$ai_generation") == 2
    (tool,) = [e["properties"] for e in inside if e["event"] == "$ai_span"]
    assert tool["$ai_tool_name"] == TOOL
    assert {e["properties"]["$ai_trace_id"] for e in inside} == {call["$ai_trace_id"]}
    main_turns = [
        e["properties"]
        for e in evs
        if e["event"] == "$ai_generation" and e not in inside
        if e["properties"]["$ai_trace_id"] == call["$ai_trace_id"]
    ]
    for props in main_turns:  # streamed: exact even when the call returns at once
        assert props["$ai_output_tokens"] == USAGE["output"]


def test_api_error_marks_the_turn_and_the_trace(sdk, options) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    options.model = "fail"
    with pytest.raises(claude_agent_sdk.ClaudeSDKError):
        ask(PROMPT, options)
    evs = events(server)
    (trace,) = [e["properties"] for e in evs if e["event"] == "$ai_trace"]
    assert trace["$ai_is_error"] is True
    assert trace["$ai_error"] == "API error 400"
    (turn,) = [e["properties"] for e in evs if e["event"] == "$ai_generation"]
    assert turn["$ai_is_error"] is True
    assert turn["$ai_model"] == "fail"  # the model asked for, not the CLI's "<synthetic>"


def test_nests_in_an_open_trace_as_the_current_user(sdk, options) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    heliograph_sdk.set_user("user-3")

    async def run() -> None:
        with heliograph_sdk.trace("request", session_id="chat-3") as request:
            async for _ in heliograph_sdk.claude_agent_query(
                prompt=PROMPT, options=options, trace_name="forecast"
            ):
                pass
        assert request.trace_id

    asyncio.run(asyncio.wait_for(run(), 60))
    evs = events(server)
    (trace,) = [e for e in evs if e["event"] == "$ai_trace"]
    assert trace["properties"]["$ai_span_name"] == "request"
    (agent,) = [e for e in evs if e["properties"].get("$ai_span_name") == "forecast"]
    assert agent["event"] == "$ai_span"
    assert agent["properties"]["$ai_parent_id"] == trace["properties"]["$ai_span_id"]
    assert agent["properties"]["$ai_total_cost_usd"] > 0
    for event in evs:
        assert event["distinct_id"] == "user-3"
        assert event["properties"]["$ai_session_id"] == "chat-3"  # the enclosing session wins
        assert event["properties"]["$ai_trace_id"] == trace["properties"]["$ai_trace_id"]


def test_off_passes_the_stream_through_untouched(server, options) -> None:  # type: ignore[no-untyped-def]
    messages = ask(PROMPT, options)
    assert kinds(messages)[-1] == "ResultMessage"
    assert "StreamEvent" not in kinds(messages)
    assert heliograph_sdk.flush(1)
    assert server.events() == []
