"""Source maps end to end: the real sentry-cli uploads, real Chromium throws, frames resolve.

A tiny app is minified with esbuild (``--minify --sourcemap``); the
unmodified ``sentry-cli`` uploads its map to a live server, either with debug
ids (``sourcemaps inject`` + ``upload``) or by release (``releases new`` +
``sourcemaps upload --release``); a page on another origin loads the
minified script and ``@sentry/browser``, and the app throws. The stored
event's frames name the original functions, lines and source, and keep the
minified frame beside them (``rawStacktrace``).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.conftest import LiveServer
from tests.customer_site import HTML, JAVASCRIPT, customer_site
from tests.js_clients import require, sentry_browser_bundle
from tests.old_sentry import old_sentry

pytestmark = pytest.mark.e2e

APP = """function parseConfig(text) {
  const parts = text.split("=");
  if (parts.length < 2) {
    throw new Error("bad config line: " + text);
  }
  return parts;
}

export function startApp(line) {
  return parseConfig(line);
}
window.startApp = startApp;
"""
PAGE = """<!doctype html><html><head><title>App</title><link rel="icon" href="data:,">
<script src="/sentry.js"></script>
<script>Sentry.init({{dsn: "{dsn}", release: {release}, defaultIntegrations: false}});</script>
<script src="/static/app.min.js"></script></head><body></body></html>"""
THROW = """() => { try { window.startApp("no equals sign"); }
  catch (e) { return Sentry.captureException(e); } }"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--headless=new"],
        )
        yield launched
        launched.close()


def _build(out: Path) -> Path:
    """The app minified with a source map, as a customer's build makes it."""
    esbuild = require("esbuild").parent / ".bin" / "esbuild"
    (out / "src").mkdir(parents=True)
    (out / "src" / "app.js").write_text(APP)
    dist = out / "dist"
    subprocess.run(
        [str(esbuild), "src/app.js", "--bundle", "--minify", "--sourcemap", "--format=iife",
         "--log-level=warning", f"--outfile={dist / 'app.min.js'}"],
        cwd=out, check=True, timeout=60,
    )  # fmt: skip
    return dist


def _sentry_cli(server: LiveServer, *args: str, url: str | None = None) -> str:
    """Run the real sentry-cli against the server (or ``url``, a proxy in front of it)."""
    cli = require("@sentry/cli") / "bin" / "sentry-cli"
    projects = server.api().get("/api/0/projects/").json()
    env = {
        **os.environ,
        "SENTRY_AUTH_TOKEN": server.api_token,
        "SENTRY_URL": url or server.url,
        "SENTRY_ORG": projects[0]["organization"]["slug"],
        "SENTRY_PROJECT": projects[0]["slug"],
        "SENTRY_LOAD_DOTENV": "0",
        "SENTRY_DISABLE_UPDATE_CHECK": "1",
    }
    done = subprocess.run(
        [str(cli), "--log-level=info", *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def _throw(server: LiveServer, browser: Browser, dist: Path, tmp: Path, release: str) -> Any:
    """Load the minified app in Chromium, let it throw; the stored event as the API shows it."""
    page_html = PAGE.format(dsn=server.dsn, release=f'"{release}"' if release else "undefined")
    files: dict[str, tuple[bytes | str, str]] = {
        "/": (page_html, HTML),
        "/sentry.js": (sentry_browser_bundle(tmp).read_bytes(), JAVASCRIPT),
        "/static/app.min.js": ((dist / "app.min.js").read_bytes(), JAVASCRIPT),
    }
    with customer_site(files) as url:
        page = browser.new_page()
        page.goto(url)
        event_id = page.evaluate(THROW)
        page.wait_for_timeout(1000)  # the SDK's send
        page.close()
    server.wait_for_digest()
    projects = server.api().get("/api/0/projects/").json()
    org, project = projects[0]["organization"]["slug"], projects[0]["slug"]
    response = server.api().get(f"/api/0/projects/{org}/{project}/events/{event_id}/")
    assert response.status_code == 200, response.text
    return response.json()


def _check_resolved(event: Any, how: str) -> None:
    [exception] = [e for e in event["entries"] if e["type"] == "exception"]
    [value] = exception["data"]["values"]
    frames = value["stacktrace"]["frames"]
    throwing, caller = frames[-1], frames[-2]
    assert throwing["function"] == "parseConfig", frames
    assert throwing["filename"].endswith("src/app.js") and throwing["lineNo"] == 4
    assert throwing["context"] and [4, '    throw new Error("bad config line: " + text);'] in [
        list(line) for line in throwing["context"]
    ]
    assert throwing["data"]["resolved_with"] == how
    assert caller["function"] == "startApp" and caller["lineNo"] == 10
    # The minified frame is kept, as Sentry's raw_stacktrace.
    raw = value["rawStacktrace"]["frames"][-1]
    assert raw["absPath"].endswith("/static/app.min.js") and raw["colNo"] > 1
    assert raw["function"] != "parseConfig"
    # The title and culprit name the original code too.
    assert "bad config line" in event["title"]


def test_debug_id_upload_resolves_frames_from_chromium(
    live_server: LiveServer, browser: Browser, tmp_path: Path
) -> None:
    dist = _build(tmp_path / "app")
    _sentry_cli(live_server, "sourcemaps", "inject", str(dist))
    assert "debug_id" in (dist / "app.min.js.map").read_text()
    output = _sentry_cli(live_server, "sourcemaps", "upload", str(dist))
    assert "Upload type: artifact bundle" in output
    event = _throw(live_server, browser, dist, tmp_path, release="")
    _check_resolved(event, "debug-id")


def test_release_upload_resolves_frames_by_url(
    live_server: LiveServer, browser: Browser, tmp_path: Path
) -> None:
    dist = _build(tmp_path / "app")
    release = "shop@2.0.0"
    _sentry_cli(live_server, "releases", "new", release)
    _sentry_cli(
        live_server, "sourcemaps", "upload", "--release", release, "--url-prefix", "~/static",
        str(dist),
    )  # fmt: skip
    _sentry_cli(live_server, "releases", "finalize", release)
    event = _throw(live_server, browser, dist, tmp_path, release=release)
    _check_resolved(event, "release")


def test_an_unknown_organization_is_404_not_a_crash(live_server: LiveServer) -> None:
    api = live_server.api()
    response = api.get("/api/0/organizations/nope/chunk-upload/")
    assert response.status_code == 404
    options = api.get(
        f"/api/0/organizations/{api.get('/api/0/projects/').json()[0]['organization']['slug']}"
        "/chunk-upload/"
    ).json()
    assert "artifact_bundles" in options["accept"] and options["hashAlgorithm"] == "sha1"


def test_maps_uploaded_after_the_event_resolve_it_on_display(
    live_server: LiveServer, browser: Browser, tmp_path: Path
) -> None:
    """Digest stored the event minified (no map yet); the API and the issue page resolve
    it once the map is there, and the page shows original and minified side by side."""
    dist = _build(tmp_path / "app")
    release = "late@1.0"
    before = _throw(live_server, browser, dist, tmp_path, release=release)
    [exception] = [e for e in before["entries"] if e["type"] == "exception"]
    assert exception["data"]["values"][0]["rawStacktrace"] is None
    assert exception["data"]["values"][0]["stacktrace"]["frames"][-1]["function"] != "parseConfig"

    _sentry_cli(
        live_server, "sourcemaps", "upload", "--release", release, "--url-prefix", "~/static",
        str(dist),
    )  # fmt: skip
    projects = live_server.api().get("/api/0/projects/").json()
    org, project = projects[0]["organization"]["slug"], projects[0]["slug"]
    after = live_server.api().get(f"/api/0/projects/{org}/{project}/events/{before['id']}/")
    _check_resolved(after.json(), "release")

    with httpx.Client(base_url=live_server.url, timeout=10) as web:
        assert web.get(live_server.login_url).status_code == 303
        page = web.get(f"/issues/{before['groupID']}/", params={"event": before["id"]}).text
    assert "Resolved with a source map (release" in page
    assert "parseConfig" in page and "/static/app.min.js" in page
    assert "throw new Error(&#34;bad config line: &#34; + text);" in page


def _release_files_url(server: LiveServer, release: str) -> str:
    projects = server.api().get("/api/0/projects/").json()
    org, project = projects[0]["organization"]["slug"], projects[0]["slug"]
    return f"/api/0/projects/{org}/{project}/releases/{release}/files/"


def test_release_files_uploaded_over_plain_http_resolve_frames(
    live_server: LiveServer, browser: Browser, tmp_path: Path
) -> None:
    """The older flow, as build plugins and old sentry-cli versions send it: one multipart
    POST per file to the release's files, with a token; no chunks, no bundle."""
    dist = _build(tmp_path / "app")
    release = "legacy@1.0"
    files = _release_files_url(live_server, release)
    with live_server.api() as api:
        for name in ("app.min.js", "app.min.js.map"):
            response = api.post(
                files,
                data={"name": f"~/static/{name}"},
                files={"file": (name, (dist / name).read_bytes())},
            )
            assert response.status_code == 201, response.text
        listed = sorted(f["name"] for f in api.get(files).json())
        assert listed == ["~/static/app.min.js", "~/static/app.min.js.map"]
        again = api.post(files, data={"name": "~/static/app.min.js"}, files={"file": ("x", b"x")})
        assert again.status_code == 409
    event = _throw(live_server, browser, dist, tmp_path, release=release)
    _check_resolved(event, "release")


def test_sentry_cli_release_files_commands(
    live_server: LiveServer, browser: Browser, tmp_path: Path
) -> None:
    """``sentry-cli releases files VERSION upload|list|delete``, the real binary."""
    dist = _build(tmp_path / "app")
    release = "cli-files@1.0"
    for name in ("app.min.js", "app.min.js.map"):
        _sentry_cli(
            live_server, "releases", "files", release, "upload", str(dist / name),
            f"~/static/{name}",
        )  # fmt: skip
    listed = _sentry_cli(live_server, "releases", "files", release, "list")
    assert "~/static/app.min.js.map" in listed and "~/static/app.min.js " in listed
    event = _throw(live_server, browser, dist, tmp_path, release=release)
    _check_resolved(event, "release")

    _sentry_cli(live_server, "releases", "files", release, "delete", "~/static/app.min.js.map")
    files = _release_files_url(live_server, release)
    assert [f["name"] for f in live_server.api().get(files).json()] == ["~/static/app.min.js"]
    _sentry_cli(live_server, "releases", "files", release, "delete", "--all")
    assert live_server.api().get(files).json() == []


def test_sourcemaps_upload_to_a_server_without_chunk_upload(
    live_server: LiveServer, browser: Browser, tmp_path: Path
) -> None:
    """sentry-cli's fallback for a server without chunked uploads: it lists the release's
    files, deletes those it replaces and sends each file to the release's files."""
    dist = _build(tmp_path / "app")
    release = "no-chunks@1.0"
    upload = ("sourcemaps", "upload", "--release", release, "--url-prefix", "~/static", str(dist))
    with old_sentry(live_server.url, accept=None) as proxy:
        output = _sentry_cli(live_server, *upload, url=proxy.url)
        assert "Upload type: single file/legacy upload" in output
        _sentry_cli(live_server, *upload, url=proxy.url)  # again: replaces, no 409
    assert any(method == "DELETE" and "/files/" in path for method, path in proxy.calls)
    names = [f["name"] for f in live_server.api().get(_release_files_url(live_server, release))
             .json()]  # fmt: skip
    assert sorted(names) == ["~/static/app.min.js", "~/static/app.min.js.map"]
    event = _throw(live_server, browser, dist, tmp_path, release=release)
    _check_resolved(event, "release")


def test_release_bundle_of_sentry_cli_before_artifact_bundles(
    live_server: LiveServer, browser: Browser, tmp_path: Path
) -> None:
    """A server offering ``release_files`` only: sentry-cli assembles a release bundle
    (what an older sentry-cli, which knows no artifact bundles, does with this server)."""
    dist = _build(tmp_path / "app")
    release = "release-bundle@1.0"
    with old_sentry(live_server.url, accept=["release_files"]) as proxy:
        output = _sentry_cli(
            live_server, "sourcemaps", "upload", "--release", release, "--url-prefix",
            "~/static", str(dist), url=proxy.url,
        )  # fmt: skip
    assert "Upload type: release bundle" in output
    org = live_server.api().get("/api/0/projects/").json()[0]["organization"]["slug"]
    assert ("POST", f"/api/0/organizations/{org}/releases/{release}/assemble/") in proxy.calls
    event = _throw(live_server, browser, dist, tmp_path, release=release)
    _check_resolved(event, "release")


def test_sentry_cli_info_reads_the_api_root(live_server: LiveServer) -> None:
    """``sentry-cli info`` (what ``sentry-cli login`` also asks) checks the token at /api/0/."""
    from heliograph import __version__

    output = _sentry_cli(live_server, "info")
    assert "admin@heliograph.local" in output, output
    root = live_server.api().get("/api/0/").json()
    assert root["heliograph"] == {"version": __version__}
    assert root["version"] == "0" and "write" in root["auth"]["scopes"]
    anonymous = httpx.get(f"{live_server.url}/api/0/").json()
    assert anonymous == {
        "version": "0",
        "auth": None,
        "user": None,
        "heliograph": {"version": __version__},
    }
