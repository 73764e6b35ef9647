"""LLM cost at digest: what each ``$ai_generation`` / ``$ai_embedding`` cost in USD.

The order of precedence (``docs/protocols.md`` "Cost"):

1. **event**: costs the client sent (``$ai_input_cost_usd``,
   ``$ai_output_cost_usd``, ``$ai_total_cost_usd``) are kept as they are;
2. **custom_price**: per-token prices sent with the event
   (``$ai_input_token_price``, ``$ai_output_token_price``,
   ``$ai_cache_read_token_price``, ``$ai_cache_creation_token_price``);
3. **price_table**: the ``genai-prices`` database, bundled with the package and
   read offline (this module never starts its auto-update, which fetches
   from the network);
4. **unknown**: no price found. Costs stay ``None``, never ``$0``.

Token accounting differs by provider, and getting it wrong is the classic
complaint about LLM cost tools:

* Anthropic reports ``input_tokens`` *exclusive* of cache reads and writes;
  OpenAI and Gemini (and OpenTelemetry's GenAI conventions) count cached
  tokens *inside* the input count. Clients may say which with
  ``$ai_cache_reporting_exclusive``; otherwise Anthropic (by provider, or a
  ``claude`` model with no provider) is exclusive and everything else
  inclusive. ``genai-prices`` wants the inclusive total, so exclusive counts
  are added up before pricing.
* OpenAI and Anthropic count reasoning tokens inside ``output_tokens``;
  Gemini reports them apart (``$ai_reasoning_tokens``) and bills them as
  output, so they are added for Google models.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal

from genai_prices import Usage
from genai_prices.data_snapshot import DataSnapshot
from genai_prices.types import PriceCalculation

from heliograph.llm_vocabulary import (
    AI_CACHE_CREATION_INPUT_TOKENS,
    AI_CACHE_CREATION_TOKEN_PRICE,
    AI_CACHE_READ_INPUT_TOKENS,
    AI_CACHE_READ_TOKEN_PRICE,
    AI_CACHE_REPORTING_EXCLUSIVE,
    AI_COST_MODEL,
    AI_COST_SOURCE,
    AI_INPUT_COST_USD,
    AI_INPUT_TOKEN_PRICE,
    AI_INPUT_TOKENS,
    AI_IS_ERROR,
    AI_MODEL,
    AI_OUTPUT_COST_USD,
    AI_OUTPUT_TOKEN_PRICE,
    AI_OUTPUT_TOKENS,
    AI_PROVIDER,
    AI_REASONING_TOKENS,
    AI_SERVICE_TIER,
    AI_TOTAL_COST_USD,
    PRICED_EVENTS,
)
from heliograph.model import Event

__all__ = ["PRICED_EVENTS", "CostResult", "CostSource", "apply_cost", "compute_cost"]

logger = logging.getLogger(__name__)

CostSource = Literal["event", "custom_price", "price_table", "unknown"]

_COST_KEYS = (AI_INPUT_COST_USD, AI_OUTPUT_COST_USD, AI_TOTAL_COST_USD)
# Anthropic's default cache multipliers, for custom prices that name no cache price.
_ANTHROPIC_CACHE_READ = 0.1
_ANTHROPIC_CACHE_WRITE = 1.25
# Provider names clients send -> genai-prices provider ids.
_PROVIDER_ALIASES = {
    "gemini": "google",
    "google_genai": "google",
    "google-genai": "google",
    "gcp.gemini": "google",
    "gcp.gen_ai": "google",
    "gcp.vertex_ai": "google",
    "vertex_ai": "google",
    "vertexai": "google",
    "azure.ai.openai": "azure",
    "azure_openai": "azure",
    "azure.ai.inference": "azure",
    "aws.bedrock": "aws",
    "bedrock": "aws",
    "anthropic.messages": "anthropic",
    "openai.chat": "openai",
    "openai.responses": "openai",
    "mistral_ai": "mistral",
    "x_ai": "x-ai",
    "xai": "x-ai",
}
# Bedrock ids: "us.anthropic.claude-3-5-sonnet-20241022-v2:0".
_VENDOR_PREFIX = re.compile(
    r"^(?:[a-z]{2,4}\.)?(?:anthropic|meta|amazon|cohere|mistral|ai21|deepseek|openai)\."
)
_BEDROCK_VERSION = re.compile(r"-v\d+(?::\d+)?$")


@dataclass(frozen=True, slots=True)
class CostResult:
    input_usd: float | None
    output_usd: float | None
    total_usd: float | None
    source: CostSource
    matched_model: str | None = None


def apply_cost(event: Event) -> None:
    """Price one event in place: ``$ai_{input,output,total}_cost_usd`` and ``$ai_cost_source``.

    Only ``$ai_generation`` and ``$ai_embedding`` are priced. An unknown model
    leaves the cost properties absent (never $0) and ``$ai_cost_source:
    "unknown"``.
    """
    if event.name not in PRICED_EVENTS:
        return
    result = compute_cost(event.properties, at=event.timestamp)
    properties = event.properties
    for key, value in zip(
        _COST_KEYS, (result.input_usd, result.output_usd, result.total_usd), strict=True
    ):
        if value is not None:
            properties[key] = value
        elif result.source != "event":
            properties.pop(key, None)
    properties[AI_COST_SOURCE] = result.source
    if result.matched_model is not None:
        properties[AI_COST_MODEL] = result.matched_model


def compute_cost(properties: dict[str, Any], *, at: float | None = None) -> CostResult:
    """The cost of one generation or embedding from its ``$ai_*`` properties.

    ``at`` (Unix seconds) picks the price in force then; default now.
    """
    sent = [_money(properties.get(key)) for key in _COST_KEYS]
    if any(value is not None for value in sent):
        input_usd, output_usd, total_usd = sent
        if total_usd is None:
            total_usd = (input_usd or 0.0) + (output_usd or 0.0)
        return CostResult(input_usd, output_usd, total_usd, "event")

    usage = _usage(properties)
    if usage is None:
        if not _failed(properties):
            return CostResult(None, None, None, "unknown")
        # A call that failed before the provider counted anything (a timeout, a
        # 429) used no tokens: it cost nothing, at a price that is known.
        usage = _Tokens(0, 0, 0, 0)

    custom = _custom_price(properties, usage)
    if custom is not None:
        return custom
    return _table_price(properties, usage, at)


def _failed(properties: dict[str, Any]) -> bool:
    flag = properties.get(AI_IS_ERROR)
    return flag is True or (isinstance(flag, str) and flag.strip().lower() == "true")


# --- tokens ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Tokens:
    """Billable tokens, input counted inclusively (uncached = input - read - write)."""

    input: int
    output: int
    cache_read: int
    cache_write: int

    @property
    def uncached(self) -> int:
        return max(self.input - self.cache_read - self.cache_write, 0)


def _usage(properties: dict[str, Any]) -> _Tokens | None:
    input_tokens = _count(properties.get(AI_INPUT_TOKENS))
    output_tokens = _count(properties.get(AI_OUTPUT_TOKENS))
    if input_tokens is None and output_tokens is None:
        return None
    cache_read = _count(properties.get(AI_CACHE_READ_INPUT_TOKENS)) or 0
    cache_write = _count(properties.get(AI_CACHE_CREATION_INPUT_TOKENS)) or 0
    reasoning = _count(properties.get(AI_REASONING_TOKENS)) or 0
    input_total = input_tokens or 0
    output_total = output_tokens or 0

    flag = properties.get(AI_CACHE_REPORTING_EXCLUSIVE)
    if isinstance(flag, bool):
        exclusive = flag
    else:
        exclusive = _is_anthropic(properties) or (
            # Cached tokens cannot be part of a smaller total: the client must
            # have counted them apart.
            cache_read + cache_write > input_total
        )
    if exclusive:
        input_total += cache_read + cache_write
    else:
        # Inclusive, but the counts disagree by a little (Gemini's explicit
        # caching measures them apart): never price a negative uncached part.
        input_total = max(input_total, cache_read + cache_write)
    if reasoning and _is_google(properties):
        output_total += reasoning
    return _Tokens(input_total, output_total, cache_read, cache_write)


def _provider(properties: dict[str, Any]) -> str:
    value = properties.get(AI_PROVIDER)
    return value.strip().lower() if isinstance(value, str) else ""


def _model(properties: dict[str, Any]) -> str:
    value = properties.get(AI_MODEL)
    return value.strip().lower() if isinstance(value, str) else ""


def _is_anthropic(properties: dict[str, Any]) -> bool:
    provider = _provider(properties)
    if provider:
        return "anthropic" in provider
    return "claude" in _model(properties)


def _is_google(properties: dict[str, Any]) -> bool:
    provider = _provider(properties)
    if any(name in provider for name in ("gemini", "google", "vertex")):
        return True
    return not provider and _model(properties).startswith("gemini")


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number) or number < 0:
        return None
    return round(number)


def _money(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


# --- custom prices ------------------------------------------------------------------


def _custom_price(properties: dict[str, Any], tokens: _Tokens) -> CostResult | None:
    input_price = _money(properties.get(AI_INPUT_TOKEN_PRICE))
    output_price = _money(properties.get(AI_OUTPUT_TOKEN_PRICE))
    if input_price is None and output_price is None:
        return None
    # A missing price is only harmless when nothing of its kind was used;
    # otherwise the table prices the whole call.
    if input_price is None and tokens.input:
        return None
    if output_price is None and tokens.output:
        return None
    input_price = input_price or 0.0
    output_price = output_price or 0.0
    anthropic = _is_anthropic(properties)
    read_price = _money(properties.get(AI_CACHE_READ_TOKEN_PRICE))
    if read_price is None:
        read_price = input_price * _ANTHROPIC_CACHE_READ if anthropic else input_price
    write_price = _money(properties.get(AI_CACHE_CREATION_TOKEN_PRICE))
    if write_price is None:
        write_price = input_price * _ANTHROPIC_CACHE_WRITE if anthropic else input_price
    input_usd = (
        tokens.uncached * input_price
        + tokens.cache_read * read_price
        + tokens.cache_write * write_price
    )
    output_usd = tokens.output * output_price
    return CostResult(input_usd, output_usd, input_usd + output_usd, "custom_price")


# --- the price table ------------------------------------------------------------------


@lru_cache(maxsize=1)
def _snapshot() -> DataSnapshot:
    """The price data bundled with genai-prices, never an auto-updated download."""
    from genai_prices.data import providers

    return DataSnapshot(providers=providers, from_auto_update=False)


def _table_price(properties: dict[str, Any], tokens: _Tokens, at: float | None) -> CostResult:
    model = _model(properties)
    if not model:
        return CostResult(None, None, None, "unknown")
    provider = _provider(properties)
    provider = _PROVIDER_ALIASES.get(provider, provider)
    usage = Usage(
        input_tokens=tokens.input,
        output_tokens=tokens.output,
        cache_read_tokens=tokens.cache_read or None,
        cache_write_tokens=tokens.cache_write or None,
    )
    when = datetime.fromtimestamp(at, tz=timezone.utc) if at is not None else None
    context = _price_context(properties)
    for candidate, candidate_provider in _remembered_candidates(model, provider):
        calculation = _calc(usage, candidate, candidate_provider, when, context)
        if calculation is not None:
            _resolved[(model, provider)] = (candidate, candidate_provider)
            return CostResult(
                _usd(calculation.input_price),
                _usd(calculation.output_price),
                _usd(calculation.total_price),
                "price_table",
                matched_model=f"{calculation.provider.id}/{calculation.model.id}",
            )
    _unknown.add((model, provider))
    logger.debug("no price for model %r (provider %r)", model, provider)
    return CostResult(None, None, None, "unknown")


# Which name in the price table a (model, provider) pair matched, and the
# pairs that matched none: the candidate search costs far more than one price
# calculation, and a digest batch sees the same few models over and over.
# Bounded: cleared whenever it grows past a size no real deployment reaches.
_resolved: dict[tuple[str, str], tuple[str, str | None]] = {}
_unknown: set[tuple[str, str]] = set()
_MAX_REMEMBERED = 10_000


def _remembered_candidates(model: str, provider: str) -> list[tuple[str, str | None]]:
    if len(_resolved) + len(_unknown) > _MAX_REMEMBERED:
        _resolved.clear()
        _unknown.clear()
    key = (model, provider)
    if key in _resolved:
        return [_resolved[key]]
    if key in _unknown:
        return []
    return _candidates(model, provider)


def _candidates(model: str, provider: str) -> list[tuple[str, str | None]]:
    """Model names to try, most specific first, each with the provider when known.

    Exact (lower-case); without a ``provider/`` prefix (the prefix then names
    the provider); without a Bedrock vendor prefix and version; then trimming
    ``-suffix`` parts from the right, so that ``gpt-4.1-mini-2025-04-14``
    finds ``gpt-4.1-mini``: the longest known name the given one starts with.
    """
    names: list[tuple[str, str | None]] = [(model, provider or None)]
    hint: str | None
    base = model
    if "/" in base:
        prefix, _, base = base.rpartition("/")
        hint = provider or _PROVIDER_ALIASES.get(prefix.split("/")[-1], prefix.split("/")[-1])
        names.append((base, hint))
    stripped = _BEDROCK_VERSION.sub("", _VENDOR_PREFIX.sub("", base))
    if stripped != base:
        base = stripped
        names.append((base, provider or None))
    parts = base.split("-")
    for end in range(len(parts) - 1, 0, -1):
        shorter = "-".join(parts[:end])
        if len(shorter) < 3:
            break
        names.append((shorter, provider or None))
    result: list[tuple[str, str | None]] = []
    for name, hint in names:
        # With a provider genai-prices does not know, retry by model alone.
        for option in ((name, hint), (name, None)):
            if option not in result:
                result.append(option)
    return result


def _calc(
    usage: Usage,
    model: str,
    provider: str | None,
    when: datetime | None,
    context: dict[str, str] | None,
) -> PriceCalculation | None:
    try:
        return _snapshot().calc(usage, model, provider, None, when, context)
    except (LookupError, ValueError):
        return None


def _price_context(properties: dict[str, Any]) -> dict[str, str] | None:
    tier = properties.get(AI_SERVICE_TIER)
    if isinstance(tier, str) and tier and tier not in ("default", "auto"):
        return {"service_tier": tier}
    return None


def _usd(value: Decimal) -> float:
    return float(value)
