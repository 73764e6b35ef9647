"""``/{org}/{project}/setup/``: how to send this project its first event.

The project's DSN and a snippet per client, filled in; and "waiting for the
first event…", which ``static/setup.js`` turns green by polling
``setup/status.json`` (the UI's CSP allows no inline script). Any role in
the project may look.
"""

from __future__ import annotations

import orjson
from starlette.responses import Response
from starlette.routing import Route

from heliograph.query.setup import build_setup_page
from heliograph.store.base import Project
from heliograph.web.common import PageRequest, page, runtime_of
from heliograph.web.pages.source_maps import source_maps_url


def _project(ctx: PageRequest) -> Project:
    return ctx.path_project()[0]


@page
def project_setup(ctx: PageRequest) -> Response:
    project = _project(ctx)
    base_url = runtime_of(ctx.request).settings.base_url
    view = build_setup_page(project, ctx.store.project_keys(project.id), base_url)
    context = {
        "view": view,
        "received": ctx.store.last_event_at(project.id) is not None,
        "status_url": f"/{project.organization_slug}/{project.slug}/setup/status.json",
        "issues_url": f"/{project.organization_slug}/{project.slug}/issues/",
        "source_maps_url": source_maps_url(project),
        "server_url": base_url,
        "nav_active": "setup",
        "page_title": f"Set up · {project.name}",
    }
    return ctx.render("setup.html", context, project=project)


@page
def setup_status(ctx: PageRequest) -> Response:
    """Whether the project has received an event yet (what the setup page polls)."""
    project = _project(ctx)
    last = ctx.store.last_event_at(project.id)
    body = {"received": last is not None, "last_event_at": last}
    return Response(
        orjson.dumps(body), media_type="application/json", headers={"Cache-Control": "no-store"}
    )


routes = [
    Route("/{org}/{project}/setup/", project_setup),
    Route("/{org}/{project}/setup/status.json", setup_status),
]
