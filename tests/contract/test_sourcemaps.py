"""Source maps: chunks kept until assembled, bundles stored once per checksum and linked to
projects, files found by debug id or by release + dist + URL, and bundles gone with their
blobs when deleted or past retention."""

from __future__ import annotations

import hashlib

from heliograph.store.base import Organization, Project
from heliograph.store.contract import Store
from heliograph.store.sourcemap_records import NewArtifactBundle, SourceFile
from heliograph.store.sourcemap_store import file_key

DEBUG_ID = "0b5b6b0e-1c9a-4c4c-9f5e-6a8e5cbbd0a1"
DAY = 86400.0


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def bundle(
    store: Store,
    org: Organization,
    projects: list[Project],
    contents: dict[str, tuple[str, str, bytes]],
    *,
    release: str | None = None,
    dist: str | None = None,
    debug_id: str | None = DEBUG_ID,
) -> NewArtifactBundle:
    """A bundle as assembly makes it: every file's blob written first."""
    checksum = sha1(repr(sorted(contents.items())).encode())
    files = []
    for path, (url, file_type, data) in sorted(contents.items()):
        key = file_key(org.id, checksum, sha1(data))
        store.blobs.put(key, data)
        files.append(
            SourceFile(
                path=path,
                url=url,
                file_type=file_type,
                debug_id=debug_id,
                sourcemap="app.min.js.map" if file_type == "minified_source" else None,
                blob_key=key,
                size=len(data),
                checksum=sha1(data),
            )
        )
    return NewArtifactBundle(
        organization_id=org.id,
        checksum=checksum,
        release=release,
        dist=dist,
        project_ids=tuple(p.id for p in projects),
        files=tuple(files),
    )


APP = {
    "files/_/_/app.min.js": ("~/static/app.min.js", "minified_source", b"function t(){}"),
    "files/_/_/app.min.js.map": ("~/static/app.min.js.map", "source_map", b'{"version":3}'),
}


def test_chunks_are_missing_until_uploaded_and_gone_once_dropped(
    store: Store, org: Organization
) -> None:
    one, two = b"first chunk", b"second chunk"
    wanted = [sha1(one), sha1(two)]
    assert store.missing_upload_chunks(org.id, wanted) == wanted
    store.put_upload_chunks(org.id, {sha1(one): one})
    assert store.missing_upload_chunks(org.id, wanted) == [sha1(two)]
    store.put_upload_chunks(org.id, {sha1(one): one, sha1(two): two})  # again: harmless
    assert store.missing_upload_chunks(org.id, wanted) == []
    assert store.upload_chunk(org.id, sha1(two)) == two
    store.drop_upload_chunks(org.id, wanted)
    assert store.missing_upload_chunks(org.id, wanted) == wanted
    assert store.upload_chunk(org.id, sha1(one)) is None


def test_files_are_found_by_debug_id_in_the_projects_of_their_bundle(
    store: Store, org: Organization, project: Project, other_project: Project
) -> None:
    saved = store.save_artifact_bundle(bundle(store, org, [project], APP))
    assert saved.files == 2 and saved.project_ids == (project.id,)
    found = store.find_source_files(project.id, debug_id=DEBUG_ID.upper())
    assert sorted(f.file_type for f in found) == ["minified_source", "source_map"]
    source_map = next(f for f in found if f.file_type == "source_map")
    assert source_map.bundle_id == saved.id and source_map.url == "~/static/app.min.js.map"
    assert store.source_file_data(source_map) == b'{"version":3}'
    assert store.find_source_files(other_project.id, debug_id=DEBUG_ID) == []

    # The same upload again, for another project: one bundle, linked to both.
    again = store.save_artifact_bundle(bundle(store, org, [other_project], APP))
    assert again.id == saved.id and again.files == 2
    assert again.project_ids == tuple(sorted((project.id, other_project.id)))
    assert len(store.find_source_files(other_project.id, debug_id=DEBUG_ID)) == 2
    assert store.get_artifact_bundle(org.id, saved.checksum) == again


def test_files_are_found_by_release_dist_and_url(
    store: Store, org: Organization, project: Project
) -> None:
    store.save_artifact_bundle(bundle(store, org, [project], APP, release="1.0", debug_id=None))
    urls = ["http://example.com/static/app.min.js", "~/static/app.min.js"]
    found = store.find_source_files(project.id, release="1.0", urls=urls)
    assert [f.url for f in found] == ["~/static/app.min.js"]
    assert found[0].sourcemap == "app.min.js.map"
    assert store.find_source_files(project.id, release="2.0", urls=urls) == []
    assert store.find_source_files(project.id, release="1.0", dist="web", urls=urls) == []
    assert store.find_source_files(project.id, release="1.0") == []


def test_newest_bundle_first(store: Store, org: Organization, project: Project) -> None:
    old = store.save_artifact_bundle(bundle(store, org, [project], APP))
    newer = {k: (u, t, d + b" ") for k, (u, t, d) in APP.items()}
    new = store.save_artifact_bundle(bundle(store, org, [project], newer))
    found = store.find_source_files(project.id, debug_id=DEBUG_ID)
    assert [f.bundle_id for f in found] == [new.id, new.id, old.id, old.id]
    assert [b.id for b in store.list_artifact_bundles(project.id)] == [new.id, old.id]


def test_deleting_a_bundle_deletes_its_blobs(
    store: Store, org: Organization, project: Project
) -> None:
    saved = store.save_artifact_bundle(bundle(store, org, [project], APP))
    files = store.find_source_files(project.id, debug_id=DEBUG_ID)
    assert store.delete_artifact_bundle(saved.id)
    assert store.find_source_files(project.id, debug_id=DEBUG_ID) == []
    assert all(store.blobs.get(f.blob_key) is None for f in files)
    assert store.get_artifact_bundle(org.id, saved.checksum) is None
    assert not store.delete_artifact_bundle(saved.id)


def test_bundles_follow_their_projects_retention_counted_from_last_use(
    store: Store, org: Organization, project: Project
) -> None:
    store.update_project(project.id, retention_days=30)
    saved = store.save_artifact_bundle(bundle(store, org, [project], APP))
    later = saved.used_at + 20 * DAY
    assert store.purge_expired(now=later, dry_run=True).sourcemaps == 0
    store.touch_artifact_bundles([saved.id], now=later)  # it resolved an event
    assert store.purge_expired(now=saved.used_at + 40 * DAY).sourcemaps == 0
    report = store.purge_expired(now=later + 31 * DAY)
    assert report.sourcemaps == 1
    assert store.find_source_files(project.id, debug_id=DEBUG_ID) == []


def test_bundles_of_a_project_kept_forever_stay(
    store: Store, org: Organization, project: Project
) -> None:
    store.update_project(project.id, retention_days=0)
    saved = store.save_artifact_bundle(bundle(store, org, [project], APP))
    assert store.purge_expired(now=saved.used_at + 3650 * DAY).sourcemaps == 0


def test_stale_chunks_go_with_retention(store: Store, org: Organization) -> None:
    data = b"never assembled"
    store.put_upload_chunks(org.id, {sha1(data): data})
    store.purge_expired()
    assert store.missing_upload_chunks(org.id, [sha1(data)]) == []
    store.purge_expired(now=2e10)
    assert store.missing_upload_chunks(org.id, [sha1(data)]) == [sha1(data)]
    assert store.upload_chunk(org.id, sha1(data)) is None


def test_bundles_are_paged_newest_first_and_filtered(
    store: Store, org: Organization, project: Project, other_project: Project
) -> None:
    saved = []
    for n in range(3):
        contents = {k: (u, t, d + b" " * n) for k, (u, t, d) in APP.items()}
        saved.append(
            store.save_artifact_bundle(
                bundle(store, org, [project, other_project], contents, release=f"r{n % 2}")
            )
        )
    first, cursor = store.page_artifact_bundles([project.id, other_project.id], limit=2)
    assert [b.id for b in first] == [saved[2].id, saved[1].id] and cursor
    rest, end = store.page_artifact_bundles([project.id], limit=2, cursor=cursor)
    assert [b.id for b in rest] == [saved[0].id] and end is None
    assert store.get_artifact_bundle_by_id(saved[0].id) == saved[0]
    assert store.get_artifact_bundle_by_id(saved[2].id + 100) is None

    of_r0, _ = store.page_artifact_bundles([project.id], release="r0")
    assert [b.id for b in of_r0] == [saved[2].id, saved[0].id]
    holding, _ = store.page_artifact_bundles([project.id], path="files/_/_/app.min.js.map")
    assert len(holding) == 3
    assert store.page_artifact_bundles([project.id], path="nowhere") == ([], None)
    assert store.page_artifact_bundles([], limit=5) == ([], None)
    try:
        store.page_artifact_bundles([project.id], cursor="not a cursor")
    except ValueError:
        pass
    else:
        raise AssertionError("a malformed cursor is a ValueError")


def test_a_bundles_files_by_path_with_their_debug_ids(
    store: Store, org: Organization, project: Project
) -> None:
    saved = store.save_artifact_bundle(bundle(store, org, [project], APP))
    plain = store.save_artifact_bundle(
        bundle(store, org, [project], {"a.js": ("~/a.js", "source", b"1")}, debug_id=None)
    )
    found = store.artifact_bundle_files([saved.id, plain.id])
    assert [f.path for f in found[saved.id].files] == sorted(APP)
    assert found[saved.id].debug_ids == 1 and found[plain.id].debug_ids == 0
    assert found[saved.id].files[0].bundle_id == saved.id
    first = store.artifact_bundle_files([saved.id], per_bundle=1)[saved.id]
    assert [f.path for f in first.files] == ["files/_/_/app.min.js"] and first.debug_ids == 1
    assert store.artifact_bundle_files([]) == {}


def test_unlinking_keeps_a_bundle_for_its_other_projects(
    store: Store, org: Organization, project: Project, other_project: Project
) -> None:
    saved = store.save_artifact_bundle(bundle(store, org, [project, other_project], APP))
    files = store.find_source_files(project.id, debug_id=DEBUG_ID)
    assert store.unlink_artifact_bundle(saved.id, [project.id])
    assert store.find_source_files(project.id, debug_id=DEBUG_ID) == []
    assert len(store.find_source_files(other_project.id, debug_id=DEBUG_ID)) == 2
    assert all(store.blobs.get(f.blob_key) is not None for f in files)
    assert not store.unlink_artifact_bundle(saved.id, [project.id])  # not linked any more
    assert store.unlink_artifact_bundle(saved.id, [other_project.id])
    assert store.get_artifact_bundle_by_id(saved.id) is None
    assert all(store.blobs.get(f.blob_key) is None for f in files)
