"""Resolving minified frames against uploaded maps, and reading uploaded bundles, on a real
SQLite store with a map esbuild made (``--minify --sourcemap`` of the app below)."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import orjson
import pytest

from heliograph.model import Event, Exception_, Frame
from heliograph.sourcemaps.assemble import assemble_bundle
from heliograph.sourcemaps.release_files import save_release_file
from heliograph.sourcemaps.resolve import SourceMapResolver, url_candidates
from heliograph.store.contract import Store
from heliograph.store.sqlite.store import SQLiteStore

SCRIPT = '(()=>{function t(n){let r=n.split("=");if(r.length<2)throw new Error("bad config line: "+n);return r}function o(n){return t(n)}window.startApp=o;})();\n//# sourceMappingURL=app.min.js.map\n'  # noqa: E501
SOURCE_MAP = '{\n  "version": 3,\n  "sources": ["../app.js"],\n  "sourcesContent": ["function parseConfig(text) {\\n  const parts = text.split(\\"=\\");\\n  if (parts.length < 2) {\\n    throw new Error(\\"bad config line: \\" + text);\\n  }\\n  return parts;\\n}\\n\\nexport function startApp(line) {\\n  return parseConfig(line);\\n}\\nwindow.startApp = startApp;\\n"],\n  "mappings": "MAAA,SAASA,EAAYC,EAAM,CACzB,IAAMC,EAAQD,EAAK,MAAM,GAAG,EAC5B,GAAIC,EAAM,OAAS,EACjB,MAAM,IAAI,MAAM,oBAAsBD,CAAI,EAE5C,OAAOC,CACT,CAEO,SAASC,EAASC,EAAM,CAC7B,OAAOJ,EAAYI,CAAI,CACzB,CACA,OAAO,SAAWD",\n  "names": ["parseConfig", "text", "parts", "startApp", "line"]\n}\n'  # noqa: E501
DEBUG_ID = "8d3f1e2a-5b6c-4d7e-8f90-a1b2c3d4e5f6"
URL = "https://shop.example.com/static/app.min.js"


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def bundle_zip(
    *, debug_id: str | None, release: str | None = None, source_map: str = SOURCE_MAP
) -> bytes:
    headers = {"debug-id": debug_id} if debug_id else {}
    manifest = {
        "files": {
            "files/_/_/app.min.js": {
                "url": "~/static/app.min.js",
                "type": "minified_source",
                "headers": {**headers, "Sourcemap": "app.min.js.map"},
            },
            "files/_/_/app.min.js.map": {
                "url": "~/static/app.min.js.map",
                "type": "source_map",
                "headers": headers,
            },
        },
        "release": release,
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("manifest.json", orjson.dumps(manifest))
        archive.writestr("files/_/_/app.min.js", SCRIPT)
        archive.writestr("files/_/_/app.min.js.map", source_map)
    return out.getvalue()


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = SQLiteStore(tmp_path / "heliograph.sqlite3")
    yield opened  # type: ignore[misc]
    opened.close()


def upload(store: Store, data: bytes, *, release: str | None = None) -> str:
    """What sentry-cli does: chunks, then assemble."""
    org = store.create_organization("acme", "Acme")
    project = store.create_project(org.id, "shop", "Shop")
    store.put_upload_chunks(org.id, {sha1(data): data})
    result = assemble_bundle(
        store, org.id, sha1(data), [sha1(data)], project_ids=[project.id], release=release
    )
    assert result.state == "ok", result
    return sha1(data)


def error(*, release: str | None = None, debug_id: str | None = None) -> Event:
    column = SCRIPT.index("throw") + 1
    frames = [
        Frame(function="o", filename=URL, lineno=1, colno=SCRIPT.index("return t(n)") + 1),
        Frame(function="t", filename=URL, lineno=1, colno=column),
    ]
    images = [{"type": "sourcemap", "code_file": URL, "debug_id": debug_id}] if debug_id else []
    return Event(
        project_id=1,
        event_id="a" * 32,
        timestamp=0.0,
        platform="javascript",
        release=release,
        exceptions=[Exception_("Error", "bad config line: x", frames=frames)],
        debug_images=images,
    )


def test_frames_resolve_by_debug_id_with_function_names_and_context(store: Store) -> None:
    upload(store, bundle_zip(debug_id=DEBUG_ID))
    event = error(debug_id=DEBUG_ID.upper())
    assert SourceMapResolver(store).resolve(event)
    caller, thrower = event.exceptions[0].frames
    assert (thrower.function, thrower.lineno, thrower.colno) == ("parseConfig", 4, 5)
    assert thrower.context_line == '    throw new Error("bad config line: " + text);'
    assert (
        thrower.pre_context[-1] == "  if (parts.length < 2) {" and thrower.post_context[0] == "  }"
    )
    assert thrower.abs_path == "https://shop.example.com/app.js" and thrower.filename == "/app.js"
    assert (caller.function, caller.lineno) == ("startApp", 10)
    assert thrower.minified is not None
    assert thrower.minified["function"] == "t" and thrower.minified["abs_path"] == URL
    assert thrower.minified["resolved_with"] == "debug-id"
    # Resolving again (on display) leaves a resolved frame alone.
    assert not SourceMapResolver(store).resolve(event)
    assert thrower.function == "parseConfig"


def test_frames_resolve_by_release_and_url(store: Store) -> None:
    upload(store, bundle_zip(debug_id=None, release="1.0"))
    event = error(release="1.0")
    assert SourceMapResolver(store).resolve(event)
    thrower = event.exceptions[0].frames[-1]
    assert thrower.function == "parseConfig" and thrower.minified is not None
    assert thrower.minified["resolved_with"] == "release"
    other = error(release="2.0")
    assert not SourceMapResolver(store).resolve(other)
    assert other.exceptions[0].frames[-1].function == "t"


def test_frames_resolve_from_release_files(store: Store) -> None:
    """Files uploaded one at a time (Sentry's older release files) resolve as a bundle's
    do: the script by release, dist and URL, its map by the sourceMappingURL comment."""
    org = store.create_organization("acme", "Acme")
    project = store.create_project(org.id, "shop", "Shop")
    for name, data in (
        ("~/static/app.min.js", SCRIPT),
        ("~/static/app.min.js.map", SOURCE_MAP),
    ):
        save_release_file(
            store, org.id, [project.id], "2.0", name=name, data=data.encode(), dist="web"
        )
    event = error(release="2.0")
    event.tags["dist"] = "web"
    assert SourceMapResolver(store).resolve(event)
    caller, thrower = event.exceptions[0].frames
    assert (thrower.function, thrower.lineno, thrower.colno) == ("parseConfig", 4, 5)
    assert thrower.context_line == '    throw new Error("bad config line: " + text);'
    assert (caller.function, caller.lineno) == ("startApp", 10)
    assert thrower.minified is not None and thrower.minified["resolved_with"] == "release"
    # Another dist, or none, finds nothing.
    assert not SourceMapResolver(store).resolve(error(release="2.0"))


def test_a_miss_is_remembered_by_digest_not_by_pages(store: Store) -> None:
    digest, pages = SourceMapResolver(store), SourceMapResolver(store, miss_ttl=0)
    assert not digest.resolve(error(release="1.0"))
    assert not pages.resolve(error(release="1.0"))
    upload(store, bundle_zip(debug_id=None, release="1.0"))
    assert not digest.resolve(error(release="1.0"))  # within MISS_TTL
    assert pages.resolve(error(release="1.0"))


def test_a_broken_map_leaves_frames_as_they_were(store: Store) -> None:
    upload(store, bundle_zip(debug_id=DEBUG_ID, source_map="{not json"))
    event = error(debug_id=DEBUG_ID)
    SourceMapResolver(store).resolve(event)
    assert event.exceptions[0].frames[-1].function == "t"


def test_assembly_reports_missing_chunks_and_bad_bundles(store: Store) -> None:
    org = store.create_organization("acme", "Acme")
    data = b"not a zip"
    result = assemble_bundle(store, org.id, sha1(data), [sha1(data)], project_ids=[])
    assert (result.state, result.missing) == ("not_found", [sha1(data)])
    store.put_upload_chunks(org.id, {sha1(data): data})
    result = assemble_bundle(store, org.id, sha1(data), [sha1(data)], project_ids=[])
    assert result.state == "error" and "not an artifact bundle" in (result.detail or "")
    wrong = assemble_bundle(store, org.id, "0" * 40, [sha1(data)], project_ids=[])
    assert wrong.state in ("error", "not_found")


def test_url_candidates() -> None:
    assert url_candidates("https://a.example/static/app.js?v=2") == [
        "https://a.example/static/app.js?v=2",
        "~/static/app.js?v=2",
        "~/static/app.js",
        "https://a.example/static/app.js",
    ]
    assert url_candidates("/static/app.js") == ["/static/app.js", "~/static/app.js"]
