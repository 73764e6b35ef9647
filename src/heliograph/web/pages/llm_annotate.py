"""``POST /{org}/{project}/llm/scores/``: annotating a trace or a call with a score.

The trace and generation pages show a small form to members and up (the
session's CSRF token, checked by :func:`heliograph.web.common.page`): a
name, a type, a value and a comment. The score is stored with source
``annotation`` and the member as its author; its author may delete it
(``.../llm/scores/delete``). A refused value is a 400 that says why.
"""

from __future__ import annotations

import time

from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from heliograph.auth import can_write
from heliograph.store.score_records import ScoreError, make_score
from heliograph.web.common import BadRequest, Forbidden, NotFound, PageRequest, page, safe_next
from heliograph.web.llm_links import llm_url

__all__ = ["routes"]


def _writable(ctx: PageRequest) -> tuple[int, str]:
    """The project's id and where to go back to; Forbidden for read-only access."""
    project, role = ctx.path_project()
    if not can_write(ctx.principal, role):
        raise Forbidden("You have read-only access to this project.")
    return project.id, safe_next(ctx.form.get("next"), llm_url(project, "traces/"))


@page
def annotate(ctx: PageRequest) -> Response:
    """``name``, ``data_type``, ``value``, ``comment`` on ``trace_id`` / ``observation_id``."""
    project_id, back = _writable(ctx)
    form = ctx.form
    kind = form.get("data_type") or "numeric"
    value: object = form.get("value", "").strip()
    if kind == "numeric" and value == "":
        raise BadRequest("a numeric score needs a value")
    try:
        score = make_score(
            project_id,
            name=form.get("name"),
            value=value,
            data_type=kind,
            comment=form.get("comment"),
            trace_id=form.get("trace_id"),
            observation_id=form.get("observation_id"),
            session_id=form.get("session_id"),
            source="annotation",
            author_id=ctx.principal.user.id,
            timestamp=time.time(),
        )
    except ScoreError as exc:
        raise BadRequest(f"This score cannot be saved: {exc}.") from None
    ctx.store.save_scores([score])
    return RedirectResponse(back + "#scores", status_code=303)


@page
def delete_annotation(ctx: PageRequest) -> Response:
    """``score_id``: an annotation of the signed-in member's own."""
    project_id, back = _writable(ctx)
    found = ctx.store.get_score(project_id, ctx.form.get("score_id", ""))
    if found is None:
        raise NotFound()
    if found.source != "annotation" or found.author_id != ctx.principal.user.id:
        raise Forbidden("Only its author may delete an annotation.")
    ctx.store.delete_score(project_id, found.id)
    return RedirectResponse(back + "#scores", status_code=303)


routes = [
    Route("/{org}/{project}/llm/scores/", annotate, methods=["POST"]),
    Route("/{org}/{project}/llm/scores/delete", delete_annotation, methods=["POST"]),
]
