"""Sentry's release-files endpoints, in process: upload, list, fetch, delete, and every
refusal a 4xx with its reason (tests/e2e/test_sourcemaps.py has sentry-cli and Chromium)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from heliograph.api import release_files as api_module
from heliograph.app import create_app
from heliograph.bootstrap import ensure_defaults
from heliograph.config import Settings
from heliograph.runtime import Runtime
from heliograph.sourcemaps import release_files

FILES = "/api/0/projects/default/default/releases/1.0/files/"
ORG_FILES = "/api/0/organizations/default/releases/1.0/files/"
SCRIPT = b"function t(){throw new Error('x')}t();\n//# sourceMappingURL=app.min.js.map\n"
MAP = b'{"version":3,"sources":["app.js"],"names":[],"mappings":"AAAA"}'


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, Runtime]]:
    settings = Settings(data_dir=tmp_path / "data")
    runtime = Runtime(settings)
    try:
        welcome = ensure_defaults(runtime.store, settings.base_url)
        client = TestClient(create_app(settings, runtime), base_url="http://testserver")
        client.headers["Authorization"] = f"Bearer {welcome.api_token}"
        yield client, runtime
    finally:
        runtime.close()


def upload(
    client: TestClient,
    name: str | None,
    data: bytes,
    *,
    path: str = FILES,
    dist: str | None = None,
    headers: tuple[str, ...] = (),
) -> Any:
    fields: dict[str, str | list[str]] = {"header": list(headers)}
    if name is not None:
        fields["name"] = name
    if dist is not None:
        fields["dist"] = dist
    return client.post(path, data=fields, files={"file": ("upload", data)})


def test_upload_list_fetch_and_delete(api: tuple[TestClient, Runtime]) -> None:
    client, runtime = api
    script = upload(client, "~/static/app.min.js", SCRIPT, headers=("Sourcemap:app.min.js.map",))
    assert script.status_code == 201, script.text
    body = script.json()
    assert body["name"] == "~/static/app.min.js" and body["dist"] is None
    assert body["headers"] == {"Sourcemap": "app.min.js.map"} and body["size"] == len(SCRIPT)
    assert len(body["sha1"]) == 40 and body["dateCreated"].endswith("Z")
    source_map = upload(client, "~/static/app.min.js.map", MAP).json()

    # Sentry's answer to the same name again; another dist is another file.
    again = upload(client, "~/static/app.min.js", SCRIPT)
    assert again.status_code == 409
    assert "already exists" in again.json()["detail"]
    other_dist = upload(client, "~/static/app.min.js", SCRIPT, dist="web")
    assert other_dist.status_code == 201

    listed = client.get(FILES, params={"per_page": 2})
    assert [f["name"] for f in listed.json()] == ["~/static/app.min.js", "~/static/app.min.js.map"]
    assert [f["dist"] for f in listed.json()] == ["web", None]
    assert 'rel="next"; results="true"' in listed.headers["link"]
    cursor = listed.headers["link"].split('cursor="')[-1].rstrip('"')
    rest = client.get(FILES, params={"per_page": 2, "cursor": cursor}).json()
    assert [f["id"] for f in rest] == [body["id"]]
    assert client.get(FILES, params={"cursor": "junk"}).status_code == 400
    assert client.get("/api/0/projects/default/default/releases/2.0/files/").json() == []

    one = client.get(f"{FILES}{source_map['id']}/")
    assert one.json() == source_map
    download = client.get(f"{FILES}{source_map['id']}/", params={"download": "1"})
    assert download.content == MAP and "app.min.js.map" in download.headers["content-disposition"]
    # An id of another release, or no id at all, is not found.
    assert client.get(f"/api/0/projects/default/default/releases/2.0/files/{body['id']}/")\
        .status_code == 404  # fmt: skip
    assert client.get(f"{FILES}nope/").status_code == 404

    # The resolver finds them as it finds a bundle's files: by release, dist and URL.
    project = runtime.store.get_project("default", "default")
    assert project is not None
    found = runtime.store.find_source_files(project.id, release="1.0", urls=["~/static/app.min.js"])
    assert [(f.file_type, f.sourcemap) for f in found] == [("minified_source", "app.min.js.map")]
    [as_map] = runtime.store.find_source_files(
        project.id, release="1.0", urls=["~/static/app.min.js.map"]
    )
    assert as_map.file_type == "source_map"

    assert client.delete(f"{FILES}{source_map['id']}/").status_code == 204
    assert client.get(f"{FILES}{source_map['id']}/").status_code == 404
    assert client.delete(f"{FILES}{source_map['id']}/").status_code == 404
    assert len(client.get(FILES).json()) == 2
    gone = client.delete(
        "/api/0/projects/default/default/files/source-maps/", params={"name": "1.0"}
    )
    assert gone.status_code == 204 and client.get(FILES).json() == []
    assert runtime.store.list_artifact_bundles(project.id) == []


@pytest.mark.parametrize(
    ("path", "name", "fields", "status", "reason"),
    [
        (FILES, None, {}, 400, "name is required"),
        (FILES, "x" * 2001, {}, 400, "longer than 2000"),
        (FILES, "~/a\nb.js", {}, 400, "control characters"),
        (FILES, "~/a.js", {"dist": "d" * 65}, 400, "dist has at most 64"),
        (FILES, "~/a.js", {"header": "no colon"}, 400, "is not Key:Value"),
        ("/api/0/projects/default/default/releases/latest/files/", "~/a.js", {}, 400, "usable"),
        ("/api/0/projects/default/default/releases/a%09b/files/", "~/a.js", {}, 400, "control"),
        ("/api/0/projects/default/default/releases/LATEST/files/", "~/a.js", {}, 400, "usable"),
        ("/api/0/projects/default/default/releases/%20/files/", "~/a.js", {}, 400, "usable"),
        ("/api/0/projects/default/nope/releases/1.0/files/", "~/a.js", {}, 404, "project"),
    ],
)
def test_bad_uploads_are_refused_with_a_reason(
    api: tuple[TestClient, Runtime],
    path: str,
    name: str | None,
    fields: dict[str, str],
    status: int,
    reason: str,
) -> None:
    client, _ = api
    data = {**fields, **({"name": name} if name is not None else {})}
    response = client.post(path, data=data, files={"file": ("file", b"x")})
    assert response.status_code == status, response.text
    assert reason in response.json()["detail"]


def test_a_missing_file_and_a_body_that_is_not_multipart(api: tuple[TestClient, Runtime]) -> None:
    client, _ = api
    no_file = client.post(FILES, data={"name": "~/a.js"}, files={"other": ("x", b"1")})
    assert no_file.status_code == 400 and "file is required" in no_file.json()["detail"]
    as_json = client.post(FILES, json={"name": "~/a.js"})
    assert as_json.status_code == 400 and "multipart" in as_json.json()["detail"]


def test_files_beyond_the_bundle_limit_are_413(
    api: tuple[TestClient, Runtime], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _ = api
    monkeypatch.setattr(api_module, "MAX_FILE_BYTES", 1000)
    monkeypatch.setattr(api_module, "FORM_OVERHEAD", 1000)
    monkeypatch.setattr(release_files, "MAX_FILE_BYTES", 1000)
    # Declared too large: refused before reading.
    declared = upload(client, "~/big.js", b"x" * 5000)
    assert declared.status_code == 413, declared.text
    # Within the request limit, but the file itself is over the bundle's per-file limit.
    over = upload(client, "~/big.js", b"x" * 1500)
    assert over.status_code == 413
    assert "bytes at most" in over.json()["detail"]

    # Sent without a Content-Length: stopped as it arrives.
    def chunks() -> Iterator[bytes]:
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n'
        for _ in range(10):
            yield b"x" * 1000
        yield b"\r\n--b--\r\n"

    streamed = client.post(
        FILES, content=chunks(), headers={"content-type": "multipart/form-data; boundary=b"}
    )
    assert streamed.status_code == 413, streamed.text
    assert client.get(FILES).json() == []


def test_organization_level_files_go_to_the_projects_the_caller_may_change(
    api: tuple[TestClient, Runtime],
) -> None:
    client, runtime = api
    store = runtime.store
    org = store.get_organization("default")
    assert org is not None
    made = upload(client, "~/static/app.min.js", SCRIPT, path=ORG_FILES)
    assert made.status_code == 201
    file_id = made.json()["id"]
    projects = [p.id for p in store.organization_projects(org.id)]
    bundle = store.get_artifact_bundle_by_id(int(file_id))
    assert bundle is not None and list(bundle.project_ids) == sorted(projects)
    # The same file under a project: the project's view of the organization's upload.
    assert [f["id"] for f in client.get(FILES).json()] == [file_id]
    assert [f["id"] for f in client.get(ORG_FILES).json()] == [file_id]
    assert upload(client, "~/static/app.min.js", SCRIPT).status_code == 409

    # Deleting it under one project leaves it with the others.
    assert client.delete(f"{FILES}{file_id}/").status_code == 204
    assert client.get(FILES).json() == []
    assert [f["id"] for f in client.get(ORG_FILES).json()] == [file_id]
    assert client.delete(f"{ORG_FILES}{file_id}/").status_code == 204
    assert store.get_artifact_bundle_by_id(int(file_id)) is None
    gone = client.delete("/api/0/organizations/default/files/source-maps/")
    assert gone.status_code == 400 and "name" in gone.json()["detail"]


def test_viewers_read_but_may_not_upload_or_delete(api: tuple[TestClient, Runtime]) -> None:
    client, runtime = api
    store = runtime.store
    file_id = upload(client, "~/a.js", SCRIPT).json()["id"]
    org = store.get_organization("default")
    assert org is not None
    viewer = store.create_user("viewer@example.com")
    store.add_member(viewer.id, org.id, "viewer")
    headers = {"Authorization": f"Bearer {store.create_api_token(viewer.id, 't')}"}
    assert [f["id"] for f in client.get(FILES, headers=headers).json()] == [file_id]
    for path in (FILES, ORG_FILES):
        refused = client.post(path, headers=headers, data={"name": "~/b.js"},
                              files={"file": ("f", b"1")})  # fmt: skip
        assert refused.status_code == 403
        assert client.delete(f"{path}{file_id}/", headers=headers).status_code == 403
    assert client.get(f"{FILES}{file_id}/").status_code == 200


def test_deleting_an_artifact_bundle_keeps_it_for_its_other_projects(
    api: tuple[TestClient, Runtime],
) -> None:
    client, runtime = api
    made = upload(client, "~/static/app.min.js", SCRIPT, path=ORG_FILES)  # to both projects
    bundle_id = made.json()["id"]
    bundles = "/api/0/projects/default/default/artifact-bundles/"
    assert [b["id"] for b in client.get(bundles).json()] == [bundle_id]
    assert client.delete(f"{bundles}{bundle_id}/").status_code == 204
    assert client.get(bundles).json() == []
    assert client.delete(f"{bundles}{bundle_id}/").status_code == 404
    left = runtime.store.get_artifact_bundle_by_id(int(bundle_id))
    internal = runtime.store.get_project("default", "heliograph-internal")
    assert left is not None and internal is not None and left.project_ids == (internal.id,)
