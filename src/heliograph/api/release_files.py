"""Sentry's release-files endpoints: what older upload flows send source maps through.

``sentry-cli`` 2.58 calls these (seen with ``--log-level=debug``) for
``releases files VERSION upload FILE NAME``, ``list``, ``delete NAME`` and
``delete --all``, and for ``sourcemaps upload`` against a server without
chunked uploads; with a project (``--project`` or ``SENTRY_PROJECT``) under
``/api/0/projects/{org}/{project}/``, without one under
``/api/0/organizations/{org}/``:

* ``GET  .../releases/{version}/files/``: the release's files, newest first,
  paged with a ``Link`` header (``?cursor=``, ``?per_page=``);
* ``POST .../releases/{version}/files/``: multipart ``file`` (the contents),
  ``name`` (the URL, ``~/static/app.min.js``), optional ``dist`` and repeated
  ``header`` fields (``Sourcemap:app.min.js.map``); 201 with the file, 409
  when the release already has a file of that name and dist;
* ``GET|DELETE .../releases/{version}/files/{file_id}/`` (``?download=1``:
  the contents);
* ``DELETE .../files/source-maps/?name={version}``: every release file of it.

Each file is kept as a bundle of one file (:mod:`heliograph.sourcemaps.release_files`),
which the resolver uses like any bundle of that release. Under a project,
the file is that project's; under the organization, uploads go to every
project of it the caller may change, and reads see the projects the caller
sees. Access is checked as for bundles: 404 for what the caller cannot see,
then 403 without the ``write`` scope or a role that may change the project.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Message

from heliograph.api import common
from heliograph.api.errors import ApiError
from heliograph.api.sourcemaps import organization_projects, writable_projects
from heliograph.auth import Principal
from heliograph.bounds import parse_row_id
from heliograph.sourcemaps.bundle import MAX_FILE_BYTES
from heliograph.sourcemaps.release_files import (
    ReleaseFile,
    ReleaseFileError,
    check_version,
    find_release_file,
    iter_release_files,
    list_release_files,
    release_file_json,
    save_release_file,
)

__all__ = ["routes"]

# Multipart overhead allowed beyond the file itself (boundaries, name, dist, headers).
FORM_OVERHEAD = 256 * 1024
MAX_HEADERS = 16
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def _projects(request: Request, caller: Principal, *, write: bool) -> tuple[int, list[int]]:
    """The organization's id and the projects the request reads (``write``: changes):
    the project the path names, or the organization's (those the caller sees, or may
    change). 404 before 403, as everywhere."""
    if "project_slug" in request.path_params:
        project, role = common.find_project(request, caller)
        if write:
            common.check_write(request, caller, role)
        return project.organization_id, [project.id]
    if write:
        organization, projects = writable_projects(request, caller)
    else:
        organization, projects = organization_projects(request, caller, write=False)
    return organization.id, [p.id for p in projects]


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status, headers, media_type="application/json")


def _version(request: Request) -> str:
    try:
        return check_version(str(request.path_params["version"]))
    except ReleaseFileError as exc:
        raise ApiError(exc.status, exc.detail) from None


def _limited(request: Request, limit: int) -> Request:
    """The request, refusing (413) a body past ``limit`` bytes as it arrives: a client
    that sends no Content-Length cannot fill the disk with one "file"."""
    received = 0

    async def receive() -> Message:
        nonlocal received
        message = await request.receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise ApiError(413, f"a file may have {MAX_FILE_BYTES} bytes at most")
        return message

    return Request(request.scope, receive)


async def _upload(request: Request) -> tuple[bytes, str | None, str | None, list[str]]:
    """The multipart upload's contents, name, dist and header fields."""
    limit = MAX_FILE_BYTES + FORM_OVERHEAD
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise ApiError(413, f"a file may have {MAX_FILE_BYTES} bytes at most")
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ApiError(400, "expected multipart/form-data with the file as the part 'file'")
    form = await _limited(request, limit).form(max_files=1, max_fields=MAX_HEADERS + 4)
    try:
        part = form.get("file")
        if not isinstance(part, UploadFile):
            raise ApiError(400, "file is required: the contents as a multipart part 'file'")
        data = await part.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise ApiError(413, f"a file may have {MAX_FILE_BYTES} bytes at most")
        fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        headers = [v for k, v in form.multi_items() if k == "header" and isinstance(v, str)]
        name = fields.get("name") or part.filename
        return data, name, fields.get("dist"), headers
    finally:
        await form.close()


# -- the release's files ---------------------------------------------------------------


async def release_files(request: Request) -> Response:
    caller = common.principal(request)
    if request.method == "POST":
        return await _create(request, caller)
    _, visible = _projects(request, caller, write=False)
    version = _version(request)
    store = common.runtime(request).store
    try:
        found, following = await run_in_threadpool(
            list_release_files,
            store,
            visible,
            version,
            limit=common.page_limit(request),
            cursor=request.query_params.get("cursor"),
        )
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    return _json(
        [release_file_json(f) for f in found],
        headers={"Link": common.link_header(request, following)},
    )


async def _create(request: Request, caller: Principal) -> Response:
    organization_id, writable = _projects(request, caller, write=True)
    version = _version(request)
    data, name, dist, headers = await _upload(request)
    store = common.runtime(request).store
    try:
        saved = await run_in_threadpool(
            lambda: save_release_file(
                store,
                organization_id,
                writable,
                version,
                name=name,
                data=data,
                dist=dist,
                headers=headers,
            )
        )
    except ReleaseFileError as exc:
        raise ApiError(exc.status, exc.detail) from None
    return _json(release_file_json(saved), 201)


# -- one file ------------------------------------------------------------------------


def _found(request: Request, visible: list[int], version: str) -> ReleaseFile:
    file_id = parse_row_id(request.path_params["file_id"])
    store = common.runtime(request).store
    found = None
    if file_id is not None:
        found = find_release_file(store, visible, version, file_id=file_id)
    if found is None:
        raise ApiError(404, "release file not found")
    return found


def _download(request: Request, found: ReleaseFile) -> Response:
    data = common.runtime(request).store.source_file_data(found.file)
    if data is None:
        raise ApiError(404, "the file's contents are gone")
    filename = _UNSAFE_FILENAME.sub("_", (found.file.url or "file").rsplit("/", 1)[-1]) or "file"
    return Response(
        data,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def release_file(request: Request) -> Response:
    caller = common.principal(request)
    _, visible = _projects(request, caller, write=False)
    found = _found(request, visible, _version(request))
    if request.method == "GET":
        if request.query_params.get("download") in ("1", "true"):
            return _download(request, found)
        return _json(release_file_json(found))
    # Taken away from the projects of it the caller may change; 403 if none.
    _, writable = _projects(request, caller, write=True)
    linked = [pid for pid in writable if pid in found.bundle.project_ids]
    if not linked:
        raise ApiError(403, "you have read-only access to this file's projects")
    common.runtime(request).store.unlink_artifact_bundle(found.bundle.id, linked)
    return Response(status_code=204)


def release_archive(request: Request) -> Response:
    """``DELETE .../files/source-maps/?name={version}``: all the release's files (what
    ``sentry-cli releases files VERSION delete --all`` calls)."""
    caller = common.principal(request)
    _, writable = _projects(request, caller, write=True)
    try:
        version = check_version(request.query_params.get("name", ""))
    except ReleaseFileError as exc:
        raise ApiError(400, f"name: {exc.detail}") from None
    store = common.runtime(request).store
    for found in list(iter_release_files(store, writable, version)):
        linked = [pid for pid in writable if pid in found.bundle.project_ids]
        store.unlink_artifact_bundle(found.bundle.id, linked)
    return Response(status_code=204)


ORG = "/api/0/organizations/{organization_slug}"
PROJECT = "/api/0/projects/{organization_slug}/{project_slug}"

routes = [
    route
    for base in (PROJECT, ORG)
    for route in (
        Route(f"{base}/releases/{{version}}/files/", release_files, methods=["GET", "POST"]),
        Route(
            f"{base}/releases/{{version}}/files/{{file_id}}/",
            release_file,
            methods=["GET", "DELETE"],
        ),
        Route(f"{base}/files/source-maps/", release_archive, methods=["DELETE"]),
    )
]
