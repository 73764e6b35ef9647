"""wrap_anthropic against a local server speaking the Messages protocol."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

import heliograph_sdk

anthropic = pytest.importorskip("anthropic")

from sdk_llm_servers import LLMServer  # noqa: E402

MESSAGES = [{"role": "user", "content": "Say hello"}]
TOOLS = [{"name": "get_weather", "input_schema": {"type": "object", "properties": {}}}]


@pytest.fixture
def llm() -> Iterator[LLMServer]:
    server = LLMServer()
    yield server
    server.close()


def generations(server: Any) -> list[dict[str, Any]]:
    assert heliograph_sdk.flush(5)
    return [e["properties"] for e in server.named("$ai_generation")]


def sync_client(llm: LLMServer) -> Any:
    return heliograph_sdk.wrap_anthropic(
        anthropic.Anthropic(api_key="sk-ant-test", base_url=llm.url, max_retries=0)
    )


def assert_usage(props: dict[str, Any]) -> None:
    assert props["$ai_provider"] == "anthropic"
    assert props["$ai_model"] == "claude-test-2025"
    assert props["$ai_input_tokens"] == 20
    assert props["$ai_output_tokens"] == 6
    assert props["$ai_cache_read_input_tokens"] == 5
    assert props["$ai_cache_creation_input_tokens"] == 3
    assert props["$ai_http_status"] == 200
    assert props["$ai_is_error"] is False
    assert isinstance(props["$ai_latency"], float) and 0 < props["$ai_latency"] < 5


def test_sync_message(sdk, llm) -> None:  # type: ignore[no-untyped-def]
    server = sdk(llm_payloads=True)
    client = sync_client(llm)
    message = client.messages.create(
        model="claude-test", max_tokens=64, system="Be brief.", messages=MESSAGES
    )
    assert message.content[0].text == "Hello, world!"
    (props,) = generations(server)
    assert_usage(props)
    assert props["$ai_stop_reason"] == "end_turn"
    assert props["$ai_max_tokens"] == 64
    assert props["$ai_input"] == [{"role": "system", "content": "Be brief."}, *MESSAGES]
    assert props["$ai_output_choices"] == [
        {"role": "assistant", "content": [{"type": "text", "text": "Hello, world!"}]}
    ]


def test_sync_stream(sdk, llm) -> None:  # type: ignore[no-untyped-def]
    server = sdk(llm_payloads=True)
    client = sync_client(llm)
    stream = client.messages.create(
        model="claude-test", max_tokens=64, messages=MESSAGES, stream=True
    )
    text = "".join(event.delta.text for event in stream if event.type == "content_block_delta")
    assert text == "Hello, world!"
    (props,) = generations(server)
    assert_usage(props)
    assert props["$ai_stream"] is True
    assert props["$ai_time_to_first_token"] <= props["$ai_latency"]
    assert props["$ai_output_choices"][0]["content"] == [{"type": "text", "text": "Hello, world!"}]


def test_tool_use_plain_and_streamed(sdk, llm) -> None:  # type: ignore[no-untyped-def]
    server = sdk(llm_payloads=True)
    client = sync_client(llm)
    client.messages.create(model="claude-test", max_tokens=64, messages=MESSAGES, tools=TOOLS)
    with client.messages.create(
        model="claude-test", max_tokens=64, messages=MESSAGES, tools=TOOLS, stream=True
    ) as stream:
        for _ in stream:
            pass
    plain, streamed = generations(server)
    for props in (plain, streamed):
        (block,) = props["$ai_output_choices"][0]["content"]
        assert block == {
            "type": "function",
            "id": "toolu_1",
            "function": {"name": "get_weather", "arguments": {"city": "Paris"}},
        }
        assert props["$ai_stop_reason"] == "tool_use"


def test_error_is_recorded_and_reraised(sdk, llm) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    client = sync_client(llm)
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(model="fail", max_tokens=8, messages=MESSAGES)
    (props,) = generations(server)
    assert props["$ai_is_error"] is True
    assert props["$ai_http_status"] == 400


def test_async_client_plain_and_stream(sdk, llm) -> None:  # type: ignore[no-untyped-def]
    server = sdk()

    async def main() -> str:
        client = heliograph_sdk.wrap_anthropic(
            anthropic.AsyncAnthropic(api_key="sk-ant-test", base_url=llm.url, max_retries=0)
        )
        await client.messages.create(model="claude-test", max_tokens=64, messages=MESSAGES)
        stream = await client.messages.create(
            model="claude-test", max_tokens=64, messages=MESSAGES, stream=True
        )
        text = ""
        async for event in stream:
            if event.type == "content_block_delta":
                text += event.delta.text
        await client.close()
        return text

    assert asyncio.run(main()) == "Hello, world!"
    plain, streamed = generations(server)
    assert_usage(plain)
    assert_usage(streamed)
    assert plain["$ai_stream"] is False and streamed["$ai_stream"] is True
