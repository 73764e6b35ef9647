"""A judge backed by the server's configured AI provider (``HELIOGRAPH_AI_*``).

The same provider, base URL and key as AI fixes; nothing reaches the network
unless ``HELIOGRAPH_AI_PROVIDER`` is set (then :func:`provider_judge` returns
None and LLM-as-judge evaluators skip, saying so). Each call opens a client
in a fresh event loop and closes it: the job is a plain thread, calls are
seconds apart, and a client bound to a dead loop would fail the next call.
Every failure comes back as :attr:`JudgeReply.error`, never raised.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence

from heliograph.ai.errors import AIError, UpstreamError
from heliograph.ai.providers import Provider, complete, make_provider
from heliograph.ai.settings import ProviderSettings
from heliograph.evals.engine import Judge, JudgeReply

__all__ = ["provider_judge"]


def provider_judge(settings: ProviderSettings) -> Judge | None:
    """A judge calling the configured provider, or None when none is configured."""
    if not settings.configured:
        return None
    make_provider(settings)  # a missing key fails here, at start, not per call

    def judge(messages: Sequence[Mapping[str, str]], model: str, max_tokens: int) -> JudgeReply:
        chosen = model or settings.effective_model
        started = time.monotonic()

        async def call() -> JudgeReply:
            provider: Provider | None = make_provider(settings)
            assert provider is not None
            try:
                done = await complete(
                    provider,
                    messages,
                    model=chosen,
                    max_tokens=max_tokens,
                    timeout=settings.timeout_seconds,
                )
            finally:
                await provider.aclose()
            return JudgeReply(
                text=done.text,
                model=done.usage.model or chosen,
                provider=provider.name,
                input_tokens=done.usage.input_tokens,
                output_tokens=done.usage.output_tokens,
                latency_s=time.monotonic() - started,
                base_url=provider.base_url,
            )

        try:
            return asyncio.run(call())
        except AIError as exc:
            status = exc.upstream_status if isinstance(exc, UpstreamError) else None
            return JudgeReply(
                text="",
                model=chosen,
                provider=settings.provider or "",
                latency_s=time.monotonic() - started,
                error=str(exc),
                http_status=status or None,
                base_url=settings.effective_base_url,
            )

    return judge
