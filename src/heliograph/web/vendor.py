"""posthog-js's lazily loaded recorder scripts, served where posthog-js looks for them.

When a project records sessions, posthog-js loads its recorder from
``{api_host}/static/<name>.js?v=<its version>``, or, with
``strict_script_versioning``, from ``{api_host}/static/<version>/<name>.js``.
A page pointing posthog-js at Heliograph must find them here, not on
PostHog's CDN. The files are the ones ``frontend/build.py`` vendored from the
posthog-js pinned in ``frontend/package-lock.json``
(``static/vendor/posthog/``); whatever version a page asks for gets that one.

These routes sit before the ``/static`` mount in ``app.py``. The answers are
cacheable (an ETag of the content, revalidated after a day: the URL names the
*client's* version, not ours, so an upgrade of the vendored copy must not be
hidden behind an immutable cache).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from functools import cache

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from heliograph.web.templating import STATIC_DIR

RECORDERS = ("lazy-recorder", "posthog-recorder", "recorder")
POSTHOG_DIR = STATIC_DIR / "vendor" / "posthog"
CACHE_CONTROL = "public, max-age=86400"
# A version segment as posthog-js writes it (1.449.2, 1.450.0-beta.1): never a path.
_VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+-]{0,63}")


@cache
def _script(name: str) -> tuple[bytes, str]:
    body = (POSTHOG_DIR / f"{name}.js").read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _answer(request: Request, name: str) -> Response:
    body, etag = _script(name)
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/javascript", headers=headers)


def _endpoint(name: str) -> Callable[[Request], Awaitable[Response]]:
    async def recorder(request: Request) -> Response:
        version = request.path_params.get("version")
        if version is not None and not _VERSION.fullmatch(version):
            return PlainTextResponse("Not Found", status_code=404)
        return _answer(request, name)

    return recorder


def recorder_path(path: str) -> bool:
    """Whether ``path`` is one of these scripts (the security headers make them public)."""
    parts = path.split("/")
    if len(parts) == 3:  # "", "static", "<name>.js"
        name = parts[2]
    elif len(parts) == 4 and _VERSION.fullmatch(parts[2]):
        name = parts[3]
    else:
        return False
    return parts[1] == "static" and name.endswith(".js") and name[:-3] in RECORDERS


def routes() -> list[BaseRoute]:
    found: list[BaseRoute] = []
    for name in RECORDERS:
        found.append(Route(f"/static/{name}.js", _endpoint(name), methods=["GET", "HEAD"]))
        found.append(
            Route(f"/static/{{version}}/{name}.js", _endpoint(name), methods=["GET", "HEAD"])
        )
    return found
