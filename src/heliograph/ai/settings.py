"""The AI settings: ``HELIOGRAPH_AI_*`` environment variables.

Every one is documented in ``docs/ai-fixes.md`` (a test fails otherwise).
Invalid values raise :class:`~heliograph.config.ConfigError` at start rather
than being guessed at.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from heliograph.config import ConfigError

__all__ = ["DEFAULT_BASE_URLS", "DEFAULT_MODELS", "ProviderName", "ProviderSettings"]

ProviderName = Literal["openai", "anthropic"]

# Defaults age: set HELIOGRAPH_AI_MODEL. Local servers always need it.
DEFAULT_MODELS: dict[str, str] = {"openai": "gpt-5.4-mini", "anthropic": "claude-sonnet-4-6"}
DEFAULT_BASE_URLS: dict[str, str] = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
}


@dataclass(frozen=True)
class ProviderSettings:
    """The AI settings (every one documented in ``docs/ai-fixes.md``).

    ``api_key`` is left out of ``repr`` so that logging the settings is safe.
    ``model`` empty means the provider's default (:data:`DEFAULT_MODELS`).
    """

    provider: ProviderName | None = None
    model: str = ""
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    timeout_seconds: float = 60.0
    # An upper bound, not a target. Reasoning models count their thinking in it.
    max_output_tokens: int = 4096
    token_budget: int = 2000
    cache_ttl_seconds: float = 3600.0
    max_retries: int = 0

    @property
    def configured(self) -> bool:
        return self.provider is not None

    @property
    def effective_model(self) -> str:
        if self.model:
            return self.model
        return DEFAULT_MODELS[self.provider] if self.provider else ""

    @property
    def effective_base_url(self) -> str:
        if self.base_url:
            return self.base_url.rstrip("/")
        return DEFAULT_BASE_URLS[self.provider] if self.provider else ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ProviderSettings:
        """Read ``HELIOGRAPH_AI_*``; empty values count as unset."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        provider_value = get("HELIOGRAPH_AI_PROVIDER")
        provider: ProviderName | None = None
        if provider_value is not None:
            lowered = provider_value.lower()
            if lowered == "openai":
                provider = "openai"
            elif lowered == "anthropic":
                provider = "anthropic"
            elif lowered not in ("none", "off"):
                raise ConfigError(
                    f"HELIOGRAPH_AI_PROVIDER={provider_value!r}: expected openai or anthropic "
                    "(openai also covers vLLM, Ollama, llama.cpp and LM Studio)"
                )
        api_key = get("HELIOGRAPH_AI_API_KEY")
        if api_key is None and provider == "openai":
            api_key = get("OPENAI_API_KEY")
        if api_key is None and provider == "anthropic":
            api_key = get("ANTHROPIC_API_KEY")
        defaults = cls()
        return cls(
            provider=provider,
            model=get("HELIOGRAPH_AI_MODEL") or "",
            base_url=get("HELIOGRAPH_AI_BASE_URL"),
            api_key=api_key,
            timeout_seconds=_number(
                "HELIOGRAPH_AI_TIMEOUT", get("HELIOGRAPH_AI_TIMEOUT"), defaults.timeout_seconds
            ),
            max_output_tokens=int(
                _number(
                    "HELIOGRAPH_AI_MAX_TOKENS",
                    get("HELIOGRAPH_AI_MAX_TOKENS"),
                    defaults.max_output_tokens,
                    integer=True,
                )
            ),
            token_budget=int(
                _number(
                    "HELIOGRAPH_AI_TOKEN_BUDGET",
                    get("HELIOGRAPH_AI_TOKEN_BUDGET"),
                    defaults.token_budget,
                    integer=True,
                    minimum=100,
                )
            ),
            cache_ttl_seconds=_number(
                "HELIOGRAPH_AI_CACHE_TTL",
                get("HELIOGRAPH_AI_CACHE_TTL"),
                defaults.cache_ttl_seconds,
                minimum=0,
            ),
            max_retries=int(
                _number(
                    "HELIOGRAPH_AI_MAX_RETRIES",
                    get("HELIOGRAPH_AI_MAX_RETRIES"),
                    defaults.max_retries,
                    integer=True,
                    minimum=0,
                )
            ),
        )


def _number(
    name: str, value: str | None, default: float, *, integer: bool = False, minimum: float = 1
) -> float:
    if value is None:
        return default
    try:
        number = int(value) if integer else float(value)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise ConfigError(f"{name}={value!r}: expected {kind}") from None
    if number < minimum or number != number:  # also rejects NaN
        raise ConfigError(f"{name}={value!r}: must be at least {minimum:g}")
    return number
