"""Plain ASGI middleware for Starlette/FastAPI: crash reports and the browser snippet.

Errors: every HTTP request runs in its own isolated scope that knows the
request (method, URL, scrubbed headers); an exception escaping the app is
captured (``handled: false``) and re-raised untouched for the server's own
error handling.

Snippet: a ``text/html`` response that is not content-encoded and has no
snippet yet gets the ``<script>`` tag before ``</head>`` (else ``</body>``)
and a corrected ``Content-Length``, whether it comes in one body message or
streamed: chunks are held only until that point has gone by, within
``max_inject_bytes``, and the rest streams through. The tag names the
request's user (per the identify mode) and, when the definitions are here,
their feature flags, so browser events join the server's person at once.
Other types, compressed bodies and HEAD requests pass through byte for byte.
Nothing here delays ``BackgroundTasks``: they run after the last body
message, as before.
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
from heliograph_sdk._snippet import MARKER, inject, snippet_tag

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
    """A ``send`` that holds an HTML response until it knows where the snippet goes.

    The response's start and its first body chunks are held until ``</head>``
    (else ``</body>``) has gone by, at most ``limit`` bytes: then the tag is
    inserted, ``Content-Length`` (when there is one) corrected, and the rest
    streams through untouched. A body that ends, or grows past the limit,
    without either goes out as it came.
    """

    def __init__(
        self,
        send: Send,
        tag: bytes,
        limit: int,
        path: str,
        personal_tag: Callable[[], bytes | None] | None = None,
    ) -> None:
        self._send = send
        self._tag = tag
        self._personal_tag = personal_tag
        self._limit = limit
        self._path = path
        self._held: Message | None = None
        self._chunks: list[bytes] = []
        self._size = 0
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
        if self._held is None or kind != "http.response.body":
            self._done = True
            await self._send(message)
            return
        chunk = bytes(message.get("body", b""))
        self._chunks.append(chunk)
        self._size += len(chunk)
        more = bool(message.get("more_body", False))
        body = b"".join(self._chunks) if len(self._chunks) > 1 else chunk
        if MARKER in body:
            await self._release(self._held, body, more)  # the page has a snippet already
            return
        injected = inject(body, self._tag_now()) if self._size <= self._limit else None
        if injected is not None:
            grown = len(injected) - len(body)
            headers = [
                (k, str(int(v) + grown).encode() if k.lower() == b"content-length" else v)
                for k, v in self._held.get("headers") or ()
            ]
            await self._release({**self._held, "headers": headers}, injected, more)
            return
        if self._size > self._limit:
            warn_once(
                f"snippet-size:{self._path}",
                "heliograph_sdk: %s is over %d bytes before </head>: snippet not injected",
                self._path,
                self._limit,
            )
            await self._release(self._held, body, more)
        elif not more:
            await self._release(self._held, body, more)  # no </head> nor </body>

    async def _release(self, start: Message, body: bytes, more: bool) -> None:
        """Send what was held (one start, one body chunk); stream the rest through."""
        self._held, self._chunks, self._done = None, [], True
        await self._send(start)
        await self._send({"type": "http.response.body", "body": body, "more_body": more})

    def _tag_now(self) -> bytes:
        """The tag for this request's person (their identity and flags), else the plain one."""
        if self._personal_tag is not None:
            try:
                found = self._personal_tag()
            except Exception:
                logger.debug("heliograph_sdk: no personal snippet tag", exc_info=True)
                found = None
            if found is not None:
                return found
        return self._tag


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

    def _personal(self, client: Client) -> Callable[[], bytes | None]:
        """The tag naming the request's user, with their flags when known without a request."""

        def tag() -> bytes | None:
            person = current_scope()
            if not person.distinct_id:
                return None  # an anonymous visitor: the browser keeps its own id
            flags = client.flags.bootstrap(person.distinct_id, person.user_raw or None)
            return snippet_tag(
                client.settings, host=self.snippet_host, user=person.user, flags=flags
            )

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
                send, tag, self.max_inject_bytes, scope.get("path", ""), self._personal(client)
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
