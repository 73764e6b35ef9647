"""``/{org}/{project}/source-maps/``: the source maps uploaded for a project.

What ``sentry-cli`` uploaded (artifact bundles, and files sent one at a time
to a release, each kept as a bundle of one), newest first, a page at a
time: the bundle's id (the SHA-1 ``sentry-cli`` names it by), release and
dist, how many debug ids it carries, its files, when it came and when it
last resolved an event, its size. Until now only the API listed them.

Everyone who sees the project reads the page; who may delete a bundle is
who may through the API (``DELETE .../artifact-bundles/{id}/``): a role that
may change the project (:func:`heliograph.auth.can_write`). A bundle shared
with other projects is only taken away from this one, as the API does.
Checks in the usual order: may see (404), may change (403), valid form (400).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from heliograph.auth import can_write
from heliograph.sourcemaps.release_files import RELEASE_FILE_PATH
from heliograph.store.base import Project
from heliograph.store.sourcemap_records import ArtifactBundle, SourceFile
from heliograph.web.common import BadRequest, Forbidden, NotFound, PageRequest, page
from heliograph.web.forms import FormError, identifier, notice

PAGE_SIZE = 20
# Files listed per bundle; a bundle may hold 10,000 (the rest are counted).
FILES_SHOWN = 100


def source_maps_url(project: Project) -> str:
    return f"/{project.organization_slug}/{project.slug}/source-maps/"


@dataclass(frozen=True, slots=True)
class BundleRow:
    """One bundle as the page lists it."""

    bundle: ArtifactBundle
    files: tuple[SourceFile, ...]  # the first FILES_SHOWN, by path
    debug_ids: int
    release_file: bool  # sent to a release's files, one file at a time
    other_projects: int  # projects besides this one that have it too

    @property
    def more_files(self) -> int:
        return max(0, self.bundle.files - len(self.files))


def _rows(ctx: PageRequest, project: Project, bundles: list[ArtifactBundle]) -> list[BundleRow]:
    contents = ctx.store.artifact_bundle_files([b.id for b in bundles], per_bundle=FILES_SHOWN)
    rows = []
    for bundle in bundles:
        found = contents.get(bundle.id)
        files = found.files if found else ()
        rows.append(
            BundleRow(
                bundle=bundle,
                files=files,
                debug_ids=found.debug_ids if found else 0,
                release_file=len(files) == 1 and files[0].path == RELEASE_FILE_PATH,
                other_projects=len([p for p in bundle.project_ids if p != project.id]),
            )
        )
    return rows


def _render(
    ctx: PageRequest, project: Project, role: str, *, error: str | None = None, status: int = 200
) -> Response:
    cursor = ctx.params.get("cursor") or None
    try:
        bundles, next_cursor = ctx.store.page_artifact_bundles(
            [project.id], limit=PAGE_SIZE, cursor=cursor
        )
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    context = {
        "project": project,
        "nav_active": "settings",
        "page_title": f"Source maps · {project.name}",
        "rows": _rows(ctx, project, bundles),
        "cursor": cursor,
        "next_cursor": next_cursor,
        "page_url": source_maps_url(project),
        "can_delete": can_write(ctx.principal, role),
        "role": role,
        "notice": notice(ctx.params),
        "error": error,
    }
    return ctx.render("source_maps.html", context, project=project, status_code=status)


@page
def source_maps(ctx: PageRequest) -> Response:
    project, role = ctx.path_project()
    if ctx.request.method == "GET":
        return _render(ctx, project, role)
    if not can_write(ctx.principal, role):
        raise Forbidden("Your role may not change this project's source maps.")
    if ctx.form.get("action") != "delete_bundle":
        raise BadRequest("Unknown action; use delete_bundle.")
    try:
        bundle_id = identifier(ctx.form, "bundle_id")
    except FormError as exc:
        return _render(ctx, project, role, error=str(exc), status=400)
    if not ctx.store.unlink_artifact_bundle(bundle_id, [project.id]):
        raise NotFound()
    return RedirectResponse(f"{source_maps_url(project)}?done=bundle_deleted", status_code=303)


routes = [Route("/{org}/{project}/source-maps/", source_maps, methods=["GET", "POST"])]
