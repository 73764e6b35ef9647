"""An in-process app on a fresh data directory, with the first-start admin logged in.

For page tests that need no server process: the real app and store, driven by
Starlette's test client with a cookie session (so CSRF applies as in a browser).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from starlette.testclient import TestClient

from heliograph.app import create_app
from heliograph.bootstrap import ensure_defaults
from heliograph.config import Settings
from heliograph.runtime import Runtime


@contextmanager
def logged_in_site(data_dir: Path) -> Iterator[tuple[TestClient, Runtime]]:
    """The app and its runtime; the client holds the admin's (a superuser's) session."""
    settings = Settings(data_dir=data_dir)
    runtime = Runtime(settings)
    try:
        welcome = ensure_defaults(runtime.store, settings.base_url)
        assert welcome.login_url
        client = TestClient(create_app(settings, runtime), base_url="http://testserver")
        response = client.get(welcome.login_url.replace(settings.base_url, ""))
        assert response.status_code == 200, response.text
        yield client, runtime
    finally:
        runtime.close()


def csrf(client: TestClient, path: str = "/account/") -> str:
    """The session's CSRF token, as a page's forms carry it."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert match
    return match.group(1)
