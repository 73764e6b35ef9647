"""Plain ASGI middleware for Starlette/FastAPI: crash reports and the browser snippet.

Errors: every HTTP request runs in its own isolated scope that knows the
request (method, URL, scrubbed headers); an exception escaping the app is
captured (``handled: false``) and re-raised untouched for the server's own
error handling.

Snippet: a ``text/html`` response that arrives in one body message, is not
content-encoded, has no snippet yet and is at most ``max_inject_bytes`` gets
the ``<script>`` tag before ``</head>`` and a corrected ``Content-Length``.
Streaming responses (a first body message with ``more_body``), other types,
compressed bodies and HEAD requests pass through byte for byte. Nothing here
delays ``BackgroundTasks``: they run after the last body message, as before.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from heliograph_sdk import _hub
from heliograph_sdk._client import Client
from heliograph_sdk._env import warn_once
from heliograph_sdk._scope import current_scope, isolated_scope
from heliograph_sdk._scrub import FILTERED, is_secret_key, scrub_headers
from heliograph_sdk._snippet import inject, snippet_tag

logger = logging.getLogger("heliograph_sdk")

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]

MAX_INJECT_BYTES = 4 * 1024 * 1024


class RequestInfo:
    """The request as raw ASGI values; rendered to a dict only if an error is sent."""

    __slots__ = ("headers", "method", "path", "query", "scheme", "server")

    def __init__(self, scope: MutableMapping[str, Any]) -> None:
        self.method: str = scope.get("method", "GET")
        self.scheme: str = scope.get("scheme", "http")
        self.server: Any = scope.get("server")
        self.path: str = scope.get("root_path", "") + scope.get("path", "")
        self.query: bytes = scope.get("query_string", b"")
        self.headers: list[tuple[bytes, bytes]] = list(scope.get("headers") or ())

    def to_dict(self) -> dict[str, Any]:
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in self.headers]
        host = next((v for k, v in headers if k.lower() == "host"), None)
        if host is None and self.server:
            host = f"{self.server[0]}:{self.server[1]}"
        url = f"{self.scheme}://{host or 'localhost'}{self.path}"
        query = ""
        if self.query:
            pairs = parse_qsl(self.query.decode("latin-1"), keep_blank_values=True)
            query = urlencode([(k, FILTERED if is_secret_key(k) else v) for k, v in pairs])
            url = f"{url}?{query}"
        return {
            "method": self.method,
            "url": url,
            "query_string": query,
            "headers": scrub_headers(headers),
        }


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


class _SnippetSend:
    """A ``send`` that holds an HTML response's start until its body is known."""

    def __init__(
        self,
        send: Send,
        tag: bytes,
        limit: int,
        path: str,
        with_flags: Callable[[], bytes | None] | None = None,
    ) -> None:
        self._send = send
        self._tag = tag
        self._with_flags = with_flags
        self._limit = limit
        self._path = path
        self._held: Message | None = None
        self._done = False

    async def __call__(self, message: Message) -> None:
        if self._done:
            await self._send(message)
            return
        kind = message["type"]
        if kind == "http.response.start":
            headers = list(message.get("headers") or ())
            content_type = _header(headers, b"content-type") or b""
            if content_type.lower().startswith(b"text/html") and not _header(
                headers, b"content-encoding"
            ):
                self._held = message
                return
            self._done = True
            await self._send(message)
            return
        start, self._held = self._held, None
        self._done = True
        if start is None:
            await self._send(message)
            return
        if kind == "http.response.body" and not message.get("more_body", False):
            start, message = self._rewrite(start, message)
        await self._send(start)
        await self._send(message)

    def _tag_now(self) -> bytes:
        """The tag, with the person's flags when they are known (the request's scope)."""
        if self._with_flags is not None:
            try:
                found = self._with_flags()
            except Exception:
                logger.debug("heliograph_sdk: no flags for the snippet", exc_info=True)
                found = None
            if found is not None:
                return found
        return self._tag

    def _rewrite(self, start: Message, message: Message) -> tuple[Message, Message]:
        body = bytes(message.get("body", b""))
        if len(body) > self._limit:
            warn_once(
                f"snippet-size:{self._path}",
                "heliograph_sdk: %s is %d bytes, over %d: snippet not injected",
                self._path,
                len(body),
                self._limit,
            )
            return start, message
        new_body = inject(body, self._tag_now())
        if new_body is None:
            return start, message
        headers = [
            (k, str(len(new_body)).encode() if k.lower() == b"content-length" else v)
            for k, v in start.get("headers") or ()
        ]
        return {**start, "headers": headers}, {**message, "body": new_body}


class HeliographMiddleware:
    """``app.add_middleware(HeliographMiddleware, snippet=True)`` or ``HeliographMiddleware(app)``.

    Options: ``snippet`` (inject the browser snippet into HTML pages),
    ``snippet_host`` (the Heliograph URL browsers reach, when it differs from
    ``HELIOGRAPH_HOST``), ``capture_errors``, ``max_inject_bytes``.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        snippet: bool = True,
        snippet_host: str | None = None,
        capture_errors: bool = True,
        max_inject_bytes: int = MAX_INJECT_BYTES,
    ) -> None:
        self.app = app
        self.snippet = snippet
        self.snippet_host = snippet_host
        self.capture_errors = capture_errors
        self.max_inject_bytes = max_inject_bytes
        self._tags: dict[int, bytes] = {}

    def _bootstrapped(self, client: Client) -> Callable[[], bytes | None]:
        """The tag with the current person's flags, when they are known without a request."""

        def tag() -> bytes | None:
            person = current_scope()
            if not person.distinct_id:
                return None  # an anonymous visitor: the browser asks for its own id
            flags = client.flags.bootstrap(person.distinct_id, person.user_raw or None)
            if flags is None:
                return None
            return snippet_tag(client.settings, host=self.snippet_host, flags=flags)

        return tag

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        client = _hub.current() if scope["type"] == "http" else None
        if client is None:
            await self.app(scope, receive, send)
            return
        if self.snippet and scope.get("method") != "HEAD":
            tag = self._tags.get(id(client))
            if tag is None:
                tag = snippet_tag(client.settings, host=self.snippet_host)
                self._tags = {id(client): tag}
            send = _SnippetSend(
                send, tag, self.max_inject_bytes, scope.get("path", ""), self._bootstrapped(client)
            )
        with isolated_scope() as request_scope:
            request_scope.request = RequestInfo(scope)
            try:
                await self.app(scope, receive, send)
            except Exception as exc:
                if self.capture_errors:
                    try:
                        client.capture_exception(exc, mechanism="asgi", handled=False)
                    except Exception:
                        logger.debug("heliograph_sdk: ASGI capture failed", exc_info=True)
                raise
