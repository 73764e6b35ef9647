"""ai/fix.py and ai/providers.py against local servers speaking the real protocols.

The real ``openai`` and ``anthropic`` clients talk HTTP to the fake servers of
``tests/llm_servers.py``; nothing is mocked between the service and the wire.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest

from heliograph.ai.describe import PROMPT_VERSION
from heliograph.ai.errors import (
    AIError,
    NotCached,
    NotConfigured,
    PolicyRefused,
    UpstreamAuthError,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from heliograph.ai.fix import (
    Delta,
    Done,
    FixPart,
    FixService,
    GenerationRecord,
    MemoryFixCache,
    fix_cache_key,
)
from heliograph.ai.providers import (
    AnthropicProvider,
    OpenAIProvider,
    Provider,
    ProviderName,
    ProviderSettings,
    make_provider,
)
from heliograph.config import ConfigError
from heliograph.model import Event, Exception_, Frame, Mechanism
from tests.conftest import free_port
from tests.llm_servers import DEFAULT_TEXT, FakeAnthropicServer, FakeOpenAIServer

T = TypeVar("T")
SECRET = "sk-test-THISISSECRET1234"
FakeServer = FakeOpenAIServer | FakeAnthropicServer


@pytest.fixture(params=["openai", "anthropic"])
def server(request: pytest.FixtureRequest) -> Iterator[FakeServer]:
    fake: FakeServer = FakeOpenAIServer() if request.param == "openai" else FakeAnthropicServer()
    with fake:
        yield fake


def run(coro: Awaitable[T]) -> T:
    async def main() -> T:
        return await coro

    return asyncio.run(main())


def settings_for(server: FakeServer, **changes: Any) -> ProviderSettings:
    provider = "openai" if isinstance(server, FakeOpenAIServer) else "anthropic"
    values: dict[str, Any] = {
        "provider": provider,
        "model": "fake-model-1",
        "base_url": server.base_url,
        "api_key": SECRET,
        "timeout_seconds": 5.0,
    }
    values.update(changes)
    return ProviderSettings(**values)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def make_service(
    server: FakeServer,
    *,
    clock: Callable[[], float] | None = None,
    records: list[GenerationRecord] | None = None,
    **changes: Any,
) -> FixService:
    settings = settings_for(server, **changes)
    clock = clock or Clock()
    return FixService(
        make_provider(settings),
        settings,
        MemoryFixCache(clock=clock),
        clock=clock,
        on_generation=records.append if records is not None else None,
    )


def crash_event(*, vars: dict[str, Any] | None = None, value: str = "division by zero") -> Event:
    frames = [
        Frame(function="main", module="app.cli", filename="app/cli.py", lineno=3, in_app=True,
              context_line="    report(cart)"),
        Frame(function="average", module="app.stats", filename="app/stats.py", lineno=12,
              in_app=True, context_line="    return total / count",
              pre_context=["def average(cart):", "    total = sum(cart)", "    count = len(cart)"],
              post_context=[""], vars=vars),
    ]  # fmt: skip
    return Event(
        project_id=1,
        event_id="c" * 32,
        timestamp=0.0,
        platform="python",
        exceptions=[
            Exception_(
                type="ZeroDivisionError",
                value=value,
                frames=frames,
                mechanism=Mechanism(type="excepthook", handled=False),
            )
        ],
    )


ALLOWED = {"policy_state": "allowed", "consent": False, "pii_certified": False}


async def collect(service: FixService, event: Event | None = None, **options: Any) -> list[FixPart]:
    arguments = {"issue_key": "issue-1", **ALLOWED, **options}
    return [part async for part in service.suggest(event or crash_event(), **arguments)]


async def collect_and_close(
    service: FixService, event: Event | None = None, **options: Any
) -> list[FixPart]:
    try:
        return await collect(service, event, **options)
    finally:
        await service.aclose()


def text_of(parts: list[FixPart]) -> str:
    return "".join(p.text for p in parts if isinstance(p, Delta))


def prompt_of(server: FakeServer) -> str:
    """The user message: the event description."""
    return str(server.last_body["messages"][-1]["content"])


# -- streaming ---------------------------------------------------------------------


def test_streams_deltas_in_order_then_done(server: FakeServer) -> None:
    records: list[GenerationRecord] = []
    parts = run(collect_and_close(make_service(server, records=records)))
    deltas, done = parts[:-1], parts[-1]
    assert len(deltas) > 5 and all(isinstance(p, Delta) for p in deltas)
    assert text_of(parts) == DEFAULT_TEXT
    assert isinstance(done, Done)
    assert done.model == "fake-model-1"
    assert (done.input_tokens, done.output_tokens) == (321, len(deltas))
    assert done.cached is False and done.prompt_version == PROMPT_VERSION
    assert not done.usage_estimated
    assert server.calls == 1
    [record] = records
    assert record.provider in ("openai", "anthropic") and record.model == "fake-model-1"
    assert (record.input_tokens, record.output_tokens) == (321, len(deltas))
    assert not record.is_error and record.error is None and record.latency_seconds >= 0


def test_the_request_carries_the_description(server: FakeServer) -> None:
    run(collect_and_close(make_service(server, max_output_tokens=777)))
    body = server.last_body
    assert body["stream"] is True and body["model"] == "fake-model-1"
    assert body["max_tokens"] == 777
    prompt = prompt_of(server)
    assert "ZeroDivisionError" in prompt and "return total / count" in prompt
    if isinstance(server, FakeOpenAIServer):
        assert body["stream_options"] == {"include_usage": True}
        assert body["messages"][0]["role"] == "system"
    else:
        assert "Proposed solution" in body["system"]
        assert [m["role"] for m in body["messages"]] == ["user"]


def test_the_model_actually_used_is_reported(server: FakeServer) -> None:
    server.reply("ok", model="fake-model-1-2025-01-01")
    done = run(collect_and_close(make_service(server)))[-1]
    assert isinstance(done, Done) and done.model == "fake-model-1-2025-01-01"


def test_servers_without_usage_get_counted_tokens(server: FakeServer) -> None:
    server.reply("a short answer", send_usage=False)
    done = run(collect_and_close(make_service(server)))[-1]
    assert isinstance(done, Done)
    assert done.output_tokens == 3
    if isinstance(server, FakeOpenAIServer):  # Anthropic's message_start always has input usage
        assert done.usage_estimated and done.input_tokens > 100


def test_complete_and_open(server: FakeServer) -> None:
    async def scenario() -> None:
        service = make_service(server)
        result = await service.complete(crash_event(), issue_key="i", **ALLOWED)
        assert result.text == DEFAULT_TEXT and not result.done.cached
        stream = await service.open(crash_event(), issue_key="i", **ALLOWED)
        parts = [part async for part in stream]
        assert text_of(parts) == DEFAULT_TEXT
        assert isinstance(parts[-1], Done) and parts[-1].cached
        await service.aclose()

    run(scenario())


# -- cache ---------------------------------------------------------------------------


def test_cache_hit_makes_no_upstream_call(server: FakeServer) -> None:
    async def scenario() -> None:
        records: list[GenerationRecord] = []
        service = make_service(server, records=records)
        first = await collect(service)
        second = await collect(service)
        assert server.calls == 1 and len(records) == 1
        assert len(second) == 2
        assert isinstance(second[0], Delta) and second[0].text == text_of(first)
        assert isinstance(second[1], Done) and second[1].cached
        assert second[1].model == "fake-model-1" and second[1].input_tokens == 321
        await service.aclose()

    run(scenario())


def test_cached_only_never_calls_the_provider(server: FakeServer) -> None:
    """What the issue page asks on load: the cached answer, or NotCached; never a call."""

    async def scenario() -> None:
        service = make_service(server)
        with pytest.raises(NotCached):
            await collect(service, cached_only=True)
        assert server.calls == 0
        first = await collect(service)
        hit = await collect(service, cached_only=True)
        assert text_of(hit) == text_of(first) and isinstance(hit[-1], Done) and hit[-1].cached
        assert server.calls == 1
        await service.aclose()

    run(scenario())


def test_refresh_bypasses_the_cache(server: FakeServer) -> None:
    async def scenario() -> None:
        service = make_service(server)
        await collect(service)
        server.reply("a newer answer")
        refreshed = await collect(service, refresh=True)
        assert server.calls == 2
        assert text_of(refreshed) == "a newer answer"
        again = await collect(service)
        assert text_of(again) == "a newer answer" and server.calls == 2  # refresh overwrote
        await service.aclose()

    run(scenario())


def test_cache_key_includes_model_and_prompt_version(server: FakeServer) -> None:
    async def scenario() -> None:
        service = make_service(server)
        await collect(service)
        await collect(service, model="other-model")
        await collect(service, issue_key="issue-2")
        assert server.calls == 3
        assert server.last_body["model"] == "fake-model-1"
        await service.aclose()

    run(scenario())
    keys = {
        fix_cache_key("i", "m"),
        fix_cache_key("i", "m2"),
        fix_cache_key("i", "m", "99"),
        fix_cache_key("i", "m", with_locals=True),
    }
    assert len(keys) == 4
    assert fix_cache_key("a:b", "c") != fix_cache_key("a", "b:c")


def test_cache_expires(server: FakeServer) -> None:
    clock = Clock()

    async def scenario() -> None:
        service = make_service(server, clock=clock, cache_ttl_seconds=60)
        await collect(service)
        clock.now += 59
        await collect(service)
        assert server.calls == 1
        clock.now += 2
        await collect(service)
        assert server.calls == 2
        await service.aclose()

    run(scenario())


def test_ttl_zero_disables_the_cache(server: FakeServer) -> None:
    async def scenario() -> None:
        service = make_service(server, cache_ttl_seconds=0)
        await collect(service)
        await collect(service)
        assert server.calls == 2
        await service.aclose()

    run(scenario())


def test_simultaneous_requests_share_one_upstream_call(server: FakeServer) -> None:
    server.reply(chunk_delay=0.01)

    async def scenario() -> None:
        records: list[GenerationRecord] = []
        service = make_service(server, records=records)
        results = await asyncio.gather(*(collect(service) for _ in range(3)))
        assert server.calls == 1 and len(records) == 1
        for parts in results:
            assert text_of(parts) == DEFAULT_TEXT
            assert isinstance(parts[-1], Done) and not parts[-1].cached
        await service.aclose()

    run(scenario())


def test_a_reader_that_leaves_does_not_waste_the_call(server: FakeServer) -> None:
    server.reply(chunk_delay=0.005)

    async def scenario() -> None:
        service = make_service(server)
        stream = await service.open(crash_event(), issue_key="i", **ALLOWED)
        first = await stream.__anext__()
        assert isinstance(first, Delta)
        await stream.aclose()  # the browser tab was closed
        for _ in range(200):  # the call goes on in its own task, then lands in the cache
            if not service._flights:
                break
            await asyncio.sleep(0.01)
        again = await collect(service, issue_key="i")
        assert text_of(again) == DEFAULT_TEXT
        assert isinstance(again[-1], Done) and again[-1].cached
        assert server.calls == 1
        await service.aclose()

    run(scenario())


def test_trace_summary_reaches_the_prompt(server: FakeServer) -> None:
    summary = {"models": ["gpt-x"], "failing_generation": {"error": "context_length_exceeded"}}
    run(collect_and_close(make_service(server), trace_summary=summary))
    assert "context_length_exceeded" in prompt_of(server)


def test_a_failed_answer_is_not_cached(server: FakeServer) -> None:
    async def scenario() -> None:
        service = make_service(server, timeout_seconds=0.3)
        server.hang(after_chunks=2)
        with pytest.raises(UpstreamTimeout):
            await collect(service)
        server.reply("recovered")
        assert text_of(await collect(service)) == "recovered"
        assert server.calls == 2
        await service.aclose()

    run(scenario())


def test_deltas_then_an_error_mid_stream(server: FakeServer) -> None:
    server.hang(after_chunks=2)

    async def scenario() -> None:
        service = make_service(server, timeout_seconds=0.3)
        seen: list[FixPart] = []
        with pytest.raises(UpstreamTimeout):
            async for part in service.suggest(crash_event(), issue_key="i", **ALLOWED):
                seen.append(part)
        assert len(seen) == 2 and all(isinstance(p, Delta) for p in seen)
        await service.aclose()

    run(scenario())


# -- policy and configuration --------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "consent", "pii_certified"),
    [
        ("consent_required", False, False),
        ("pii_certification_required", True, False),
        ("disabled", True, True),
    ],
)
def test_policy_refusals_call_nothing(
    server: FakeServer, state: str, consent: bool, pii_certified: bool
) -> None:
    async def scenario() -> None:
        service = make_service(server)
        with pytest.raises(PolicyRefused) as info:
            await service.open(
                crash_event(),
                issue_key="i",
                policy_state=state,
                consent=consent,
                pii_certified=pii_certified,
            )
        assert info.value.restriction == state
        assert info.value.status == 403 and info.value.body()["restriction"] == state
        await service.aclose()

    run(scenario())
    assert server.calls == 0


def test_policy_applies_to_cache_hits_too(server: FakeServer) -> None:
    async def scenario() -> None:
        service = make_service(server)
        await collect(service)
        with pytest.raises(PolicyRefused):
            await collect(service, policy_state="disabled")
        await service.aclose()

    run(scenario())


def test_consent_and_certification_let_requests_through(server: FakeServer) -> None:
    records: list[GenerationRecord] = []

    async def scenario() -> None:
        service = make_service(server, records=records)
        consented = await collect(service, policy_state="consent_required", consent=True)
        assert text_of(consented) == DEFAULT_TEXT
        assert isinstance(consented[-1], Done) and not consented[-1].cached
        assert server.calls == 1
        # Certifying also allows the locals, a cache key of its own: the model is asked again.
        certified = await collect(
            service, policy_state="pii_certification_required", pii_certified=True
        )
        assert text_of(certified) == DEFAULT_TEXT
        assert isinstance(certified[-1], Done) and not certified[-1].cached
        assert server.calls == 2
        await service.aclose()

    run(scenario())
    assert [record.is_error for record in records] == [False, False]


def test_not_configured() -> None:
    settings = ProviderSettings.from_env({})
    assert settings.provider is None and make_provider(settings) is None
    service = FixService(None, settings, MemoryFixCache())
    assert not service.configured

    async def scenario() -> None:
        with pytest.raises(NotConfigured) as info:
            await service.open(crash_event(), issue_key="i", **ALLOWED)
        assert info.value.status == 404
        assert "HELIOGRAPH_AI_PROVIDER" in info.value.detail

    run(scenario())


def test_locals_only_when_pii_certified(server: FakeServer) -> None:
    variables = {"cart": "[]", "count": "0", "password": "[Filtered]", "api_token": "tok-123456"}
    ev = crash_event(vars=variables, value="total for [Filtered] is zero")

    async def scenario() -> None:
        service = make_service(server)
        await collect(service, ev)
        assert '"count"' not in prompt_of(server) and '"vars"' not in prompt_of(server)
        await collect(service, ev, pii_certified=True, refresh=True)
        prompt = prompt_of(server)
        assert '"vars"' in prompt and '"count"' in prompt
        assert "tok-123456" not in prompt  # scrubbed once more before sending
        assert "total for [Filtered] is zero" in prompt  # scrubbed values reach the model as is
        # An answer written from locals is not served to a request without certification.
        assert server.calls == 2
        await collect(service, ev)
        await collect(service, ev, pii_certified=True)
        assert server.calls == 2
        await service.aclose()

    run(scenario())


# -- upstream errors -----------------------------------------------------------------


def upstream_error(server: FakeServer, **changes: Any) -> AIError:
    records: list[GenerationRecord] = []

    async def scenario() -> AIError:
        service = make_service(server, records=records, **changes)
        try:
            await service.open(crash_event(), issue_key="i", **ALLOWED)
        except AIError as error:
            return error
        finally:
            await service.aclose()
        raise AssertionError("no error raised")

    error = run(scenario())
    [record] = records
    assert record.is_error and record.error == str(error)
    assert SECRET not in str(record)
    assert SECRET not in str(error)
    return error


def test_rate_limit_is_429_with_retry_after(server: FakeServer) -> None:
    server.fail(429, "slow down", retry_after="17")
    error = upstream_error(server)
    assert isinstance(error, UpstreamRateLimited)
    assert error.status == 429 and error.retry_after == 17
    assert error.headers() == {"Retry-After": "17"}


def test_rejected_key_is_502(server: FakeServer) -> None:
    server.fail(401, f"Incorrect API key provided: {SECRET}")
    error = upstream_error(server)
    assert isinstance(error, UpstreamAuthError)
    assert error.status == 502
    assert error.detail == "the LLM provider rejected the API key"


def test_other_api_errors_are_502_with_the_status(server: FakeServer) -> None:
    server.fail(500, f"internal error near key {SECRET}")
    error = upstream_error(server)
    assert type(error) is UpstreamError
    assert error.status == 502 and "HTTP 500" in error.detail and "internal error" in error.detail
    assert error.upstream_status == 500


def test_timeout_is_504(server: FakeServer) -> None:
    server.hang()
    error = upstream_error(server, timeout_seconds=0.3)
    assert isinstance(error, UpstreamTimeout) and error.status == 504


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_connection_refused_is_502(provider: ProviderName) -> None:
    base_url = f"http://127.0.0.1:{free_port()}"
    settings = ProviderSettings(provider=provider, base_url=base_url, api_key=SECRET)
    records: list[GenerationRecord] = []
    service = FixService(
        make_provider(settings), settings, MemoryFixCache(), on_generation=records.append
    )
    with pytest.raises(UpstreamUnreachable) as info:
        run(collect_and_close(service))
    assert info.value.status == 502
    assert info.value.detail == f"cannot reach LLM provider at {base_url}"
    assert records[0].is_error


def test_a_failing_callback_does_not_break_the_fix(server: FakeServer) -> None:
    def explode(record: GenerationRecord) -> None:
        raise RuntimeError("monitoring is down")

    settings = settings_for(server)
    service = FixService(make_provider(settings), settings, MemoryFixCache(), on_generation=explode)
    assert text_of(run(collect_and_close(service))) == DEFAULT_TEXT


# -- settings ------------------------------------------------------------------------


def test_settings_from_env() -> None:
    settings = ProviderSettings.from_env(
        {
            "HELIOGRAPH_AI_PROVIDER": "OpenAI",
            "HELIOGRAPH_AI_MODEL": "qwen2.5-coder:7b",
            "HELIOGRAPH_AI_BASE_URL": "http://127.0.0.1:11434/v1/",
            "HELIOGRAPH_AI_API_KEY": SECRET,
            "HELIOGRAPH_AI_TIMEOUT": "12.5",
            "HELIOGRAPH_AI_MAX_TOKENS": "900",
            "HELIOGRAPH_AI_TOKEN_BUDGET": "3000",
            "HELIOGRAPH_AI_CACHE_TTL": "120",
            "HELIOGRAPH_AI_MAX_RETRIES": "2",
        }
    )
    assert settings == ProviderSettings(
        provider="openai",
        model="qwen2.5-coder:7b",
        base_url="http://127.0.0.1:11434/v1/",
        api_key=SECRET,
        timeout_seconds=12.5,
        max_output_tokens=900,
        token_budget=3000,
        cache_ttl_seconds=120,
        max_retries=2,
    )
    assert settings.effective_base_url == "http://127.0.0.1:11434/v1"
    assert SECRET not in repr(settings)
    provider = make_provider(settings)
    assert isinstance(provider, OpenAIProvider) and SECRET not in repr(provider)


def test_settings_defaults_and_key_fallbacks() -> None:
    openai = ProviderSettings.from_env({"HELIOGRAPH_AI_PROVIDER": "openai", "OPENAI_API_KEY": "o"})
    assert openai.api_key == "o" and openai.effective_model == "gpt-5.4-mini"
    assert openai.timeout_seconds == 60 and openai.cache_ttl_seconds == 3600
    assert openai.token_budget == 2000
    anthropic = ProviderSettings.from_env(
        {"HELIOGRAPH_AI_PROVIDER": "anthropic", "OPENAI_API_KEY": "o", "ANTHROPIC_API_KEY": "a"}
    )
    assert anthropic.api_key == "a" and anthropic.effective_model.startswith("claude")
    assert isinstance(make_provider(anthropic), AnthropicProvider)
    mismatch = ProviderSettings.from_env(
        {"HELIOGRAPH_AI_PROVIDER": "anthropic", "OPENAI_API_KEY": "o"}
    )
    assert mismatch.api_key is None


@pytest.mark.parametrize(
    "environ",
    [
        {"HELIOGRAPH_AI_PROVIDER": "gemini"},
        {"HELIOGRAPH_AI_TIMEOUT": "soon"},
        {"HELIOGRAPH_AI_TIMEOUT": "0"},
        {"HELIOGRAPH_AI_MAX_TOKENS": "1.5"},
        {"HELIOGRAPH_AI_TOKEN_BUDGET": "50"},
        {"HELIOGRAPH_AI_CACHE_TTL": "-1"},
    ],
)
def test_bad_settings_are_refused(environ: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        ProviderSettings.from_env(environ)


def test_hosted_providers_need_a_key() -> None:
    with pytest.raises(ConfigError, match="HELIOGRAPH_AI_API_KEY"):
        make_provider(ProviderSettings(provider="openai"))
    local = make_provider(ProviderSettings(provider="openai", base_url="http://127.0.0.1:1/v1"))
    assert local is not None


def test_providers_satisfy_the_protocol() -> None:
    providers: list[Provider] = [
        OpenAIProvider(api_key="k", base_url="http://127.0.0.1:1/v1"),
        AnthropicProvider(api_key="k", base_url="http://127.0.0.1:1"),
    ]
    assert [p.name for p in providers] == ["openai", "anthropic"]


def test_public_surface() -> None:
    import heliograph.ai

    assert sorted(heliograph.ai.__all__) == sorted(
        [
            "POLICY_STATES", "PROMPT_VERSION", "AIError", "AnthropicProvider", "CachedFix",
            "Delta", "Description", "Done", "FixCache", "FixPart", "FixResult", "FixService",
            "GenerationRecord", "MemoryFixCache", "NotConfigured", "OpenAIProvider",
            "PolicyDecision", "PolicyRefused", "PolicyState", "Provider", "ProviderSettings",
            "StreamPart", "TextDelta", "UpstreamAuthError", "UpstreamError",
            "UpstreamRateLimited", "UpstreamTimeout", "UpstreamUnreachable", "Usage",
            "build_messages", "check_policy", "complete", "count_tokens", "describe_event",
            "effective_state", "fix_cache_key", "make_provider",
        ]
    )  # fmt: skip
    for name in heliograph.ai.__all__:
        assert hasattr(heliograph.ai, name), name


def test_fake_servers_answer_non_streaming_requests_too() -> None:
    import anthropic
    import openai

    with FakeOpenAIServer(api_key="k") as fake_openai, FakeAnthropicServer() as fake_anthropic:
        client = openai.OpenAI(api_key="k", base_url=fake_openai.base_url, max_retries=0)
        completion = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}]
        )
        assert completion.choices[0].message.content == DEFAULT_TEXT
        assert completion.usage is not None and completion.usage.prompt_tokens == 321
        assert [m.id for m in client.models.list()] == ["fake-model"]
        wrong = openai.OpenAI(api_key="wrong", base_url=fake_openai.base_url, max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            wrong.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        wrong.close()
        client.close()
        claude = anthropic.Anthropic(api_key="k", base_url=fake_anthropic.base_url, max_retries=0)
        message = claude.messages.create(
            model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
        assert message.content[0].text == DEFAULT_TEXT  # type: ignore[union-attr]
        assert message.usage.input_tokens == 321
        claude.close()
        assert fake_openai.calls == 2 and fake_anthropic.calls == 1  # /v1/models is no call
