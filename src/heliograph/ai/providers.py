"""LLM providers: stream a chat completion, map every failure to ``ai.errors``.

Two implementations cover the field:

* :class:`OpenAIProvider` speaks the OpenAI chat completions protocol through
  the ``openai`` library, with a configurable ``base_url``: OpenAI itself and
  every compatible server (vLLM, Ollama, llama.cpp's ``llama-server``,
  LM Studio, LiteLLM, ...). It asks for usage in the last chunk
  (``stream_options.include_usage``); servers that do not send it get their
  tokens counted locally (:attr:`Usage.estimated`).
* :class:`AnthropicProvider` speaks Anthropic Messages through ``anthropic``.

Both stream :class:`TextDelta` parts, then exactly one :class:`Usage` part.
Errors raised by the libraries (or by the transport underneath, mid-stream)
become :class:`~heliograph.ai.errors.UpstreamError` subclasses, with messages
that never contain the API key. :class:`ProviderSettings` reads the
``HELIOGRAPH_AI_*`` environment; :func:`make_provider` builds the provider.
"""

from __future__ import annotations

import email.utils
import logging
import re
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol

from heliograph.ai.errors import (
    AIError,
    UpstreamAuthError,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from heliograph.ai.settings import (
    DEFAULT_BASE_URLS,
    DEFAULT_MODELS,
    ProviderName,
    ProviderSettings,
)
from heliograph.ai.tokens import count_tokens
from heliograph.config import ConfigError

__all__ = [
    "DEFAULT_MODELS",
    "AnthropicProvider",
    "Completion",
    "Message",
    "OpenAIProvider",
    "Provider",
    "ProviderName",
    "ProviderSettings",
    "StreamPart",
    "TextDelta",
    "Usage",
    "complete",
    "make_provider",
    "map_error",
]

logger = logging.getLogger(__name__)

Message = Mapping[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the answer, in order."""

    text: str


@dataclass(frozen=True, slots=True)
class Usage:
    """The last part of every stream: tokens used and the model that answered.

    ``estimated`` is true when the server sent no usage and the tokens were
    counted locally with ``ai.tokens``.
    """

    input_tokens: int
    output_tokens: int
    model: str
    estimated: bool = False


StreamPart = TextDelta | Usage


class Provider(Protocol):
    """What :class:`~heliograph.ai.fix.FixService` needs from an LLM provider.

    ``stream`` is an async generator: ``TextDelta`` parts, then one ``Usage``.
    It raises :class:`~heliograph.ai.errors.UpstreamError` subclasses only.
    ``timeout`` bounds the connection and every wait for data (the first
    token, and each gap between chunks), not the whole answer.
    """

    name: str
    base_url: str

    def stream(
        self, messages: Sequence[Message], *, model: str, max_tokens: int, timeout: float
    ) -> AsyncIterator[StreamPart]: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    usage: Usage


async def complete(
    provider: Provider,
    messages: Sequence[Message],
    *,
    model: str,
    max_tokens: int,
    timeout: float,
) -> Completion:
    """Collect a whole stream: the text and its usage."""
    parts: list[str] = []
    usage = Usage(0, 0, model, estimated=True)
    async for part in provider.stream(
        messages, model=model, max_tokens=max_tokens, timeout=timeout
    ):
        if isinstance(part, TextDelta):
            parts.append(part.text)
        else:
            usage = part
    return Completion("".join(parts), usage)


def make_provider(settings: ProviderSettings) -> Provider | None:
    """The configured provider, or None when ``HELIOGRAPH_AI_PROVIDER`` is unset.

    Raises ``ConfigError`` when the provider's own service is used without an
    API key (a custom ``base_url``, a local server, may do without).
    """
    if settings.provider is None:
        return None
    if not settings.api_key and not settings.base_url:
        raise ConfigError(
            f"HELIOGRAPH_AI_PROVIDER={settings.provider} needs an API key: set "
            f"HELIOGRAPH_AI_API_KEY (or {settings.provider.upper()}_API_KEY), or "
            "HELIOGRAPH_AI_BASE_URL for a local server"
        )
    cls = OpenAIProvider if settings.provider == "openai" else AnthropicProvider
    return cls(
        api_key=settings.api_key,
        base_url=settings.base_url,
        timeout=settings.timeout_seconds,
        max_retries=settings.max_retries,
    )


# -- error mapping -------------------------------------------------------------------

_KEY_PATTERN = re.compile(r"\b(sk|pk|key)-[A-Za-z0-9_\-*.]{6,}")


def _redact(text: str, secret: str | None) -> str:
    if secret and len(secret) >= 4:
        text = text.replace(secret, "[redacted]")
    return _KEY_PATTERN.sub(r"\1-[redacted]", text)


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date)."""
    if not headers:
        return None
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) / divisor)
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            continue
        return max(0.0, when.timestamp() - time.time())
    return None


def _upstream_message(body: object, fallback: str) -> str:
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(body.get("message"), str):
            return str(body["message"])
        if isinstance(error, str):
            return error
    return fallback


def _transport_errors() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """(timeout errors, other transport errors) of the HTTP libraries under the SDKs."""
    timeouts: list[type[BaseException]] = [TimeoutError]
    transports: list[type[BaseException]] = []
    for module_name in ("httpx", "httpx2"):
        try:
            module = __import__(module_name)
        except ImportError:
            continue
        timeouts.append(module.TimeoutException)
        transports.append(module.TransportError)
    return tuple(timeouts), tuple(transports)


_TIMEOUTS, _TRANSPORTS = _transport_errors()


def map_error(
    exc: BaseException, *, base_url: str, secret: str | None, timeout: float
) -> AIError | None:
    """The ``ai.errors`` equivalent of a library or transport error (None: not ours)."""
    import anthropic
    import openai

    for lib in (openai, anthropic):
        if isinstance(exc, lib.APITimeoutError):
            return UpstreamTimeout(
                f"the LLM provider at {base_url} did not answer within {timeout:g} s"
            )
        if isinstance(exc, lib.APIConnectionError):
            return UpstreamUnreachable(f"cannot reach LLM provider at {base_url}")
        if isinstance(exc, lib.APIStatusError):
            status = exc.status_code
            if status == 401:
                return UpstreamAuthError(upstream_status=status)
            message = _redact(_upstream_message(exc.body, exc.message), secret)[:300]
            if status == 429:
                return UpstreamRateLimited(
                    f"the LLM provider rate-limited the request: {message}",
                    retry_after=_retry_after(exc.response.headers),
                )
            return UpstreamError(
                f"the LLM provider answered HTTP {status}: {message}", upstream_status=status
            )
        if isinstance(exc, lib.APIError):  # e.g. an error event in the middle of a stream
            message = _redact(_upstream_message(exc.body, exc.message), secret)[:300]
            return UpstreamError(f"the LLM provider failed: {message}")
    if isinstance(exc, _TIMEOUTS):
        return UpstreamTimeout(
            f"the LLM provider at {base_url} stopped answering for {timeout:g} s"
        )
    if isinstance(exc, _TRANSPORTS):
        return UpstreamUnreachable(f"lost the connection to LLM provider at {base_url}")
    return None


def _raise_mapped(
    exc: Exception, provider: str, base_url: str, secret: str | None, timeout: float
) -> NoReturn:
    mapped = map_error(exc, base_url=base_url, secret=secret, timeout=timeout)
    if mapped is None:
        raise exc
    logger.debug("LLM provider %s at %s failed: %s", provider, base_url, mapped)
    raise mapped from None


def _estimate_input(messages: Sequence[Message]) -> int:
    # Chat formats add a few tokens per message (role, separators).
    return sum(count_tokens(m.get("content", "")) + 4 for m in messages) + 3


# -- OpenAI and compatible servers -----------------------------------------------------


class OpenAIProvider:
    """OpenAI chat completions, streamed, via ``openai.AsyncOpenAI``.

    OpenAI's own API gets ``max_completion_tokens`` (reasoning models reject
    ``max_tokens``); a custom ``base_url`` gets ``max_tokens``, which every
    compatible server understands.
    """

    name = "openai"

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 0,
    ) -> None:
        from openai import AsyncOpenAI

        self.base_url = (base_url or DEFAULT_BASE_URLS["openai"]).rstrip("/")
        self._official = base_url is None or "api.openai.com" in self.base_url
        self._secret = api_key
        # Local servers need no key, but the client insists on one.
        self._client = AsyncOpenAI(
            api_key=api_key or "no-key",
            base_url=self.base_url,
            timeout=timeout,
            max_retries=max_retries,
        )

    def __repr__(self) -> str:
        return f"OpenAIProvider(base_url={self.base_url!r})"

    async def aclose(self) -> None:
        await self._client.close()

    async def stream(
        self, messages: Sequence[Message], *, model: str, max_tokens: int, timeout: float
    ) -> AsyncIterator[StreamPart]:
        limit = "max_completion_tokens" if self._official else "max_tokens"
        texts: list[str] = []
        usage: Any = None
        actual = model
        try:
            request: dict[str, Any] = {
                "model": model,
                "messages": [dict(m) for m in messages],
                "stream": True,
                "stream_options": {"include_usage": True},
                "timeout": timeout,
                limit: max_tokens,
            }
            stream: Any = await self._client.chat.completions.create(**request)
            async with stream:
                async for chunk in stream:
                    actual = chunk.model or actual
                    if chunk.usage is not None:
                        usage = chunk.usage
                    for choice in chunk.choices:
                        content = choice.delta.content if choice.delta else None
                        if content:
                            texts.append(content)
                            yield TextDelta(content)
        except Exception as exc:
            _raise_mapped(exc, self.name, self.base_url, self._secret, timeout)
        if usage is not None and usage.prompt_tokens is not None:
            yield Usage(int(usage.prompt_tokens), int(usage.completion_tokens or 0), actual)
        else:
            yield Usage(_estimate_input(messages), count_tokens("".join(texts)), actual, True)


# -- Anthropic -----------------------------------------------------------------------


class AnthropicProvider:
    """Anthropic Messages, streamed, via ``anthropic.AsyncAnthropic``.

    System messages are joined into the ``system`` parameter.
    """

    name = "anthropic"

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 0,
    ) -> None:
        from anthropic import AsyncAnthropic

        self.base_url = (base_url or DEFAULT_BASE_URLS["anthropic"]).rstrip("/")
        self._secret = api_key
        self._client = AsyncAnthropic(
            api_key=api_key or "no-key",
            base_url=self.base_url,
            timeout=timeout,
            max_retries=max_retries,
        )

    def __repr__(self) -> str:
        return f"AnthropicProvider(base_url={self.base_url!r})"

    async def aclose(self) -> None:
        await self._client.close()

    async def stream(
        self, messages: Sequence[Message], *, model: str, max_tokens: int, timeout: float
    ) -> AsyncIterator[StreamPart]:
        system = "\n\n".join(m["content"] for m in messages if m.get("role") == "system")
        conversation = [
            {"role": m["role"], "content": m["content"]}
            for m in messages
            if m.get("role") != "system"
        ]
        texts: list[str] = []
        input_tokens: int | None = None
        output_tokens: int | None = None
        actual = model
        try:
            request: dict[str, Any] = {
                "model": model,
                "max_tokens": max_tokens,
                "messages": conversation,
                "stream": True,
                "timeout": timeout,
            }
            if system:
                request["system"] = system
            stream: Any = await self._client.messages.create(**request)
            async with stream:
                async for event in stream:
                    if event.type == "message_start":
                        actual = event.message.model or actual
                        input_tokens = event.message.usage.input_tokens
                    elif event.type == "content_block_delta" and event.delta.type == "text_delta":
                        if event.delta.text:
                            texts.append(event.delta.text)
                            yield TextDelta(event.delta.text)
                    elif event.type == "message_delta":
                        # Compatible servers may leave usage out: read it defensively.
                        usage = getattr(event, "usage", None)
                        output_tokens = getattr(usage, "output_tokens", None) or output_tokens
                        input_tokens = getattr(usage, "input_tokens", None) or input_tokens
        except Exception as exc:
            _raise_mapped(exc, self.name, self.base_url, self._secret, timeout)
        estimated = input_tokens is None or output_tokens is None
        yield Usage(
            input_tokens if input_tokens is not None else _estimate_input(messages),
            output_tokens if output_tokens is not None else count_tokens("".join(texts)),
            actual,
            estimated,
        )
