"""The project's Source maps page (in process): what it lists, paging, and deleting a bundle
as the DELETE API allows it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from heliograph.runtime import Runtime
from heliograph.sourcemaps.release_files import save_release_file
from heliograph.store.base import Project
from heliograph.store.contract import Store
from heliograph.store.sourcemap_records import ArtifactBundle, NewArtifactBundle, SourceFile
from heliograph.store.sourcemap_store import file_key
from heliograph.web.pages import source_maps
from tests.site import csrf, logged_in_site

PAGE = "/default/default/source-maps/"
DEBUG_ID = "0b5b6b0e-1c9a-4c4c-9f5e-6a8e5cbbd0a1"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[TestClient, Runtime]]:
    with logged_in_site(tmp_path / "data") as found:
        yield found


def default_project(store: Store) -> Project:
    project = store.get_project("default", "default")
    assert project is not None
    return project


def save_bundle(store: Store, projects: list[Project], tag: str) -> ArtifactBundle:
    """A bundle as sentry-cli's assembly stores it: a script and its map, with a debug id."""
    checksum = hashlib.sha1(tag.encode()).hexdigest()
    org_id = projects[0].organization_id
    files = []
    for path, url, kind in (
        ("files/_/_/app.min.js", "~/static/app.min.js", "minified_source"),
        ("files/_/_/app.min.js.map", "~/static/app.min.js.map", "source_map"),
    ):
        data = f"{tag} {path}".encode()
        sha1 = hashlib.sha1(data).hexdigest()
        key = file_key(org_id, checksum, sha1)
        store.blobs.put(key, data)
        files.append(SourceFile(path, url, kind, DEBUG_ID, None, key, len(data), sha1))
    return store.save_artifact_bundle(
        NewArtifactBundle(org_id, checksum, f"shop@{tag}", "web", tuple(p.id for p in projects),
                          tuple(files))
    )  # fmt: skip


def test_bundles_are_listed_newest_first_with_their_files(
    site: tuple[TestClient, Runtime],
) -> None:
    client, runtime = site
    assert "No source maps uploaded yet." in client.get(PAGE).text
    project = default_project(runtime.store)
    bundle = save_bundle(runtime.store, [project], "1.0")
    save_release_file(
        runtime.store, project.organization_id, [project.id], "2.0",
        name="~/static/legacy.js", data=b"x" * 2048,
    )  # fmt: skip
    page = client.get(PAGE)
    assert page.status_code == 200
    text = page.text
    assert text.index("~/static/legacy.js") < text.index(bundle.checksum[:12])  # newest first
    assert f'title="{bundle.checksum}"' in text
    assert "<code>shop@1.0</code> / <code>web</code>" in text
    assert "~/static/app.min.js.map" in text and "source map" in text
    assert "release file" in text and "2.0 KiB" in text
    assert text.count("Delete bundle") == 2

    # Linked from the project's settings and its setup page.
    assert PAGE in client.get("/default/default/settings/").text
    assert PAGE in client.get("/default/default/setup/").text


def test_bundles_are_paged(
    site: tuple[TestClient, Runtime], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, runtime = site
    monkeypatch.setattr(source_maps, "PAGE_SIZE", 2)
    project = default_project(runtime.store)
    saved = [save_bundle(runtime.store, [project], f"{n}.0") for n in range(3)]
    first = client.get(PAGE).text
    assert saved[2].checksum[:12] in first and saved[1].checksum[:12] in first
    assert saved[0].checksum[:12] not in first and 'rel="next"' in first
    older = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
    second = client.get(older.replace("&amp;", "&")).text
    assert saved[0].checksum[:12] in second and "← Newest" in second
    assert 'rel="next"' not in second
    assert client.get(PAGE, params={"cursor": "junk"}).status_code == 400


def test_deleting_a_bundle(site: tuple[TestClient, Runtime]) -> None:
    client, runtime = site
    store = runtime.store
    project = default_project(store)
    other = store.get_project("default", "heliograph-internal")
    assert other is not None
    own = save_bundle(store, [project], "own")
    shared = save_bundle(store, [project, other], "shared")
    token = csrf(client, PAGE)
    assert "also in 1 other project" in client.get(PAGE).text

    done = client.post(
        PAGE, data={"action": "delete_bundle", "bundle_id": str(own.id), "csrf_token": token},
        follow_redirects=False,
    )  # fmt: skip
    assert done.status_code == 303 and done.headers["location"] == f"{PAGE}?done=bundle_deleted"
    assert store.get_artifact_bundle_by_id(own.id) is None
    assert "Source map bundle deleted" in client.get(done.headers["location"]).text

    # Shared with another project: only this project's link goes.
    client.post(PAGE, data={"action": "delete_bundle", "bundle_id": str(shared.id),
                            "csrf_token": token})  # fmt: skip
    left = store.get_artifact_bundle_by_id(shared.id)
    assert left is not None and left.project_ids == (other.id,)

    # Refusals: no CSRF token, a bundle this project does not have, a malformed id.
    no_token = client.post(PAGE, data={"action": "delete_bundle", "bundle_id": str(shared.id)})
    assert no_token.status_code == 403
    gone = client.post(PAGE, data={"action": "delete_bundle", "bundle_id": str(shared.id),
                                   "csrf_token": token})  # fmt: skip
    assert gone.status_code == 404
    bad = client.post(PAGE, data={"action": "delete_bundle", "bundle_id": "x", "csrf_token": token})
    assert bad.status_code == 400 and "bundle_id" in bad.text
    unknown = client.post(PAGE, data={"action": "nope", "csrf_token": token})
    assert unknown.status_code == 400


def test_viewers_read_but_may_not_delete(site: tuple[TestClient, Runtime]) -> None:
    client, runtime = site
    store = runtime.store
    project = default_project(store)
    bundle = save_bundle(store, [project], "1.0")
    org = store.get_organization("default")
    assert org is not None
    headers = {}
    for role, may in (("viewer", False), ("member", True)):
        user = store.create_user(f"{role}@example.com")
        store.add_member(user.id, org.id, role)
        headers[role] = {"Authorization": f"Bearer {store.create_api_token(user.id, 't')}"}
        page = client.get(PAGE, headers=headers[role])
        assert page.status_code == 200 and bundle.checksum[:12] in page.text
        assert ("Delete bundle" in page.text) == may
    form = {"action": "delete_bundle", "bundle_id": str(bundle.id)}
    refused = client.post(PAGE, data=form, headers=headers["viewer"])
    assert refused.status_code == 403
    assert store.get_artifact_bundle_by_id(bundle.id) is not None
    outsider = store.create_user("out@example.com")
    token = store.create_api_token(outsider.id, "t")
    assert client.get(PAGE, headers={"Authorization": f"Bearer {token}"}).status_code == 404
