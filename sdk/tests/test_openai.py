"""wrap_openai against a local server speaking the chat completions protocol."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

import heliograph_sdk

openai = pytest.importorskip("openai")

from sdk_llm_servers import LLMServer  # noqa: E402

MESSAGES = [{"role": "user", "content": "Say hello"}]
TOOLS = [
    {
        "type": "function",
        "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
    }
]


@pytest.fixture
def llm() -> Iterator[LLMServer]:
    server = LLMServer()
    yield server
    server.close()


def generations(server: Any) -> list[dict[str, Any]]:
    assert heliograph_sdk.flush(5)
    return [e["properties"] for e in server.named("$ai_generation")]


def sync_client(llm: LLMServer) -> Any:
    return heliograph_sdk.wrap_openai(
        openai.OpenAI(api_key="sk-test", base_url=llm.url + "/v1", max_retries=0)
    )


def assert_usage(props: dict[str, Any]) -> None:
    assert props["$ai_provider"] == "openai"
    assert props["$ai_model"] == "gpt-test-2025"
    assert props["$ai_input_tokens"] == 12
    assert props["$ai_output_tokens"] == 4
    assert props["$ai_cache_read_input_tokens"] == 2
    assert props["$ai_reasoning_tokens"] == 1
    assert props["$ai_http_status"] == 200
    assert props["$ai_is_error"] is False
    assert isinstance(props["$ai_latency"], float) and 0 < props["$ai_latency"] < 5
    assert props["$ai_base_url"].startswith("http://127.0.0.1")


def test_sync_completion(sdk, llm) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    client = sync_client(llm)
    assert heliograph_sdk.wrap_openai(client) is client  # idempotent, same object
    response = client.chat.completions.create(
        model="gpt-test", messages=MESSAGES, temperature=0.5, max_tokens=20
    )
    assert response.choices[0].message.content == "Hello, world!"
    (props,) = generations(server)
    assert_usage(props)
    assert props["$ai_stream"] is False
    assert props["$ai_temperature"] == 0.5
    assert props["$ai_max_tokens"] == 20
    assert props["$ai_stop_reason"] == "stop"
    assert props["$ai_input"] is None and props["$ai_output_choices"] is None


def test_sync_stream_injects_usage_and_hides_the_usage_chunk(sdk, llm) -> None:  # type: ignore[no-untyped-def]
    server = sdk(llm_payloads=True)
    client = sync_client(llm)
    stream = client.chat.completions.create(model="gpt-test", messages=MESSAGES, stream=True)
    pieces = [chunk.choices[0].delta.content for chunk in stream]  # would IndexError on usage
    assert "".join(p or "" for p in pieces) == "Hello, world!"
    assert llm.requests[-1]["body"]["stream_options"] == {"include_usage": True}
    (props,) = generations(server)
    assert_usage(props)
    assert props["$ai_stream"] is True
    assert props["$ai_time_to_first_token"] <= props["$ai_latency"]
    assert props["$ai_input"] == MESSAGES
    assert props["$ai_output_choices"] == [{"role": "assistant", "content": "Hello, world!"}]


def test_stream_keeps_usage_chunk_when_caller_asked(sdk, llm) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    client = sync_client(llm)
    with client.chat.completions.create(
        model="gpt-test", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    ) as stream:
        chunks = list(stream)
    assert chunks[-1].usage.prompt_tokens == 12
    assert_usage(generations(server)[0])


def test_sync_tool_calls_captured_with_payloads(sdk, llm) -> None:  # type: ignore[no-untyped-def]
    server = sdk(llm_payloads=True)
    client = sync_client(llm)
    client.chat.completions.create(model="gpt-test", messages=MESSAGES, tools=TOOLS)
    stream = client.chat.completions.create(
        model="gpt-test", messages=MESSAGES, tools=TOOLS, stream=True
    )
    for _ in stream:
        pass
    plain, streamed = generations(server)
    for props in (plain, streamed):
        (choice,) = props["$ai_output_choices"]
        (call,) = choice["tool_calls"]
        assert call["id"] == "call_1"
        assert call["function"] == {"name": "get_weather", "arguments": '{"city":"Paris"}'}
        assert props["$ai_stop_reason"] == "tool_calls"
        assert props["$ai_tools"] == TOOLS


def test_error_is_recorded_and_reraised(sdk, llm) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    client = sync_client(llm)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="fail", messages=MESSAGES)
    (props,) = generations(server)
    assert props["$ai_is_error"] is True
    assert props["$ai_http_status"] == 400
    assert "bad model" in props["$ai_error"]


def test_async_client_plain_and_stream(sdk, llm) -> None:  # type: ignore[no-untyped-def]
    server = sdk()

    async def main() -> str:
        client = heliograph_sdk.wrap_openai(
            openai.AsyncOpenAI(api_key="sk-test", base_url=llm.url + "/v1", max_retries=0)
        )
        with heliograph_sdk.trace("async-chat"):
            await client.chat.completions.create(model="gpt-test", messages=MESSAGES)
            stream = await client.chat.completions.create(
                model="gpt-test", messages=MESSAGES, stream=True
            )
            text = ""
            async for chunk in stream:
                text += chunk.choices[0].delta.content or ""
        await client.close()
        return text

    assert asyncio.run(main()) == "Hello, world!"
    plain, streamed = generations(server)
    assert_usage(plain)
    assert_usage(streamed)
    (trace,) = server.named("$ai_trace")
    assert trace["properties"]["$ai_input_tokens"] == 24
    assert plain["$ai_trace_id"] == streamed["$ai_trace_id"] == trace["properties"]["$ai_trace_id"]


def test_disabled_sdk_passes_through(llm) -> None:  # type: ignore[no-untyped-def]
    client = sync_client(llm)
    stream = client.chat.completions.create(model="gpt-test", messages=MESSAGES, stream=True)
    list(stream)
    assert "stream_options" not in llm.requests[-1]["body"]
