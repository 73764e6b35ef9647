"""Feature flags in the app: local evaluation from polled definitions, else one bounded request.

With a flags token (a Heliograph API token allowed to read the project:
``init(flags_token=...)`` or ``HELIOGRAPH_FLAGS_TOKEN``), a background thread
polls ``/flags/definitions`` every ``flags_poll_interval`` seconds, sending
the last ETag back (an unchanged answer is a 304), and every flag call is
evaluated in-process, with no request. Without one, or before the first poll
answered, a call asks ``/flags`` and waits at most ``flags_timeout`` seconds;
if the server cannot answer in time, the call returns the caller's default.
A flag call never raises and never blocks longer than that.

The values a scope got ride on its error events (``$feature/<key>``, as
PostHog's SDKs attach them), so an issue shows which flags were on.

Each first answer for a (person, flag, value) is reported as a
``$feature_flag_called`` event, as PostHog's SDKs do, so that the server
knows who saw what; repeats are not (a bounded memory of what was reported).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from heliograph_sdk._config import Settings
from heliograph_sdk._flag_rules import FlagValue, decode_payload, evaluate, payload
from heliograph_sdk._scope import _current, global_scope
from heliograph_sdk._sender import USER_AGENT

logger = logging.getLogger("heliograph_sdk")

# (distinct id, flag, value) triples already reported, at most this many.
_REPORTED_MAX = 50_000

Capture = Callable[[str, dict[str, Any], str], None]


class FlagClient:
    """Flags for one configured SDK: ``value`` and ``payload``, never raising."""

    def __init__(self, settings: Settings, capture: Capture) -> None:
        assert settings.api_key
        self.settings = settings
        self._capture = capture
        self._definitions: dict[str, dict[str, Any]] | None = None
        self._etag: str | None = None
        self._reported: OrderedDict[tuple[str, str, str], None] = OrderedDict()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        self._poller_pid = 0
        if settings.flags_token:
            self._start_polling()

    # -- answers ---------------------------------------------------------------

    def value(
        self, key: str, distinct_id: str, properties: Mapping[str, Any] | None, default: Any
    ) -> Any:
        """The flag's value for ``distinct_id`` (``default`` when it cannot be known)."""
        found = self._evaluate(key, distinct_id, properties)
        if found is None:
            return default
        value, _payload, local = found
        (_current.get() or global_scope).record_flag(key, value)
        self._report(key, distinct_id, value, local)
        return value

    def payload(
        self, key: str, distinct_id: str, properties: Mapping[str, Any] | None, default: Any
    ) -> Any:
        found = self._evaluate(key, distinct_id, properties)
        if found is None or found[1] is None:
            return default
        return found[1]

    def _evaluate(
        self, key: str, distinct_id: str, properties: Mapping[str, Any] | None
    ) -> tuple[FlagValue, Any, bool] | None:
        props = {"distinct_id": distinct_id, **(properties or {})}
        self._ensure_polling()
        definitions = self._definitions
        if definitions is not None:
            definition = definitions.get(key)
            if definition is None:
                return None  # no such flag in the project
            value = evaluate(definition, distinct_id, props, self.settings.environment)
            return value, payload(definition, value), True
        remote = self._ask_server(distinct_id, props)
        if remote is None or key not in remote:
            return None
        value, found_payload = remote[key]
        return value, found_payload, False

    def bootstrap(
        self, distinct_id: str, properties: Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """Every flag's value for a page about to be sent, when known without a request.

        What the browser snippet starts with (``data-flags``): None unless the
        definitions are here, so rendering a page never waits on the server.
        """
        definitions = self._definitions
        if definitions is None:
            return None
        props = {"distinct_id": distinct_id, **(properties or {})}
        values: dict[str, FlagValue] = {}
        payloads: dict[str, Any] = {}
        for key, definition in definitions.items():
            value = evaluate(definition, distinct_id, props, self.settings.environment)
            values[key] = value
            found = payload(definition, value)
            if found is not None:
                payloads[key] = json.dumps(found)
        return {"distinctId": distinct_id, "flags": values, "payloads": payloads}

    def _report(self, key: str, distinct_id: str, value: FlagValue, local: bool) -> None:
        seen = (distinct_id, key, json.dumps(value))
        with self._lock:
            if seen in self._reported:
                return
            self._reported[seen] = None
            if len(self._reported) > _REPORTED_MAX:
                self._reported.popitem(last=False)
        self._capture(
            "$feature_flag_called",
            {
                "$feature_flag": key,
                "$feature_flag_response": value,
                "locally_evaluated": local,
            },
            distinct_id,
        )

    # -- asking the server -----------------------------------------------------

    def _ask_server(
        self, distinct_id: str, properties: dict[str, Any]
    ) -> dict[str, tuple[FlagValue, Any]] | None:
        body = json.dumps(
            {
                "token": self.settings.api_key,
                "distinct_id": distinct_id,
                "person_properties": properties,
                "environment": self.settings.environment,
            },
            default=str,
        ).encode()
        request = urllib.request.Request(
            f"{self.settings.host}/flags/?v=2",
            data=body,
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.settings.flags_timeout) as response:
                answer = json.loads(response.read())
        except (OSError, ValueError) as exc:  # unreachable, slow, refused, not JSON
            logger.debug("heliograph_sdk: flags unavailable: %s", exc)
            return None
        flags = answer.get("flags") if isinstance(answer, dict) else None
        if not isinstance(flags, dict):
            return None
        values: dict[str, tuple[FlagValue, Any]] = {}
        for key, flag in flags.items():
            if not isinstance(flag, dict):
                continue
            value: FlagValue = flag.get("variant") or bool(flag.get("enabled"))
            metadata = flag.get("metadata") or {}
            values[key] = (value, decode_payload(metadata.get("payload")))
        return values

    # -- polling definitions ---------------------------------------------------

    def _start_polling(self) -> None:
        self._poller_pid = os.getpid()
        self._poller = threading.Thread(
            target=self._poll_forever, name="heliograph-flags", daemon=True
        )
        self._poller.start()

    def _ensure_polling(self) -> None:
        """After a fork, the child has no poller thread: start its own."""
        if self.settings.flags_token and self._poller_pid != os.getpid():
            self._start_polling()

    def _poll_forever(self) -> None:
        while not self._stop.is_set():
            self.poll()
            self._stop.wait(self.settings.flags_poll_interval)

    def poll(self) -> bool:
        """Fetch the definitions once (a 304 keeps those held); whether they are current."""
        query = urllib.parse.urlencode({"token": self.settings.api_key})
        headers = {
            "Authorization": f"Bearer {self.settings.flags_token}",
            "User-Agent": USER_AGENT,
        }
        if self._etag:
            headers["If-None-Match"] = self._etag
        request = urllib.request.Request(
            f"{self.settings.host}/flags/definitions?{query}", headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=self.settings.request_timeout) as answer:
                data = json.loads(answer.read())
                etag = answer.headers.get("ETag")
        except urllib.error.HTTPError as exc:
            if exc.code == 304:
                return True
            logger.warning("heliograph_sdk: flag definitions refused (HTTP %s)", exc.code)
            return False
        except (OSError, ValueError) as exc:
            logger.debug("heliograph_sdk: flag definitions unavailable: %s", exc)
            return False
        flags = data.get("flags") if isinstance(data, dict) else None
        if not isinstance(flags, list):
            return False
        self._definitions = {
            str(flag["key"]): flag for flag in flags if isinstance(flag, dict) and "key" in flag
        }
        self._etag = etag
        return True

    def close(self) -> None:
        self._stop.set()
