"""The endpoints ``sentry-cli`` uploads source maps through, answering as Sentry does.

* ``GET /api/0/organizations/{org}/chunk-upload/``: the upload options (chunk
  size, concurrency, gzip, and ``accept``: ``release_files`` and
  ``artifact_bundles``, with which sentry-cli 2 sends an artifact bundle in
  both flows, with debug ids and with ``--release``);
* ``POST .../chunk-upload/``: chunks as multipart parts named ``file`` (or
  ``file_gzip``), each part's filename its SHA-1, checked;
* ``POST .../artifactbundle/assemble/``: ``{checksum, chunks, projects,
  version?, dist?}`` -> ``{state, missingChunks}`` (:mod:`heliograph.sourcemaps.assemble`);
* ``POST /api/0/projects/{org}/{project}/releases/``, ``GET|PUT
  .../releases/{version}/``: what ``sentry-cli
  releases new`` and ``finalize`` call (under ``/api/0/organizations/{org}/``
  when no project is given). Heliograph knows releases from the
  events that name them and keeps no release rows: these answer with the
  release as asked, so that the upload commands go on;
* ``GET /api/0/projects/{org}/{project}/artifact-bundles/``: the project's
  bundles, newest first; ``DELETE .../artifact-bundles/{bundle_id}/`` takes
  one away from the project (deleted once no project has it).

The older, one-file-at-a-time release-files endpoints are
:mod:`heliograph.api.release_files`.

Uploading needs the ``write`` scope and a role that may change the project
(for chunks: some project of the organization). An unknown organization and
one in which the caller sees no project both answer 404 "project not found",
as the replay endpoints do: ids and slugs reveal nothing.
"""

from __future__ import annotations

import gzip
import hashlib
import time
import zlib
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from heliograph.api import common
from heliograph.api.errors import ApiError
from heliograph.auth import Principal, can_write, project_role
from heliograph.bounds import parse_row_id
from heliograph.query.serialize import iso
from heliograph.sourcemaps.assemble import assemble_bundle, is_sha1
from heliograph.sourcemaps.bundle import MAX_BUNDLE_BYTES
from heliograph.sourcemaps.release_files import ReleaseFileError, check_version
from heliograph.store.base import Organization, Project
from heliograph.store.sourcemap_records import ArtifactBundle

__all__ = ["organization_projects", "routes", "writable_projects"]

CHUNK_SIZE = 8 * 1024 * 1024
CHUNKS_PER_REQUEST = 16
MAX_REQUEST_SIZE = 32 * 1024 * 1024
# Parallel chunk requests sentry-cli may make: modest, the server shares its cores.
CONCURRENCY = 4
# What this server assembles (Sentry's ChunkUploadCapability names).
# sentry-cli 2 uploads in chunks only when "release_files" is offered, then sends
# artifact bundles (debug ids, or release + dist) whenever "artifact_bundles" is.
ACCEPT = ["release_files", "artifact_bundles"]
MAX_VERSION = 200


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status, media_type="application/json")


def organization_projects(
    request: Request, caller: Principal, *, write: bool = True
) -> tuple[Organization, list[Project]]:
    """The organization and the projects of it the caller may upload to (403 if none);
    with ``write=False``, those the caller sees."""
    store = common.runtime(request).store
    organization = store.get_organization(request.path_params["organization_slug"])
    if organization is None:
        raise ApiError(404, "project not found")
    roles = [
        (p, project_role(caller, p, store)) for p in store.organization_projects(organization.id)
    ]
    visible = [(p, role) for p, role in roles if role is not None]
    if not visible:
        raise ApiError(404, "project not found")
    if not write:
        return organization, [p for p, _ in visible]
    writable = [p for p, role in visible if can_write(caller, role)]
    if not writable:
        if "write" not in caller.scopes:
            raise ApiError(403, "this token lacks the write scope")
        raise ApiError(403, "you have read-only access to this organization's projects")
    return organization, writable


def writable_projects(request: Request, caller: Principal) -> tuple[Organization, list[Project]]:
    organization, writable = organization_projects(request, caller)
    if caller.csrf_token is not None:  # a cookie session: the usual CSRF check
        common.check_write(request, caller, "owner")
    return organization, writable


def _named_projects(writable: list[Project], names: Any) -> list[Project]:
    """The projects an assemble request names (slugs or ids), each one writable."""
    if not isinstance(names, list) or not names:
        raise ApiError(400, "projects: name at least one project (its slug)")
    found = []
    for name in names:
        match = next((p for p in writable if name in (p.slug, str(p.id))), None)
        if match is None:
            raise ApiError(404, f"project not found: {str(name)[:100]}")
        found.append(match)
    return found


def _text_field(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_VERSION:
        raise ApiError(400, f"{key} must be a string of up to {MAX_VERSION} characters")
    return value


# -- chunks --------------------------------------------------------------------


async def chunk_upload(request: Request) -> Response:
    caller = common.principal(request)
    if request.method == "POST":
        organization, _ = writable_projects(request, caller)
    else:
        organization, _ = organization_projects(request, caller, write=False)
    if request.method == "GET":
        return _json(
            {
                "url": str(request.url.replace(query="")),
                "chunkSize": CHUNK_SIZE,
                "chunksPerRequest": CHUNKS_PER_REQUEST,
                "maxFileSize": MAX_BUNDLE_BYTES,
                "maxRequestSize": MAX_REQUEST_SIZE,
                "concurrency": CONCURRENCY,
                "hashAlgorithm": "sha1",
                "compression": ["gzip"],
                "accept": ACCEPT,
            }
        )
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_REQUEST_SIZE:
        raise ApiError(413, f"requests are {MAX_REQUEST_SIZE} bytes at most")
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ApiError(400, "expected chunks as multipart/form-data")
    form = await request.form(
        max_files=CHUNKS_PER_REQUEST, max_fields=8, max_part_size=CHUNK_SIZE + 1024
    )
    chunks: dict[str, bytes] = {}
    try:
        for name, part in form.multi_items():
            if not isinstance(part, UploadFile) or name not in ("file", "file_gzip"):
                continue
            raw = await part.read(MAX_REQUEST_SIZE + 1)
            data = _inflate(raw) if name == "file_gzip" else raw
            checksum = (part.filename or "").lower()
            if not is_sha1(checksum) or hashlib.sha1(data).hexdigest() != checksum:
                raise ApiError(400, "each chunk's filename must be the SHA-1 of its contents")
            chunks[checksum] = data
    finally:
        await form.close()
    if chunks:
        store = common.runtime(request).store
        await run_in_threadpool(store.put_upload_chunks, organization.id, chunks)
    return Response(status_code=200)


def _inflate(raw: bytes) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(raw, CHUNK_SIZE + 1)
    except (zlib.error, gzip.BadGzipFile):
        raise ApiError(400, "a file_gzip part is not gzip") from None
    if len(data) > CHUNK_SIZE or inflater.unconsumed_tail:
        raise ApiError(413, f"chunks are {CHUNK_SIZE} bytes at most")
    return data


# -- assembly --------------------------------------------------------------------


async def _assemble_body(request: Request) -> tuple[dict[str, Any], str, list[str]]:
    body = await common.json_body(request)
    if not isinstance(body, dict):
        raise ApiError(400, "expected a JSON object with checksum and chunks")
    checksum, chunks = body.get("checksum"), body.get("chunks")
    if not is_sha1(checksum) or not isinstance(chunks, list) or not all(map(is_sha1, chunks)):
        raise ApiError(400, "checksum and chunks must be SHA-1 hex digests")
    return body, str(checksum), [str(c) for c in chunks]


async def artifact_bundle_assemble(request: Request) -> Response:
    caller = common.principal(request)
    organization, writable = writable_projects(request, caller)
    body, checksum, chunks = await _assemble_body(request)
    projects = _named_projects(writable, body.get("projects"))
    result = await run_in_threadpool(
        assemble_bundle,
        common.runtime(request).store,
        organization.id,
        checksum,
        chunks,
        project_ids=[p.id for p in projects],
        release=_text_field(body, "version"),
        dist=_text_field(body, "dist"),
    )
    return _json(result.json())


async def release_assemble(request: Request) -> Response:
    """``POST /api/0/organizations/{org}/releases/{version}/assemble/``: what sentry-cli
    sends when a server offers ``release_files`` but not ``artifact_bundles`` (so an
    older sentry-cli, which knows no artifact bundles): the same zip, no projects named.
    A release is the organization's, as in Sentry: the bundle goes to every project of
    it the caller may change."""
    caller = common.principal(request)
    organization, writable = writable_projects(request, caller)
    version = _version(request)
    body, checksum, chunks = await _assemble_body(request)
    result = await run_in_threadpool(
        assemble_bundle,
        common.runtime(request).store,
        organization.id,
        checksum,
        chunks,
        project_ids=[p.id for p in writable],
        release=version,
        dist=_text_field(body, "dist"),
    )
    return _json(result.json())


# -- releases ----------------------------------------------------------------------


def _checked_version(version: str) -> str:
    try:
        return check_version(version)
    except ReleaseFileError as exc:
        raise ApiError(exc.status, exc.detail) from None


def _version(request: Request) -> str:
    return _checked_version(str(request.path_params["version"]))


def _release_json(version: str, projects: list[Project], released: bool) -> dict[str, Any]:
    now = iso(time.time())
    return {
        "version": version,
        "shortVersion": version,
        "ref": None,
        "url": None,
        "dateCreated": now,
        "dateReleased": now if released else None,
        "lastEvent": None,
        "newGroups": 0,
        "projects": [{"id": p.id, "slug": p.slug, "name": p.name} for p in projects],
    }


def _release_projects(request: Request, caller: Principal, *, write: bool) -> list[Project]:
    """The project the path names, or (``/organizations/{org}/releases/``, what
    sentry-cli calls without a project) the organization's: those the caller may
    change (``write``), else those they see."""
    if "project_slug" not in request.path_params:
        return (
            writable_projects(request, caller)[1]
            if write
            else organization_projects(request, caller, write=False)[1]
        )
    project, role = common.find_project(request, caller)
    if write:
        common.check_write(request, caller, role)
    return [project]


async def create_release(request: Request) -> Response:
    caller = common.principal(request)
    projects = _release_projects(request, caller, write=True)
    body = await common.json_body(request)
    if not isinstance(body, dict):
        raise ApiError(400, 'expected a JSON object such as {"version": "1.0"}')
    version = _text_field(body, "version")
    if version is None:
        raise ApiError(400, "version is required")
    named = body.get("projects")
    if "project_slug" not in request.path_params and isinstance(named, list) and named:
        projects = [p for p in projects if p.slug in named or str(p.id) in named]
    released = bool(body.get("dateReleased"))
    return _json(_release_json(_checked_version(version), projects, released), 201)


async def release_detail(request: Request) -> Response:
    caller = common.principal(request)
    writing = request.method == "PUT"
    projects = _release_projects(request, caller, write=writing)
    released = False
    if writing:
        body = await common.json_body(request)
        released = isinstance(body, dict) and bool(body.get("dateReleased"))
    return _json(_release_json(_version(request), projects, released))


# -- bundles of a project ---------------------------------------------------------


def _bundle_json(bundle: ArtifactBundle) -> dict[str, Any]:
    return {
        "id": str(bundle.id),
        "bundleId": bundle.checksum,
        "release": bundle.release,
        "dist": bundle.dist,
        "fileCount": bundle.files,
        "size": bundle.bytes,
        "date": iso(bundle.created_at),
        "dateLastUsed": iso(bundle.used_at),
    }


def project_bundles(request: Request) -> Response:
    caller = common.principal(request)
    project, _role = common.find_project(request, caller)
    bundles = common.runtime(request).store.list_artifact_bundles(project.id)
    return _json([_bundle_json(b) for b in bundles])


def project_bundle(request: Request) -> Response:
    """Delete a bundle from the project: one uploaded for other projects too stays theirs
    (the caller may not be allowed to change those)."""
    caller = common.principal(request)
    project, role = common.find_project(request, caller)
    common.check_write(request, caller, role)
    store = common.runtime(request).store
    bundle_id = parse_row_id(request.path_params["bundle_id"])
    if bundle_id is None or not store.unlink_artifact_bundle(bundle_id, [project.id]):
        raise ApiError(404, "artifact bundle not found")
    return Response(status_code=204)


ORG = "/api/0/organizations/{organization_slug}"
PROJECT = "/api/0/projects/{organization_slug}/{project_slug}"

routes = [
    Route(f"{ORG}/chunk-upload/", chunk_upload, methods=["GET", "POST"]),
    Route(f"{ORG}/artifactbundle/assemble/", artifact_bundle_assemble, methods=["POST"]),
    Route(f"{ORG}/releases/{{version}}/assemble/", release_assemble, methods=["POST"]),
    *[
        route
        for base in (PROJECT, ORG)
        for route in (
            Route(f"{base}/releases/", create_release, methods=["POST"]),
            Route(f"{base}/releases/{{version}}/", release_detail, methods=["GET", "PUT"]),
        )
    ],
    Route(f"{PROJECT}/artifact-bundles/", project_bundles, methods=["GET"]),
    Route(f"{PROJECT}/artifact-bundles/{{bundle_id}}/", project_bundle, methods=["DELETE"]),
]
