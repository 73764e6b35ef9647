"""Managed prompts in the app: fetched once, cached, refreshed in the background.

``get_prompt("summarise", label="production", fallback="...")`` answers from
memory when it can. Each (name, label or version) is cached for
``prompt_cache_ttl`` seconds (60); once stale it is still served at once
while one background fetch refreshes it, so that the app never waits on the
server for a prompt it already has, and a failed refresh keeps the old
version (retried after :data:`RETRY_SECONDS`). Only a prompt never fetched
waits, at most ``prompt_timeout`` seconds (2): past that, or when the server
refuses or cannot be reached, the caller's ``fallback`` is used, and further
calls use it at once until the next retry. Nothing here raises.

Fetching needs the project key (``api_key``) and a Heliograph API token that
may read the project (``prompts_token``, else ``flags_token``): the project
key alone is public (browser SDKs publish it), and prompts are not. Without a
token, or with the SDK off, no request is made and the fallback is used.
The only host ever asked is the configured one.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from heliograph_sdk._config import Settings
from heliograph_sdk._sender import USER_AGENT

logger = logging.getLogger("heliograph_sdk")

# After a failed fetch, how long the fallback (or the stale version) is used
# before the server is asked again.
RETRY_SECONDS = 10.0
PROMPT_NAME = "$ai_prompt_name"
PROMPT_VERSION = "$ai_prompt_version"
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")

Content = str | list[dict[str, Any]]


@dataclass(frozen=True)
class Prompt:
    """One version of a managed prompt, or the caller's fallback (``version`` None).

    ``compile(**variables)`` fills ``{{variable}}`` placeholders; pass the
    prompt to a generation (``heliograph_prompt=prompt`` on a wrapped client's
    call, ``trace_generation(..., prompt=prompt)``) to link the call to the
    version that produced it.
    """

    name: str
    prompt: Content
    version: int | None = None
    type: str = "text"
    config: dict[str, Any] = field(default_factory=dict)
    labels: tuple[str, ...] = ()

    @property
    def is_fallback(self) -> bool:
        """True when this is the caller's fallback, not a version from the server."""
        return self.version is None

    @property
    def variables(self) -> list[str]:
        texts = [self.prompt] if isinstance(self.prompt, str) else [
            str(m.get("content", "")) for m in self.prompt
        ]  # fmt: skip
        found: dict[str, None] = {}
        for text in texts:
            for match in _VARIABLE.finditer(text):
                found.setdefault(match.group(1), None)
        return list(found)

    def compile(self, **variables: Any) -> Content:
        """The prompt with each ``{{name}}`` given replaced by ``str(value)``; others kept."""

        def fill(text: str) -> str:
            def one(match: re.Match[str]) -> str:
                key = match.group(1)
                return str(variables[key]) if key in variables else match.group(0)

            return _VARIABLE.sub(one, text)

        if isinstance(self.prompt, str):
            return fill(self.prompt)
        return [
            {**m, "content": fill(m["content"])} if isinstance(m.get("content"), str) else dict(m)
            for m in self.prompt
        ]

    def link_properties(self) -> dict[str, Any]:
        """What a generation records to link it to this version (the fallback: name only)."""
        found: dict[str, Any] = {PROMPT_NAME: self.name}
        if self.version is not None:
            found[PROMPT_VERSION] = self.version
        return found


def _from_answer(data: Any) -> Prompt | None:
    if not isinstance(data, dict):
        return None
    name, version, content = data.get("name"), data.get("version"), data.get("prompt")
    if not isinstance(name, str) or not isinstance(version, int):
        return None
    if not isinstance(content, str) and not (
        isinstance(content, list) and all(isinstance(m, dict) for m in content)
    ):
        return None
    config = data.get("config")
    labels = data.get("labels")
    return Prompt(
        name=name,
        prompt=content,
        version=version,
        type="text" if isinstance(content, str) else "chat",
        config=config if isinstance(config, dict) else {},
        labels=tuple(str(label) for label in labels) if isinstance(labels, list) else (),
    )


@dataclass
class _Entry:
    prompt: Prompt | None = None
    fresh_until: float = 0.0  # monotonic; past it, refreshed in the background
    retry_at: float = 0.0  # monotonic; no fetch before, after a failure
    fetching: threading.Event | None = None  # set when the fetch in flight ends


class PromptClient:
    """Prompts for one configured SDK: :meth:`get`, never raising, time bounded."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.token = settings.prompts_token or settings.flags_token
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._lock = threading.Lock()
        self._warned = False

    def get(
        self,
        name: str,
        *,
        label: str | None = None,
        version: int | None = None,
        fallback: Content | None = None,
        cache_ttl: float | None = None,
    ) -> Prompt | None:
        which = f"version:{version}" if version is not None else f"label:{label or 'production'}"
        default = fallback_prompt(name, fallback)
        if not self.token:
            if not self._warned:
                self._warned = True
                logger.warning(
                    "heliograph_sdk: prompts need prompts_token (a Heliograph API token that "
                    "may read the project); using fallbacks"
                )
            return default
        ttl = self.settings.prompt_cache_ttl if cache_ttl is None else cache_ttl
        now = time.monotonic()
        with self._lock:
            entry = self._entries.setdefault((name, which), _Entry())
            if entry.prompt is not None and now < entry.fresh_until:
                return entry.prompt
            done = entry.fetching
            if done is None and now >= entry.retry_at:
                done = entry.fetching = threading.Event()
                threading.Thread(
                    target=self._fetch,
                    args=(entry, name, label, version, ttl, done),
                    name="heliograph-prompt",
                    daemon=True,
                ).start()
            cached = entry.prompt
        if cached is not None:
            return cached  # stale: served while the refresh runs
        if done is not None:
            done.wait(self.settings.prompt_timeout)
        return entry.prompt or default

    def _fetch(
        self,
        entry: _Entry,
        name: str,
        label: str | None,
        version: int | None,
        ttl: float,
        done: threading.Event,
    ) -> None:
        try:
            found = self._ask_server(name, label, version)
            with self._lock:
                now = time.monotonic()
                if found is not None:
                    entry.prompt = found
                    entry.fresh_until = now + ttl
                else:
                    entry.retry_at = now + RETRY_SECONDS
        except Exception:  # never let a refresh thread die loudly
            logger.debug("heliograph_sdk: prompt fetch failed", exc_info=True)
            with self._lock:
                entry.retry_at = time.monotonic() + RETRY_SECONDS
        finally:
            with self._lock:
                entry.fetching = None
            done.set()

    def _ask_server(self, name: str, label: str | None, version: int | None) -> Prompt | None:
        query = (
            {"version": str(version)} if version is not None else {"label": label or "production"}
        )
        url = (
            f"{self.settings.host}/api/public/v2/prompts/{urllib.parse.quote(name, safe='')}"
            f"?{urllib.parse.urlencode(query)}"
        )
        credentials = base64.b64encode(f"{self.settings.api_key}:{self.token}".encode()).decode()
        request = urllib.request.Request(
            url, headers={"Authorization": f"Basic {credentials}", "User-Agent": USER_AGENT}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.settings.prompt_timeout) as answer:
                data = json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            logger.warning("heliograph_sdk: prompt %r refused (HTTP %s)", name, exc.code)
            return None
        except (OSError, ValueError) as exc:  # unreachable, slow, refused, not JSON
            logger.debug("heliograph_sdk: prompt %r unavailable: %s", name, exc)
            return None
        return _from_answer(data)


def fallback_prompt(name: str, content: Content | None) -> Prompt | None:
    """The caller's fallback as a :class:`Prompt` (``version`` None); None without one."""
    if content is None:
        return None
    kind = "text" if isinstance(content, str) else "chat"
    return Prompt(name=name, prompt=content, type=kind)
