"""Builders for Sentry payloads in tests: what an SDK would put on the wire."""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson


def sentry_event(
    message: str = "boom", exc_type: str = "ValueError", **extra: Any
) -> dict[str, Any]:
    event_id = extra.pop("event_id", uuid.uuid4().hex)
    return {
        "event_id": event_id,
        "timestamp": time.time(),
        "platform": "python",
        "level": "error",
        "exception": {
            "values": [
                {
                    "type": exc_type,
                    "value": message,
                    "module": "builtins",
                    "mechanism": {"type": "generic", "handled": True},
                    "stacktrace": {
                        "frames": [
                            {
                                "filename": "app/main.py",
                                "module": "app.main",
                                "function": "handler",
                                "lineno": 12,
                                "context_line": "    do_work()",
                                "in_app": True,
                            },
                            {
                                "filename": "app/work.py",
                                "module": "app.work",
                                "function": "do_work",
                                "lineno": 40,
                                "context_line": f"    raise {exc_type}(msg)",
                                "in_app": True,
                            },
                        ]
                    },
                }
            ]
        },
        **extra,
    }


def envelope(event: dict[str, Any] | None = None, *items: tuple[dict[str, Any], bytes]) -> bytes:
    """Serialise an envelope: headers line, then each item's header line and payload."""
    headers: dict[str, Any] = {"sent_at": "2026-01-01T00:00:00Z"}
    parts: list[bytes] = []
    if event is not None:
        headers["event_id"] = event["event_id"]
        payload = orjson.dumps(event)
        parts += [orjson.dumps({"type": "event", "length": len(payload)}), payload]
    for item_headers, payload in items:
        parts += [orjson.dumps(item_headers), payload]
    return b"\n".join([orjson.dumps(headers), *parts]) + b"\n"


def auth_header(public_key: str) -> dict[str, str]:
    return {
        "X-Sentry-Auth": (
            f"Sentry sentry_version=7, sentry_client=tests/1.0, sentry_key={public_key}"
        ),
        "Content-Type": "application/x-sentry-envelope",
    }
