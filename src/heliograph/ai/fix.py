"""Suggest a fix for an event: policy, cache, one upstream call, streaming.

:class:`FixService` is what the HTTP endpoint and the CLI call; it knows
nothing about either. One request goes:

1. no provider → :class:`~heliograph.ai.errors.NotConfigured` (404);
2. the effective policy refuses → :class:`~heliograph.ai.errors.PolicyRefused` (403);
3. a cached fix for (issue, model, :data:`PROMPT_VERSION`, locals sent or not)
   → its whole text as one :class:`Delta`, then ``Done(cached=True)``; the
   model is not called. ``refresh=True`` skips the lookup (and overwrites the
   entry);
4. otherwise the event is described (the policy decides about locals), and the
   provider streams :class:`Delta` parts, then one :class:`Done`; a complete
   answer is cached for ``settings.cache_ttl_seconds``.

Errors before the first part (all of the above, and an upstream failure before
the first token) are raised by the first ``__anext__``, before anything is
yielded, so the endpoint can still answer with a status code:
:meth:`FixService.open` does that first step for it.

Identical requests in flight at the same time (same cache key) share one
upstream call: two clicks, one bill. The upstream call runs in its own task,
so a reader that goes away does not cancel it: the answer is still cached.
Every upstream call, success or failure, is reported to ``on_generation``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from heliograph.ai.cache import fix_cache_key
from heliograph.ai.describe import PROMPT_VERSION, Description, build_messages, describe_event
from heliograph.ai.errors import AIError, NotCached, NotConfigured, PolicyRefused, UpstreamError
from heliograph.ai.policy import check_policy
from heliograph.ai.providers import Provider, ProviderSettings, TextDelta, Usage
from heliograph.model import Event
from heliograph.store.fix_cache import CachedFix, FixCache, MemoryFixCache

__all__ = [
    "CachedFix",
    "Delta",
    "Done",
    "FixCache",
    "FixPart",
    "FixResult",
    "FixService",
    "GenerationRecord",
    "MemoryFixCache",
    "fix_cache_key",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Delta:
    """A piece of the suggestion's markdown, in order."""

    text: str


@dataclass(frozen=True, slots=True)
class Done:
    """The last part: who answered, what it cost, whether it came from the cache."""

    model: str
    input_tokens: int
    output_tokens: int
    cached: bool
    elapsed_seconds: float
    prompt_version: str
    usage_estimated: bool = False


FixPart = Delta | Done


@dataclass(frozen=True, slots=True)
class FixResult:
    """A whole suggestion (for the JSON endpoint and the CLI)."""

    text: str
    done: Done


@dataclass(frozen=True, slots=True)
class GenerationRecord:
    """One upstream call, for self-monitoring (``$ai_generation``)."""

    provider: str
    model: str
    base_url: str
    issue_key: str
    input_tokens: int
    output_tokens: int
    latency_seconds: float
    time_to_first_token: float | None
    is_error: bool
    error: str | None
    http_status: int
    usage_estimated: bool
    prompt_version: str


class _Flight:
    """One upstream call and everyone reading it."""

    def __init__(self) -> None:
        self.chunks: list[str] = []
        self.usage: Usage | None = None
        self.error: BaseException | None = None
        self.finished = False
        self.changed = asyncio.Condition()
        self.task: asyncio.Task[None] | None = None

    async def publish(
        self,
        text: str | None = None,
        *,
        usage: Usage | None = None,
        error: BaseException | None = None,
    ) -> None:
        async with self.changed:
            if text is not None:
                self.chunks.append(text)
            if usage is not None or error is not None:
                self.usage, self.error, self.finished = usage, error, True
            self.changed.notify_all()


class FixService:
    """Policy, cache, coalescing and the provider call, independent of HTTP.

    ``provider`` None means not configured. ``clock`` gives wall-clock seconds
    (elapsed time, latency, cache timestamps); ``on_generation`` is called
    after every upstream call and must not raise (errors are logged).
    """

    def __init__(
        self,
        provider: Provider | None,
        settings: ProviderSettings,
        cache: FixCache,
        *,
        clock: Callable[[], float] = time.time,
        on_generation: Callable[[GenerationRecord], None] | None = None,
    ) -> None:
        self.provider = provider
        self.settings = settings
        self.cache = cache
        self._clock = clock
        self._on_generation = on_generation
        self._flights: dict[str, _Flight] = {}
        self._tasks: set[asyncio.Task[None]] = set()  # strong references while they run

    @property
    def configured(self) -> bool:
        return self.provider is not None

    def describe(
        self,
        event: Event,
        *,
        include_locals: bool = False,
        trace_summary: Mapping[str, Any] | None = None,
    ) -> Description:
        """The description the model gets, within ``settings.token_budget``."""
        return describe_event(
            event,
            budget_tokens=self.settings.token_budget,
            include_locals=include_locals,
            trace_summary=trace_summary,
        )

    async def suggest(
        self,
        event: Event,
        *,
        issue_key: str,
        policy_state: str,
        consent: bool,
        pii_certified: bool,
        refresh: bool = False,
        model: str | None = None,
        trace_summary: Mapping[str, Any] | None = None,
        cached_only: bool = False,
    ) -> AsyncGenerator[FixPart, None]:
        """Stream a suggestion: :class:`Delta` parts, then one :class:`Done`.

        ``cached_only`` answers from the cache or raises :class:`NotCached`,
        never calling the provider: the issue page shows an earlier answer on
        load without spending anything. The policy still applies.
        """
        started = self._clock()
        provider = self.provider
        if provider is None:
            raise NotConfigured()
        decision = check_policy(policy_state, consent=consent, pii_certified=pii_certified)
        if not decision.allowed:
            assert decision.restriction is not None
            raise PolicyRefused(decision.restriction, decision.reason)
        model_name = model or self.settings.effective_model
        key = fix_cache_key(issue_key, model_name, with_locals=decision.send_locals)
        caching = self.settings.cache_ttl_seconds > 0
        if caching and not refresh:
            hit = self._cache_get(key)
            if hit is not None:
                yield Delta(hit.text)
                yield Done(
                    model=hit.model,
                    input_tokens=hit.input_tokens,
                    output_tokens=hit.output_tokens,
                    cached=True,
                    elapsed_seconds=self._clock() - started,
                    prompt_version=PROMPT_VERSION,
                )
                return
        if cached_only:
            raise NotCached()
        flight = self._flights.get(key)
        if flight is None:  # a refresh joins a call in flight: its answer is fresh anyway
            description = self.describe(
                event, include_locals=decision.send_locals, trace_summary=trace_summary
            )
            flight = _Flight()
            self._flights[key] = flight
            flight.task = asyncio.ensure_future(
                self._fly(
                    flight,
                    provider,
                    key=key,
                    issue_key=issue_key,
                    model=model_name,
                    messages=build_messages(description),
                    caching=caching,
                )
            )
            self._tasks.add(flight.task)
            flight.task.add_done_callback(self._tasks.discard)
        async for part in self._follow(flight, started):
            yield part

    async def open(
        self,
        event: Event,
        *,
        issue_key: str,
        policy_state: str,
        consent: bool,
        pii_certified: bool,
        refresh: bool = False,
        model: str | None = None,
        trace_summary: Mapping[str, Any] | None = None,
        cached_only: bool = False,
    ) -> AsyncIterator[FixPart]:
        """:meth:`suggest`, with everything up to the first part already done.

        Raises what ``suggest`` raises before its first part (so the endpoint
        can answer 403/404/429/502/504), then returns the whole stream.
        """
        parts = self.suggest(
            event,
            issue_key=issue_key,
            policy_state=policy_state,
            consent=consent,
            pii_certified=pii_certified,
            refresh=refresh,
            model=model,
            trace_summary=trace_summary,
            cached_only=cached_only,
        )
        try:
            first = await parts.__anext__()
        except BaseException:
            await parts.aclose()
            raise
        return _prepend(first, parts)

    async def complete(
        self,
        event: Event,
        *,
        issue_key: str,
        policy_state: str,
        consent: bool,
        pii_certified: bool,
        refresh: bool = False,
        model: str | None = None,
        trace_summary: Mapping[str, Any] | None = None,
    ) -> FixResult:
        """The whole suggestion at once."""
        texts: list[str] = []
        done: Done | None = None
        async for part in self.suggest(
            event,
            issue_key=issue_key,
            policy_state=policy_state,
            consent=consent,
            pii_certified=pii_certified,
            refresh=refresh,
            model=model,
            trace_summary=trace_summary,
        ):
            if isinstance(part, Delta):
                texts.append(part.text)
            else:
                done = part
        assert done is not None
        return FixResult("".join(texts), done)

    async def aclose(self) -> None:
        """Cancel calls in flight and close the provider's connections."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.provider is not None:
            await self.provider.aclose()

    # -- internals -----------------------------------------------------------------

    async def _follow(self, flight: _Flight, started: float) -> AsyncIterator[FixPart]:
        position = 0
        while True:
            async with flight.changed:
                while position >= len(flight.chunks) and not flight.finished:
                    await flight.changed.wait()
                fresh = flight.chunks[position:]
                position = len(flight.chunks)
                finished = flight.finished
            for text in fresh:
                yield Delta(text)
            if finished:
                break
        if flight.error is not None:
            raise flight.error
        usage = flight.usage
        assert usage is not None
        yield Done(
            model=usage.model,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cached=False,
            elapsed_seconds=self._clock() - started,
            prompt_version=PROMPT_VERSION,
            usage_estimated=usage.estimated,
        )

    async def _fly(
        self,
        flight: _Flight,
        provider: Provider,
        *,
        key: str,
        issue_key: str,
        model: str,
        messages: list[dict[str, str]],
        caching: bool,
    ) -> None:
        """The upstream call; never raises (errors go to the readers)."""
        started = self._clock()
        first_token: float | None = None
        usage: Usage | None = None
        error: BaseException | None = None
        try:
            parts = provider.stream(
                messages,
                model=model,
                max_tokens=self.settings.max_output_tokens,
                timeout=self.settings.timeout_seconds,
            )
            async for part in parts:
                if isinstance(part, TextDelta):
                    if first_token is None:
                        first_token = self._clock() - started
                    await flight.publish(part.text)
                else:
                    usage = part
            if usage is None:
                raise UpstreamError("the LLM provider's answer ended without usage")
        except asyncio.CancelledError:
            error = UpstreamError("the request to the LLM provider was cancelled")
            raise
        except AIError as exc:
            error = exc
        except Exception as exc:  # a bug or an unmapped library error: keep the service up
            logger.exception("AI fix for issue %s failed unexpectedly", issue_key)
            error = UpstreamError(
                f"unexpected error while calling the LLM provider: {type(exc).__name__}"
            )
        finally:
            latency = self._clock() - started
            if error is None and usage is not None and caching:
                self._cache_put(key, "".join(flight.chunks), usage)
            if self._flights.get(key) is flight:
                del self._flights[key]
            self._report(provider, model, issue_key, usage, latency, first_token, error)
            await _publish_final(flight, usage, error)
        if error is not None:
            logger.warning(
                "AI fix for issue %s: %s %s at %s failed: %s",
                issue_key,
                provider.name,
                model,
                provider.base_url,
                error,
            )

    def _cache_get(self, key: str) -> CachedFix | None:
        try:
            return self.cache.get(key)
        except Exception:
            logger.exception("AI fix cache lookup failed; calling the model")
            return None

    def _cache_put(self, key: str, text: str, usage: Usage) -> None:
        fix = CachedFix(text, usage.model, usage.input_tokens, usage.output_tokens, self._clock())
        try:
            self.cache.put(key, fix, self.settings.cache_ttl_seconds)
        except Exception:
            logger.exception("AI fix cache write failed; the suggestion is not cached")

    def _report(
        self,
        provider: Provider,
        model: str,
        issue_key: str,
        usage: Usage | None,
        latency: float,
        first_token: float | None,
        error: BaseException | None,
    ) -> None:
        if self._on_generation is None:
            return
        record = GenerationRecord(
            provider=provider.name,
            model=usage.model if usage else model,
            base_url=provider.base_url,
            issue_key=issue_key,
            input_tokens=usage.input_tokens if usage else 0,
            output_tokens=usage.output_tokens if usage else 0,
            latency_seconds=latency,
            time_to_first_token=first_token,
            is_error=error is not None,
            error=str(error) if error is not None else None,
            http_status=getattr(error, "upstream_status", 0) if error is not None else 200,
            usage_estimated=usage.estimated if usage else False,
            prompt_version=PROMPT_VERSION,
        )
        try:
            self._on_generation(record)
        except Exception:
            logger.exception("on_generation callback failed")


async def _publish_final(flight: _Flight, usage: Usage | None, error: BaseException | None) -> None:
    if error is None and usage is None:
        error = UpstreamError("the request to the LLM provider did not complete")
    try:
        await flight.publish(usage=usage, error=error)
    except asyncio.CancelledError:  # cancelled while waking the readers: mark without the lock
        flight.usage, flight.error, flight.finished = usage, error, True


async def _prepend(
    first: FixPart, rest: AsyncGenerator[FixPart, None]
) -> AsyncGenerator[FixPart, None]:
    try:
        yield first
        async for part in rest:
            yield part
    finally:
        await rest.aclose()
