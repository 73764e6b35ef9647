"""``/admin/status/``: is the server keeping up, and what fills its disk? Superusers only.

The same figures as ``/metrics`` (queue depth, digest lag, dead letters,
worker health), for an admin without a Prometheus; plus what Prometheus
has no business knowing: each project's share of the disk, and the latest
of the server's own errors (issues of the ``heliograph-internal`` project).
Superusers only, like creating organizations: it shows every project.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from heliograph.bootstrap import DEFAULT_ORG, INTERNAL_PROJECT
from heliograph.server_status import (
    CACHE_SECONDS,
    QueueStatus,
    cached,
    data_dir_bytes,
    disk_space,
    workers,
)
from heliograph.store.base import IssueFilter
from heliograph.web.common import Forbidden, PageRequest, page, runtime_of

ONLY_SUPERUSERS = "Only superusers can see the server's status."
RECENT_ERRORS = 10


def _projects(ctx: PageRequest) -> list[dict[str, Any]]:
    """Disk use per project (cached), with each project's name; deleted ones by id."""
    data_dir = runtime_of(ctx.request).settings.data_dir
    uses = cached(f"disk-use:{data_dir}", ctx.store.disk_use)
    names = {p.id: p for p in ctx.store.list_projects()}
    rows = []
    for use in uses:
        project = names.get(use.project_id)
        rows.append({"use": use, "project": project})
    return rows


def _internal_errors(ctx: PageRequest) -> tuple[Any, list[Any]]:
    """The internal project (None before anything was recorded) and its latest issues."""
    project = ctx.store.get_project(DEFAULT_ORG, INTERNAL_PROJECT)
    if project is None:
        return None, []
    issues, _ = ctx.store.list_issues(
        IssueFilter(project.id, status="unresolved"), limit=RECENT_ERRORS, cursor=None
    )
    return project, issues


@page
def admin_status(ctx: PageRequest) -> Response:
    if not ctx.principal.user.is_superuser:
        raise Forbidden(ONLY_SUPERUSERS)
    runtime = runtime_of(ctx.request)
    data_dir = runtime.settings.data_dir
    internal, errors = _internal_errors(ctx)
    context = {
        "page_title": "Server status",
        "queue": QueueStatus.read(runtime.backlog),
        "max_backlog": runtime.settings.max_backlog,
        "workers": workers(),
        "disk": disk_space(data_dir),
        "data_dir": data_dir,
        "data_dir_bytes": cached(f"data-dir:{data_dir}", lambda: data_dir_bytes(data_dir)),
        "disk_projects": _projects(ctx),
        "internal": internal,
        "internal_errors": errors,
        "cache_seconds": int(CACHE_SECONDS),
    }
    return ctx.render("admin_status.html", context)
