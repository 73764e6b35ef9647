"""The browser snippet tag and its injection into an HTML document.

The tag loads ``{host}/static/heliograph.js``, which reads its configuration
from its own ``data-*`` attributes. Injection goes just before ``</head>``
(else before ``</body>``) and never twice: a document already containing the
marker attribute is left alone.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from typing import Any

from heliograph_sdk._config import Settings

MARKER = b"data-heliograph-snippet"
_HEAD_CLOSE = re.compile(rb"</head\s*>", re.IGNORECASE)
_BODY_CLOSE = re.compile(rb"</body\s*>", re.IGNORECASE)


def snippet_tag(
    settings: Settings,
    *,
    host: str | None = None,
    user: Mapping[str, Any] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> bytes:
    """The ``<script>`` tag for ``settings`` (``host``: the URL browsers reach).

    ``user`` is the signed-in user as the identify mode lets them travel
    (``{"id", ...}``): the snippet identifies the page as them. ``flags``
    (``{"distinctId", "flags", "payloads"}``) are their flag values, rendered
    into the tag so the page has them before it paints.
    """
    public_host = (host or settings.browser_host or settings.host).rstrip("/")
    attrs = {
        "src": f"{public_host}/static/heliograph.js",
        "data-heliograph-snippet": "1",
        "data-api-key": settings.api_key or "",
        "data-host": public_host,
        "data-environment": settings.environment,
        "data-identify": settings.identify,
    }
    if settings.release:
        attrs["data-release"] = settings.release
    if user and user.get("id") is not None:
        attrs["data-user"] = json.dumps(dict(user), separators=(",", ":"), default=str)
    if flags:
        attrs["data-flags"] = json.dumps(flags, separators=(",", ":"), default=str)
    rendered = " ".join(
        f'{name}="{html.escape(value, quote=True)}"' for name, value in attrs.items()
    )
    return f"<script {rendered} defer></script>".encode()


def inject(body: bytes, tag: bytes) -> bytes | None:
    """``body`` with ``tag`` inserted, or ``None`` when it should stay untouched."""
    if MARKER in body or b"/static/heliograph.js" in body:
        return None
    match = _HEAD_CLOSE.search(body) or _BODY_CLOSE.search(body)
    if match is None:
        return None
    at = match.start()
    return body[:at] + tag + body[at:]
