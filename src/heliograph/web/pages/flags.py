"""``/{org}/{project}/flags/``: feature flags, their rollout, variants and history.

The list shows every flag with what it does in a phrase; owners and admins
create flags there. A flag's page changes it: on/off and per environment, a
rollout slider and the variants (the common case: one condition, everyone),
or the whole ``filters`` as JSON for conditions on person properties. It
also answers "who sees what" (the value a distinct id with given properties
gets, by the very evaluation ``/flags`` uses), how often each value was
read lately (the SDKs' ``$feature_flag_called`` events), and the audit log.

Reading needs any role in the project; changing, as for the project's other
settings, an owner or admin. Checks are :mod:`heliograph.flags.definition`'s,
the same as the API's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson
from starlette.responses import RedirectResponse, Response

from heliograph.auth import can_admin
from heliograph.bounds import parse_row_id
from heliograph.flags.definition import (
    FeatureFlag,
    FlagError,
    check_environments,
    check_filters,
    check_key,
)
from heliograph.flags.evaluation import evaluate, payload_for
from heliograph.store.base import Project
from heliograph.web.common import BadRequest, Forbidden, NotFound, PageRequest, page, runtime_of
from heliograph.web.forms import notice

MAX_FORM_JSON = 64 * 1024
# "Recent evaluations" covers this many hours.
RECENT_HOURS = 24


def flags_url(project: Project) -> str:
    return f"/{project.organization_slug}/{project.slug}/flags/"


def describe(flag: FeatureFlag) -> str:
    """What a flag does, in a phrase: the list's summary column."""
    groups = flag.filters.get("groups") or []
    variants = flag.variants
    who = "nobody"
    if len(groups) == 1 and not groups[0].get("properties"):
        rollout = groups[0].get("rollout_percentage")
        who = "everyone" if rollout is None or rollout >= 100 else f"{rollout:g}% of people"
    elif groups:
        who = f"{len(groups)} condition{'s' if len(groups) != 1 else ''}"
    if variants:
        names = ", ".join(f"{v['key']} {v['rollout_percentage']:g}%" for v in variants)
        return f"{who}: {names}"
    return who


def simple_rollout(flag: FeatureFlag) -> float | None:
    """The slider's value when the flag is one condition without properties, else None."""
    groups = flag.filters.get("groups") or []
    if len(groups) != 1 or groups[0].get("properties") or groups[0].get("variant"):
        return None
    rollout = groups[0].get("rollout_percentage")
    return 100.0 if rollout is None else float(rollout)


def _project(ctx: PageRequest) -> tuple[Project, str]:
    return ctx.path_project()


def _flag(ctx: PageRequest, project: Project) -> FeatureFlag:
    flag_id = parse_row_id(ctx.request.path_params["flag_id"])
    flag = ctx.store.get_flag(flag_id) if flag_id is not None else None
    if flag is None or flag.project_id != project.id:
        raise NotFound()
    return flag


# -- forms -> fields --------------------------------------------------------------


def _json_field(ctx: PageRequest, name: str, what: str) -> Any:
    text = ctx.form.get(name, "").strip()
    if not text:
        return None
    if len(text) > MAX_FORM_JSON:
        raise FlagError(f"{what} is over {MAX_FORM_JSON} characters")
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise FlagError(f"{what} is not valid JSON: {exc}") from None


def _rollout(ctx: PageRequest) -> float:
    raw = ctx.form.get("rollout", "100").strip() or "100"
    try:
        value = float(raw)
    except ValueError:
        raise FlagError("the rollout must be a number from 0 to 100") from None
    if not 0 <= value <= 100:
        raise FlagError("the rollout must be from 0 to 100")
    return int(value) if value.is_integer() else value


def parse_variants(text: str) -> list[dict[str, Any]]:
    """``key percentage`` lines (``control 50``) as PostHog's variants."""
    variants = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        key, _, share = line.rpartition(" ")
        try:
            percentage = float(share.rstrip("%"))
        except ValueError:
            raise FlagError(
                f"variants, line {number}: write a key and a percentage, like 'control 50'"
            ) from None
        variants.append(
            {
                "key": key.strip(),
                "rollout_percentage": int(percentage) if percentage.is_integer() else percentage,
            }
        )
    return variants


def parse_environments(text: str) -> dict[str, bool]:
    """``name on`` / ``name off`` lines."""
    environments: dict[str, bool] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        name, _, state = line.replace("=", " ").rpartition(" ")
        if state.lower() not in ("on", "off") or not name.strip():
            raise FlagError(f"environments, line {number}: write a name and on or off")
        environments[name.strip()] = state.lower() == "on"
    return check_environments(environments)


def _simple_filters(ctx: PageRequest, previous: dict[str, Any] | None) -> dict[str, Any]:
    filters: dict[str, Any] = {"groups": [{"properties": [], "rollout_percentage": _rollout(ctx)}]}
    variants = parse_variants(ctx.form.get("variants", ""))
    if variants:
        filters["multivariate"] = {"variants": variants}
    payloads = _json_field(ctx, "payloads", "The payloads")
    if payloads is None and previous is not None:
        payloads = previous.get("payloads")
    if payloads is not None:
        filters["payloads"] = payloads
    return check_filters(filters)


# -- pages ------------------------------------------------------------------------


@page
def flag_list(ctx: PageRequest) -> Response:
    project, role = _project(ctx)
    if ctx.request.method == "POST":
        if not can_admin(ctx.principal, role):
            raise Forbidden("Only the organization's owners and admins can change flags.")
        try:
            flag = ctx.store.create_flag(
                project.id,
                key=check_key(ctx.form.get("key", "").strip()),
                name=ctx.form.get("name", "").strip()[:400],
                active=True,
                filters=_simple_filters(ctx, None),
                environments={},
                user_id=ctx.principal.user.id,
            )
        except FlagError as exc:
            return _render_list(ctx, project, role, error=str(exc), status=400)
        runtime_of(ctx.request).flags.changed()
        return RedirectResponse(f"{flags_url(project)}{flag.id}/?done=flag_created", 303)
    return _render_list(ctx, project, role)


def _render_list(
    ctx: PageRequest, project: Project, role: str, *, error: str | None = None, status: int = 200
) -> Response:
    flags = ctx.store.list_flags(project.id)
    context = {
        "project": project,
        "nav_active": "flags",
        "page_title": f"Feature flags · {project.name}",
        "can_admin": can_admin(ctx.principal, role),
        "flags": [(flag, describe(flag)) for flag in flags],
        "form": ctx.form if error else {},
        "notice": notice(ctx.params),
        "error": error,
    }
    return ctx.render("flags.html", context, project=project, status_code=status)


@page
def flag_detail(ctx: PageRequest) -> Response:
    project, role = _project(ctx)
    flag = _flag(ctx, project)
    if ctx.request.method == "GET":
        return _render_flag(ctx, project, role, flag)
    if not can_admin(ctx.principal, role):
        raise Forbidden("Only the organization's owners and admins can change flags.")
    action = ACTIONS.get(ctx.form.get("action", ""))
    if action is None:
        raise BadRequest(f"Unknown action; use one of: {', '.join(ACTIONS)}.")
    try:
        done = action(ctx, flag)
    except FlagError as exc:
        return _render_flag(ctx, project, role, flag, error=str(exc), status=400)
    runtime_of(ctx.request).flags.changed()
    if done == "flag_deleted":
        return RedirectResponse(f"{flags_url(project)}?done={done}", status_code=303)
    return RedirectResponse(f"{flags_url(project)}{flag.id}/?done={done}", status_code=303)


def _who_sees_what(ctx: PageRequest, flag: FeatureFlag) -> dict[str, Any] | None:
    """The answer to the page's "who sees what" form, when it was sent."""
    distinct_id = ctx.params.get("distinct_id", "").strip()
    if not distinct_id:
        return None
    environment = ctx.params.get("environment", "").strip() or None
    raw = ctx.params.get("properties", "").strip()
    try:
        properties = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        return {"error": "The person properties are not valid JSON."}
    if not isinstance(properties, dict):
        return {"error": "The person properties must be a JSON object."}
    properties = {"distinct_id": distinct_id, **properties}
    value = evaluate(flag, distinct_id, properties, environment=environment)
    return {"error": None, "value": value, "payload": payload_for(flag, value)}


def _render_flag(
    ctx: PageRequest,
    project: Project,
    role: str,
    flag: FeatureFlag,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    rollout = simple_rollout(flag)
    context = {
        "project": project,
        "nav_active": "flags",
        "page_title": f"{flag.key} · Feature flags · {project.name}",
        "can_admin": can_admin(ctx.principal, role),
        "flag": flag,
        "summary": describe(flag),
        "rollout": rollout,
        "variants_text": "\n".join(
            f"{v['key']} {v['rollout_percentage']:g}" for v in flag.variants
        ),
        "environments_text": "\n".join(
            f"{name} {'on' if on else 'off'}" for name, on in sorted(flag.environments.items())
        ),
        "payloads_text": orjson.dumps(
            {k: orjson.loads(v) for k, v in (flag.filters.get("payloads") or {}).items()}
        ).decode()
        if flag.filters.get("payloads")
        else "",
        "filters_text": orjson.dumps(flag.filters, option=orjson.OPT_INDENT_2).decode(),
        "check": _who_sees_what(ctx, flag),
        "calls": ctx.store.flag_calls(
            project.id, flag.key, int(time.time() // 3600) - RECENT_HOURS
        ),
        "recent_hours": RECENT_HOURS,
        "params": ctx.params,
        "changes": ctx.store.flag_changes(flag.id),
        "users": {
            m.user.id: m.user.email for m in ctx.store.organization_members(project.organization_id)
        },
        "notice": notice(ctx.params),
        "error": error,
    }
    return ctx.render("flag.html", context, project=project, status_code=status)


def _save(ctx: PageRequest, flag: FeatureFlag) -> str:
    changes = {
        "name": ctx.form.get("name", "").strip()[:400],
        "active": ctx.form.get("active") == "on",
        "environments": parse_environments(ctx.form.get("environments", "")),
    }
    if "rollout" in ctx.form:
        changes["filters"] = _simple_filters(ctx, flag.filters)
    ctx.store.update_flag(flag.id, changes, user_id=ctx.principal.user.id)
    return "flag_saved"


def _save_filters(ctx: PageRequest, flag: FeatureFlag) -> str:
    filters = _json_field(ctx, "filters", "The filters")
    ctx.store.update_flag(
        flag.id, {"filters": check_filters(filters)}, user_id=ctx.principal.user.id
    )
    return "flag_saved"


def _delete(ctx: PageRequest, flag: FeatureFlag) -> str:
    ctx.store.delete_flag(flag.id, user_id=ctx.principal.user.id)
    return "flag_deleted"


ACTIONS: dict[str, Callable[[PageRequest, FeatureFlag], str]] = {
    "save": _save,
    "save_filters": _save_filters,
    "delete": _delete,
}
