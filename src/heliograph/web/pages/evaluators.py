"""``/{org}/{project}/llm/evaluators/``: evaluators, their spend today, runs and scores.

A tab of LLM analytics. The list shows each evaluator with what it did
today against its budget, and (for admins) a form for a new one. An
evaluator's page shows its definition (admins edit it, switch it on or off,
or delete it), the on-demand runs with a form to queue one over a filter
(members), and its latest scores with their reasons.

Defining evaluators takes an admin because they spend the server's AI
provider budget; queuing a run a member, as in the API
(:mod:`heliograph.api.evaluators`). Checks are
:func:`heliograph.evals.definition.make_evaluator`'s, the same as the API's.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from heliograph.api.errors import ApiError
from heliograph.api.evaluators import run_filters
from heliograph.auth import can_admin, can_write
from heliograph.evals.definition import (
    DEFAULT_TEMPLATE,
    KINDS,
    OUTPUT_TYPES,
    Evaluator,
    EvaluatorError,
    make_evaluator,
)
from heliograph.evals.records import day_of
from heliograph.store.base import Project
from heliograph.store.score_records import ScoreFilter
from heliograph.web.common import BadRequest, Forbidden, NotFound, PageRequest, page
from heliograph.web.llm_links import llm_url
from heliograph.web.pages.llm import LlmUrls

__all__ = ["routes"]

ACTIONS = ("save", "toggle", "delete", "run")


def evaluator_url(project: Project, evaluator_id: int | None = None) -> str:
    return llm_url(project, f"evaluators/{evaluator_id}/" if evaluator_id else "evaluators/")


def _number(form: Mapping[str, str], name: str) -> str | None:
    return form.get(name, "").strip() or None


def definition_from_form(form: Mapping[str, str]) -> dict[str, Any]:
    """What the form says, in the API's shape (checked by ``make_evaluator`` after)."""
    kind = form.get("kind", "")
    raw_config = form.get("config", "").strip()
    try:
        config = orjson.loads(raw_config) if raw_config else {}
    except orjson.JSONDecodeError as exc:
        raise EvaluatorError(f"the config is not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise EvaluatorError("the config must be a JSON object")
    if kind == "llm_judge":
        config["template"] = form.get("template", "").replace("\r\n", "\n") or None
    output: dict[str, Any] = {"type": form.get("output_type", "numeric")}
    for key in ("min", "max"):
        if value := _number(form, f"output_{key}"):
            output[key] = value
    output["categories"] = form.get("categories", "")
    output["passing"] = form.get("passing", "")
    return {
        "name": form.get("name", "").strip(),
        "kind": kind,
        "config": config,
        "output": output
        if output["type"] == "categorical"
        else {k: v for k, v in output.items() if k not in ("categories", "passing")},
        "model": form.get("model", "").strip(),
        "sampling_rate": _number(form, "sampling_rate"),
        "daily_budget_usd": _number(form, "daily_budget_usd"),
        "threshold": _number(form, "threshold"),
        "window": _number(form, "window"),
        "filter": {
            "model": form.get("filter_model", "").strip() or None,
            "prompt_name": form.get("filter_prompt", "").strip() or None,
            "property_key": form.get("filter_key", "").strip() or None,
            "property_value": form.get("filter_value", "").strip() or None,
        },
        "enabled": form.get("enabled", "") == "on",
    }


def form_of(evaluator: Evaluator) -> dict[str, str]:
    """An evaluator as the form's fields, for editing."""
    config = {k: v for k, v in evaluator.config.items() if k != "template"}
    output = evaluator.output

    def text(value: Any) -> str:
        return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)

    return {
        "name": evaluator.name,
        "kind": evaluator.kind,
        "template": evaluator.config.get("template", ""),
        "config": orjson.dumps(config, option=orjson.OPT_INDENT_2).decode() if config else "",
        "output_type": evaluator.output_type,
        "output_min": text(output.get("min")),
        "output_max": text(output.get("max")),
        "categories": ", ".join(output.get("categories", [])),
        "passing": ", ".join(output.get("passing", [])),
        "model": evaluator.model,
        "sampling_rate": text(evaluator.sampling_rate),
        "daily_budget_usd": text(evaluator.daily_budget_usd),
        "threshold": text(evaluator.threshold),
        "window": str(evaluator.window),
        "filter_model": evaluator.filter.model or "",
        "filter_prompt": evaluator.filter.prompt_name or "",
        "filter_key": evaluator.filter.property_key or "",
        "filter_value": evaluator.filter.property_value or "",
        "enabled": "on" if evaluator.enabled else "",
    }


def _context(ctx: PageRequest, project: Project, title: str, **more: Any) -> dict[str, Any]:
    return {
        "project": project,
        "urls": LlmUrls(project),
        "llm_tab": "evaluators",
        "nav_active": "llm",
        "page_title": f"{title} · {project.name}",
        "kinds": KINDS,
        "output_types": OUTPUT_TYPES,
        "default_template": DEFAULT_TEMPLATE,
        **more,
    }


@page
def evaluator_list(ctx: PageRequest) -> Response:
    project, role = ctx.path_project()
    admin = can_admin(ctx.principal, role)
    error = None
    if ctx.request.method == "POST":
        if not admin:
            raise Forbidden("Only admins can define evaluators: they spend the AI budget.")
        try:
            created = ctx.store.create_evaluator(
                make_evaluator(project.id, definition_from_form(ctx.form))
            )
        except EvaluatorError as exc:
            error = str(exc)
        else:
            return RedirectResponse(evaluator_url(project, created.id) + "?done=created", 303)
    today = day_of(time.time())
    evaluators = ctx.store.list_evaluators(project.id)
    context = _context(
        ctx,
        project,
        "Evaluators",
        evaluators=[(e, ctx.store.evaluator_usage(e.id, today)) for e in evaluators],
        can_admin=admin,
        form=ctx.form if error else {"enabled": "on", "sampling_rate": "0.1",
                                     "daily_budget_usd": "1", "template": DEFAULT_TEMPLATE},
        error=error,
    )  # fmt: skip
    return ctx.render(
        "evaluators.html", context, project=project, status_code=400 if error else 200
    )


def _act(ctx: PageRequest, project: Project, evaluator: Evaluator, admin: bool) -> str:
    """Do the form's action; what to say after the redirect."""
    action = ctx.form.get("action", "")
    if action not in ACTIONS:
        raise BadRequest(f"Unknown action; use one of {', '.join(ACTIONS)}.")
    if action == "run":
        try:
            filters, limit = run_filters(dict(ctx.form))
        except ApiError as exc:
            raise EvaluatorError(exc.detail) from None
        ctx.store.queue_evaluator_run(
            project.id, evaluator.id, filters, limit, user_id=ctx.principal.user.id
        )
        return "run_queued"
    if not admin:
        raise Forbidden("Only admins can change evaluators.")
    if action == "delete":
        ctx.store.delete_evaluator(project.id, evaluator.id)
        return "deleted"
    if action == "toggle":
        changed = evaluator.with_changes(enabled=not evaluator.enabled)
    else:
        changed = make_evaluator(project.id, definition_from_form(ctx.form), id=evaluator.id)
    ctx.store.update_evaluator(changed)
    return "saved"


@page
def evaluator_detail(ctx: PageRequest) -> Response:
    project, role = ctx.path_project()
    evaluator_id = ctx.request.path_params["evaluator_id"]
    found = ctx.store.get_evaluator(project.id, evaluator_id) if evaluator_id < 2**62 else None
    if found is None:
        raise NotFound()
    admin = can_admin(ctx.principal, role)
    writer = can_write(ctx.principal, role)
    error = None
    if ctx.request.method == "POST":
        if not writer:
            raise Forbidden("Only members can run evaluators.")
        try:
            done = _act(ctx, project, found, admin)
        except EvaluatorError as exc:
            error = str(exc)
        else:
            gone = done == "deleted"
            target = evaluator_url(project, None if gone else found.id)
            return RedirectResponse(f"{target}?done={done}", 303)
    scores, _ = ctx.store.list_scores(
        ScoreFilter(project.id, name=found.name, source="evaluator"), limit=20
    )
    context = _context(
        ctx,
        project,
        f"{found.name} · Evaluators",
        evaluator=found,
        usage=ctx.store.evaluator_usage(found.id, day_of(time.time())),
        runs=ctx.store.evaluator_runs(project.id, found.id),
        scores=scores,
        can_admin=admin,
        can_write=writer,
        form=ctx.form if error else form_of(found),
        done=ctx.params.get("done", ""),
        error=error,
    )
    return ctx.render("evaluator.html", context, project=project, status_code=400 if error else 200)


routes = [
    Route("/{org}/{project}/llm/evaluators/", evaluator_list, methods=["GET", "POST"]),
    Route(
        "/{org}/{project}/llm/evaluators/{evaluator_id:int}/",
        evaluator_detail,
        methods=["GET", "POST"],
    ),
]
