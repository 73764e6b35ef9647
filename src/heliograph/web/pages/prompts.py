"""``/{org}/{project}/llm/prompts/``: managed prompts, their versions, labels and figures.

A tab of LLM analytics. The list shows each prompt with where its labels
point, and (for members) a form for a new prompt. A prompt's page shows its
versions newest first, side by side with the figures of the LLM calls linked
to each (calls, error rate, mean latency, cost: :mod:`heliograph.prompts.comparison`)
and the calls that used the application's fallback; members create the next
version there and move labels (a rollback is moving ``production`` back).

Reading needs any role in the project; writing, as for issues, a member
role or above. Checks are :mod:`heliograph.prompts.definition`'s, the same as
the API's.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import orjson
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from heliograph.auth import can_write
from heliograph.prompts.comparison import compare_versions
from heliograph.prompts.definition import (
    PromptError,
    check_commit_message,
    check_config,
    check_content,
    check_label,
    check_labels,
    check_name,
)
from heliograph.store.base import Project
from heliograph.web.common import BadRequest, Forbidden, NotFound, PageRequest, page
from heliograph.web.llm_links import llm_url
from heliograph.web.pages.llm import LlmUrls

__all__ = ["routes"]

# The windows the figures cover, in days.
WINDOWS = (1, 7, 30)
DEFAULT_WINDOW = 7
MAX_FORM_CHARS = 200_000


def prompt_url(project: Project, name: str = "") -> str:
    return llm_url(project, f"prompts/{quote(name, safe='')}/" if name else "prompts/")


def _json(ctx: PageRequest, name: str, what: str) -> Any:
    text = ctx.form.get(name, "").strip()
    if not text:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise PromptError(f"{what} is not valid JSON: {exc}") from None


def _new_version(ctx: PageRequest, project: Project, name: str) -> int:
    """Create a version from the form; its number."""
    if len(ctx.form.get("prompt", "")) > MAX_FORM_CHARS:
        raise PromptError("the prompt is too long")
    kind = ctx.form.get("type", "text")
    content: Any = ctx.form.get("prompt", "").replace("\r\n", "\n")
    if kind == "chat":
        content = _json(ctx, "prompt", "A chat prompt (a JSON list of messages)")
    kind, content = check_content(content, kind)
    labels = [part.strip() for part in ctx.form.get("labels", "").split(",") if part.strip()]
    created = ctx.store.create_prompt_version(
        project.id,
        check_name(name),
        type=kind,
        prompt=content,
        config=check_config(_json(ctx, "config", "The config")),
        labels=check_labels(labels),
        commit_message=check_commit_message(ctx.form.get("commit_message", "")),
        user_id=ctx.principal.user.id,
    )
    return created.version


def _context(ctx: PageRequest, project: Project, title: str, **more: Any) -> dict[str, Any]:
    return {
        "project": project,
        "urls": LlmUrls(project),
        "llm_tab": "prompts",
        "nav_active": "llm",
        "page_title": f"{title} · {project.name}",
        **more,
    }


@page
def prompt_list(ctx: PageRequest) -> Response:
    project, role = ctx.path_project()
    writer = can_write(ctx.principal, role)
    error = None
    if ctx.request.method == "POST":
        if not writer:
            raise Forbidden("Only members can create prompts.")
        name = ctx.form.get("name", "").strip()
        try:
            _new_version(ctx, project, name)
        except PromptError as exc:
            error = str(exc)
        else:
            return RedirectResponse(prompt_url(project, name) + "?done=prompt_created", 303)
    context = _context(
        ctx,
        project,
        "Prompts",
        prompts=ctx.store.list_prompts(project.id),
        can_write=writer,
        form=ctx.form if error else {},
        error=error,
    )
    return ctx.render("prompts.html", context, project=project, status_code=400 if error else 200)


def _window(ctx: PageRequest) -> int:
    raw = ctx.params.get("days", "")
    return int(raw) if raw.isdigit() and int(raw) in WINDOWS else DEFAULT_WINDOW


def _move_label(ctx: PageRequest, project: Project, name: str) -> None:
    label = check_label(ctx.form.get("label", "").strip())
    raw = ctx.form.get("version", "").strip()
    version = int(raw) if raw.isdigit() else None
    if raw and version is None:
        raise PromptError("choose a version")
    if not ctx.store.set_prompt_label(
        project.id, name, label, version, user_id=ctx.principal.user.id
    ):
        raise PromptError(f"this prompt has no version {raw}")


@page
def prompt_detail(ctx: PageRequest) -> Response:
    project, role = ctx.path_project()
    name = ctx.request.path_params["name"]
    versions = ctx.store.prompt_versions(project.id, name)
    if not versions:
        raise NotFound()
    writer = can_write(ctx.principal, role)
    error = None
    if ctx.request.method == "POST":
        if not writer:
            raise Forbidden("Only members can change prompts.")
        action = ctx.form.get("action", "")
        if action not in ("new_version", "move_label"):
            raise BadRequest("Unknown action; use new_version or move_label.")
        try:
            if action == "new_version":
                _new_version(ctx, project, name)
                done = "version_created"
            else:
                _move_label(ctx, project, name)
                done = "label_moved"
        except PromptError as exc:
            error = str(exc)
        else:
            return RedirectResponse(prompt_url(project, name) + f"?done={done}", 303)
    days = _window(ctx)
    until = time.time()
    comparison = compare_versions(ctx.store, project.id, name, until - days * 86400, until)
    newest = versions[0]
    context = _context(
        ctx,
        project,
        f"{name} · Prompts",
        name=name,
        versions=versions,
        newest=newest,
        newest_text=(
            newest.prompt
            if isinstance(newest.prompt, str)
            else orjson.dumps(newest.prompt, option=orjson.OPT_INDENT_2).decode()
        ),
        newest_config=orjson.dumps(newest.config, option=orjson.OPT_INDENT_2).decode()
        if newest.config
        else "",
        comparison=comparison,
        fallback=comparison.of(None),
        days=days,
        windows=WINDOWS,
        can_write=writer,
        done=ctx.params.get("done", ""),
        form=ctx.form if error else {},
        error=error,
    )
    return ctx.render("prompt.html", context, project=project, status_code=400 if error else 200)


routes = [
    Route("/{org}/{project}/llm/prompts/", prompt_list, methods=["GET", "POST"]),
    Route("/{org}/{project}/llm/prompts/{name}/", prompt_detail, methods=["GET", "POST"]),
]
