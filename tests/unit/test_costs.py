"""LLM cost: client costs first, then custom prices, then the genai-prices table."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from heliograph.digest.costs import apply_cost, compute_cost
from heliograph.model import Event

M = 1e-6  # dollars per token for a $1 / million-token price


def _props(model: str, provider: str | None = None, **tokens: Any) -> dict[str, Any]:
    properties: dict[str, Any] = {"$ai_model": model}
    if provider:
        properties["$ai_provider"] = provider
    properties.update({f"$ai_{key}": value for key, value in tokens.items()})
    return properties


@pytest.mark.parametrize(
    ("model", "provider", "matched"),
    [
        ("gpt-4o", "openai", "openai/gpt-4o"),
        ("GPT-4o", None, "openai/gpt-4o"),
        ("openai/gpt-4o", None, "openai/gpt-4o"),
        ("gpt-4o-2024-08-06", "openai", "openai/gpt-4o"),
        ("gpt-4o-2099-01-01", "openai", "openai/gpt-4o"),  # a date the table does not list
    ],
)
def test_gpt_4o(model: str, provider: str | None, matched: str) -> None:
    cost = compute_cost(_props(model, provider, input_tokens=1000, output_tokens=500))
    assert cost.source == "price_table"
    assert cost.matched_model == matched
    assert cost.input_usd == pytest.approx(1000 * 2.5 * M)
    assert cost.output_usd == pytest.approx(500 * 10 * M)
    assert cost.total_usd == pytest.approx(1000 * 2.5 * M + 500 * 10 * M)


def test_dated_version_finds_its_family() -> None:
    cost = compute_cost(_props("gpt-4.1-mini-2025-04-14", "openai", input_tokens=1_000_000))
    assert cost.matched_model == "openai/gpt-4.1-mini"
    assert cost.input_usd == pytest.approx(0.4)


@pytest.mark.parametrize(
    ("model", "provider"),
    [
        ("claude-3-5-sonnet-20241022", "anthropic"),
        ("anthropic/claude-3-5-sonnet-20241022", None),
        ("us.anthropic.claude-3-5-sonnet-20241022-v2:0", "aws.bedrock"),
        ("claude-sonnet-4-5", "anthropic"),
        ("claude-sonnet-4-5-20250929", "anthropic"),
    ],
)
def test_claude_sonnet(model: str, provider: str | None) -> None:
    cost = compute_cost(_props(model, provider, input_tokens=2000, output_tokens=300))
    assert cost.source == "price_table"
    assert cost.matched_model is not None and "sonnet" in cost.matched_model
    assert cost.input_usd == pytest.approx(2000 * 3 * M)
    assert cost.output_usd == pytest.approx(300 * 15 * M)


def test_anthropic_cache_tokens_are_exclusive() -> None:
    # Anthropic: 100 fresh input tokens, plus 1000 read from and 200 written to cache.
    props = _props(
        "claude-3-5-sonnet-20241022",
        "anthropic",
        input_tokens=100,
        output_tokens=50,
        cache_read_input_tokens=1000,
        cache_creation_input_tokens=200,
    )
    cost = compute_cost(props)
    assert cost.input_usd == pytest.approx(100 * 3 * M + 1000 * 0.3 * M + 200 * 3.75 * M)
    assert cost.output_usd == pytest.approx(50 * 15 * M)


def test_openai_cache_tokens_are_inclusive() -> None:
    # OpenAI: 1200 input tokens of which 1000 came from the cache.
    props = _props(
        "gpt-4o", "openai", input_tokens=1200, output_tokens=0, cache_read_input_tokens=1000
    )
    cost = compute_cost(props)
    assert cost.input_usd == pytest.approx(200 * 2.5 * M + 1000 * 1.25 * M)
    assert cost.output_usd == 0


def test_the_clients_accounting_flag_wins() -> None:
    # Anthropic counts reported inclusively (as OpenTelemetry instrumentations do).
    props = _props(
        "claude-3-5-sonnet-20241022",
        "anthropic",
        input_tokens=1300,
        output_tokens=0,
        cache_read_input_tokens=1000,
        cache_creation_input_tokens=200,
        cache_reporting_exclusive=False,
    )
    assert compute_cost(props).input_usd == pytest.approx(
        100 * 3 * M + 1000 * 0.3 * M + 200 * 3.75 * M
    )
    # An exclusive report from a provider we would have read inclusively.
    props = _props(
        "gpt-4o",
        "openai",
        input_tokens=200,
        output_tokens=0,
        cache_read_input_tokens=1000,
        cache_reporting_exclusive=True,
    )
    assert compute_cost(props).input_usd == pytest.approx(200 * 2.5 * M + 1000 * 1.25 * M)


def test_cache_larger_than_input_means_exclusive_counts() -> None:
    props = _props(
        "gpt-4o", "openai", input_tokens=200, output_tokens=0, cache_read_input_tokens=1000
    )
    assert compute_cost(props).input_usd == pytest.approx(200 * 2.5 * M + 1000 * 1.25 * M)


def test_reasoning_tokens() -> None:
    # OpenAI: reasoning is already inside the output count.
    openai = _props("o3-mini", "openai", input_tokens=0, output_tokens=1000, reasoning_tokens=800)
    assert compute_cost(openai).output_usd == pytest.approx(1000 * 4.4 * M)
    # Gemini reports thoughts apart and bills them as output.
    gemini = _props(
        "gemini-2.5-flash", "gemini", input_tokens=0, output_tokens=100, reasoning_tokens=900
    )
    cost = compute_cost(gemini)
    assert cost.matched_model == "google/gemini-2.5-flash"
    assert cost.output_usd == pytest.approx(1000 * 2.5 * M)


def test_embedding() -> None:
    props = _props("text-embedding-3-small", "openai", input_tokens=1_000_000)
    cost = compute_cost(props)
    assert cost.input_usd == pytest.approx(0.02)
    assert cost.output_usd == 0


def test_explicit_costs_win() -> None:
    props = _props("gpt-4o", "openai", input_tokens=1000, output_tokens=1000)
    props.update({"$ai_input_cost_usd": 0.5, "$ai_output_cost_usd": "0.25"})
    cost = compute_cost(props)
    assert (cost.input_usd, cost.output_usd, cost.total_usd) == (0.5, 0.25, 0.75)
    assert cost.source == "event"
    # A client's explicit $0 is a valid cost too.
    props = _props("gpt-4o", "openai", input_tokens=1000, **{"total_cost_usd": 0})
    assert compute_cost(props).total_usd == 0
    assert compute_cost(props).source == "event"
    # An invalid one is not: the table prices the call.
    props = _props("gpt-4o", "openai", input_tokens=1000, **{"total_cost_usd": -1})
    assert compute_cost(props).source == "price_table"


def test_custom_prices_win_over_the_table() -> None:
    props = _props(
        "gpt-4o",
        "openai",
        input_tokens=1000,
        output_tokens=100,
        cache_read_input_tokens=400,
        input_token_price=0.00001,
        output_token_price=0.00002,
        cache_read_token_price=0.000001,
    )
    cost = compute_cost(props)
    assert cost.source == "custom_price"
    assert cost.input_usd == pytest.approx(600 * 0.00001 + 400 * 0.000001)
    assert cost.output_usd == pytest.approx(100 * 0.00002)


def test_custom_prices_for_an_unknown_model_with_anthropic_cache_defaults() -> None:
    props = _props(
        "my-finetune",
        "anthropic",
        input_tokens=100,
        output_tokens=10,
        cache_read_input_tokens=1000,
        cache_creation_input_tokens=100,
        input_token_price=1e-5,
        output_token_price=2e-5,
    )
    cost = compute_cost(props)
    assert cost.source == "custom_price"
    assert cost.input_usd == pytest.approx(100 * 1e-5 + 1000 * 1e-6 + 100 * 1.25e-5)


def test_half_a_custom_price_falls_back_to_the_table() -> None:
    props = _props("gpt-4o", "openai", input_tokens=10, output_tokens=10, input_token_price=1.0)
    assert compute_cost(props).source == "price_table"


@pytest.mark.parametrize(
    "props",
    [
        _props("totally-unknown-model-xyz", "openai", input_tokens=10, output_tokens=10),
        _props("totally-unknown-model-xyz", None, input_tokens=10, output_tokens=10),
        _props("gpt-4o", "openai"),  # no token counts at all
        {"$ai_input_tokens": 10},  # no model
    ],
)
def test_unknown_is_none_never_zero(props: dict[str, Any]) -> None:
    cost = compute_cost(props)
    assert cost.source == "unknown"
    assert (cost.input_usd, cost.output_usd, cost.total_usd) == (None, None, None)


def test_a_failed_call_without_token_counts_cost_nothing_at_a_known_price() -> None:
    failed = compute_cost({**_props("gpt-4o", "openai"), "$ai_is_error": True})
    assert (failed.source, failed.total_usd) == ("price_table", 0.0)
    unknown_model = {**_props("totally-unknown-model-xyz", "openai"), "$ai_is_error": True}
    assert compute_cost(unknown_model).source == "unknown"


def _event(name: str, properties: dict[str, Any]) -> Event:
    return Event(
        project_id=1,
        event_id="0" * 32,
        timestamp=1_750_000_000.0,
        kind="analytics",
        name=name,
        properties=properties,
    )


def test_apply_cost_writes_the_properties() -> None:
    event = _event("$ai_generation", _props("gpt-4o", "openai", input_tokens=1000))
    apply_cost(event)
    assert event.properties["$ai_input_cost_usd"] == pytest.approx(1000 * 2.5 * M)
    assert event.properties["$ai_output_cost_usd"] == 0
    assert event.properties["$ai_total_cost_usd"] == pytest.approx(1000 * 2.5 * M)
    assert event.properties["$ai_cost_source"] == "price_table"
    assert event.properties["$ai_cost_model"] == "openai/gpt-4o"


def test_apply_cost_unknown_and_unpriced_events() -> None:
    event = _event("$ai_generation", _props("mystery", None, input_tokens=5))
    event.properties["$ai_total_cost_usd"] = "not a number"
    apply_cost(event)
    assert event.properties["$ai_cost_source"] == "unknown"
    assert "$ai_total_cost_usd" not in event.properties
    assert "$ai_input_cost_usd" not in event.properties

    span = _event("$ai_span", _props("gpt-4o", "openai", input_tokens=1000))
    apply_cost(span)
    assert "$ai_cost_source" not in span.properties

    sent = _event("$ai_embedding", {"$ai_total_cost_usd": 0.3, "$ai_model": "gpt-4o"})
    apply_cost(sent)
    assert sent.properties["$ai_total_cost_usd"] == 0.3
    assert sent.properties["$ai_cost_source"] == "event"


def test_prices_are_read_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("genai-prices tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    cost = compute_cost(_props("claude-3-5-haiku-20241022", "anthropic", input_tokens=10))
    assert cost.source == "price_table"
