"""What the OpenAI and Anthropic wrappers share: patching and stream proxies.

The wrappers patch ``create`` on the client *instance* (never the class),
so other clients in the process stay untouched and ``wrap_*`` returns the
same object with the same type. A stream is handed back inside a proxy that
sees every chunk and emits the generation once, when the stream ends, fails
or is closed; everything else is delegated to the provider's stream object.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import TracebackType
from typing import Any

logger = logging.getLogger("heliograph_sdk")

WRAPPED = "__heliograph_wrapped__"
# The keyword a wrapped client's call takes to link it to a managed prompt
# (``heliograph_sdk.get_prompt``); taken out before the provider sees the call.
PROMPT_KWARG = "heliograph_prompt"

OnChunk = Callable[[Any], bool]
OnEnd = Callable[["BaseException | None"], None]


def field(obj: Any, name: str, default: Any = None) -> Any:
    """``obj.name`` or ``obj[name]``: provider objects and plain dicts alike."""
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def is_async_resource(resource: Any) -> bool:
    return any(cls.__name__.startswith("Async") for cls in type(resource).__mro__)


def patch(resource: Any, name: str, make: Callable[[Any], Any]) -> None:
    """Replace ``resource.name`` by ``make(original)`` once."""
    original = getattr(resource, name, None)
    if original is None or getattr(original, WRAPPED, False):
        return
    wrapper = make(original)
    setattr(wrapper, WRAPPED, True)
    setattr(resource, name, wrapper)


def safely(callback: Callable[..., Any], *args: Any) -> Any:
    """Run an instrumentation callback; its failure must never reach the app."""
    try:
        return callback(*args)
    except Exception:
        logger.debug("heliograph_sdk: LLM instrumentation failed", exc_info=True)
        return None


class _ProxyBase:
    def __init__(self, stream: Any, on_chunk: OnChunk, on_end: OnEnd) -> None:
        self._stream = stream
        self._on_chunk = on_chunk
        self._on_end = on_end
        self._ended = False

    def _end(self, error: BaseException | None) -> None:
        if not self._ended:
            self._ended = True
            safely(self._on_end, error)

    def _keep(self, chunk: Any) -> bool:
        keep = safely(self._on_chunk, chunk)
        return keep is not False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def __del__(self) -> None:
        if not getattr(self, "_ended", True):
            self._end(None)


class StreamProxy(_ProxyBase):
    """A synchronous provider stream, observed."""

    def __init__(self, stream: Any, on_chunk: OnChunk, on_end: OnEnd) -> None:
        super().__init__(stream, on_chunk, on_end)
        self._iterator = iter(stream)

    def __iter__(self) -> StreamProxy:
        return self

    def __next__(self) -> Any:
        while True:
            try:
                chunk = next(self._iterator)
            except StopIteration:
                self._end(None)
                raise
            except BaseException as exc:
                self._end(exc)
                raise
            if self._keep(chunk):
                return chunk

    def __enter__(self) -> StreamProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._end(None)


class AsyncStreamProxy(_ProxyBase):
    """An asynchronous provider stream, observed."""

    def __init__(self, stream: Any, on_chunk: OnChunk, on_end: OnEnd) -> None:
        super().__init__(stream, on_chunk, on_end)
        self._iterator = stream.__aiter__()

    def __aiter__(self) -> AsyncStreamProxy:
        return self

    async def __anext__(self) -> Any:
        while True:
            try:
                chunk = await self._iterator.__anext__()
            except StopAsyncIteration:
                self._end(None)
                raise
            except BaseException as exc:
                self._end(exc)
                raise
            if self._keep(chunk):
                return chunk

    async def __aenter__(self) -> AsyncStreamProxy:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        try:
            await self._stream.close()
        finally:
            self._end(None)
