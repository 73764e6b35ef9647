"""The vendored browser assets: intact, served where posthog-js looks, public where needed.

``frontend/build.py --check`` (in ``.ci/run``) compares them with
``node_modules``; these tests need no node: they check the committed copies
against their own manifest and the way the server answers for them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from heliograph.app import create_app
from heliograph.config import Settings
from heliograph.runtime import Runtime
from heliograph.web.security import (
    CONTENT_SECURITY_POLICY,
    REPLAY_CONTENT_SECURITY_POLICY,
    SecurityHeadersMiddleware,
    replay_policy,
)
from heliograph.web.templating import STATIC_DIR
from heliograph.web.vendor import POSTHOG_DIR, RECORDERS

VENDOR = STATIC_DIR / "vendor"


def test_the_committed_copies_match_their_manifest() -> None:
    manifest = json.loads((VENDOR / "MANIFEST.json").read_text())
    listed = {name for name in manifest if not name.startswith("_")}
    on_disk = {p.relative_to(VENDOR).as_posix() for p in VENDOR.rglob("*") if p.is_file()}
    assert on_disk == listed | {"MANIFEST.json"}
    for name in listed:
        assert (
            hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == (manifest[name]["sha256"])
        ), f"{name} was edited by hand: run python frontend/build.py"
    assert manifest["rrweb.min.js"]["version"] == "2.2.2"
    assert manifest["posthog/recorder.js"]["version"] == "1.449.2"
    # Every copied asset travels with its licence.
    assert {"posthog/LICENSE", "licenses/rrweb.LICENSE"} <= listed


def test_the_rrweb_bundle_holds_the_recorder_and_the_player() -> None:
    bundle = (VENDOR / "rrweb.min.js").read_text()
    assert 'g["rrweb"] = f()' in bundle  # UMD: window.rrweb in a browser
    assert "Replayer" in bundle and "record" in bundle
    assert "replayer-wrapper" in (VENDOR / "rrweb.css").read_text()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("vendor") / "data")
    runtime = Runtime(settings)
    try:
        yield TestClient(create_app(settings, runtime))
    finally:
        runtime.close()


@pytest.mark.parametrize("name", RECORDERS)
@pytest.mark.parametrize("prefix", ["/static/", "/static/1.449.2/", "/static/1.500.0-beta.1/"])
def test_posthog_recorders_are_served_where_posthog_js_loads_them(
    client: TestClient, name: str, prefix: str
) -> None:
    response = client.get(f"{prefix}{name}.js", params={"v": "1.449.2"})
    assert response.status_code == 200
    assert response.content == (POSTHOG_DIR / f"{name}.js").read_bytes()
    assert response.headers["content-type"].startswith("application/javascript")
    assert response.headers["cache-control"].startswith("public, max-age=")
    # posthog-js loads them with crossorigin="anonymous" from customers' pages.
    assert response.headers["cross-origin-resource-policy"] == "cross-origin"
    assert response.headers["access-control-allow-origin"] == "*"
    again = client.get(f"{prefix}{name}.js", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304 and not again.content


def test_other_static_files_are_untouched(client: TestClient) -> None:
    rrweb = client.get("/static/vendor/rrweb.min.js")
    assert rrweb.status_code == 200  # the snippet loads it on customers' pages
    assert rrweb.headers["cross-origin-resource-policy"] == "cross-origin"
    player = client.get("/static/vendor/rrweb.css")
    assert player.headers["cross-origin-resource-policy"] == "same-origin"
    assert client.get("/static/ui.js").headers["cross-origin-resource-policy"] == "same-origin"
    assert client.get("/static/..%2f..%2fapp.py/recorder.js").status_code == 404
    assert client.get("/static/nope/other.js").status_code == 404


def test_the_replay_page_policy_allows_inline_styles_only() -> None:
    async def replay(request: object) -> Response:
        return replay_policy(HTMLResponse("<div id=replay-player></div>"))

    async def other(request: object) -> Response:
        return HTMLResponse("<p>hi</p>")

    app = Starlette(
        routes=[Route("/replay", replay), Route("/other", other)],
        middleware=[Middleware(SecurityHeadersMiddleware)],
    )
    client = TestClient(app)
    replayed = client.get("/replay").headers
    assert replayed.get_list("content-security-policy") == [REPLAY_CONTENT_SECURITY_POLICY]
    assert replayed["x-frame-options"] == "DENY" and replayed["cache-control"] == "no-store"
    assert client.get("/other").headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    directives = dict(d.strip().split(" ", 1) for d in REPLAY_CONTENT_SECURITY_POLICY.split(";"))
    strict = dict(d.strip().split(" ", 1) for d in CONTENT_SECURITY_POLICY.split(";"))
    assert directives.pop("style-src") == "'self' 'unsafe-inline'"
    strict.pop("style-src")
    assert directives == strict, "nothing but style-src differs"


def test_the_wheel_includes_the_vendored_assets() -> None:
    pyproject = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    assert 'artifacts = ["src/heliograph/web/static/vendor/**"]' in pyproject
