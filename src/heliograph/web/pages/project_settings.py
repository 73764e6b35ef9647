"""``/{org}/{project}/settings/``: ingest keys, limits, retention, privacy, outcomes.

Everyone who can see the project can read this page (members need the DSN);
only owners and admins may change it. Every form posts back here with an
``action`` and the session's CSRF token; the order of checks is always
"may see the project" (404), then "may change it" (403), then "is the form
valid" (400), so a refusal never reveals more than the role allows.
Key and limit changes are pushed to the in-memory key cache at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.responses import RedirectResponse, Response

from heliograph.ai.policy import POLICY_STATES
from heliograph.auth import can_admin
from heliograph.bootstrap import dsn_for
from heliograph.ingest.limits import BURST_SECONDS
from heliograph.project_settings import (
    PAYLOAD_MAX_CHARS,
    RATE_LIMIT,
    RETENTION_DAYS,
    SettingsError,
    parse_key,
    parse_settings,
)
from heliograph.store.base import Outcome, Project
from heliograph.web.common import BadRequest, Forbidden, NotFound, PageRequest, page, runtime_of
from heliograph.web.forms import notice

OUTCOME_DAYS = 30
OUTCOME_KINDS = ("accepted", "rate_limited", "invalid", "filtered", "client_discard")


def settings_url(project: Project) -> str:
    return f"/{project.organization_slug}/{project.slug}/settings/"


@dataclass(slots=True)
class OutcomeRow:
    """One data category's counts over the last days, by outcome, with the reasons."""

    category: str
    counts: dict[str, int] = field(default_factory=dict)
    reasons: list[tuple[str, str, int]] = field(default_factory=list)


def outcome_rows(outcomes: list[Outcome]) -> list[OutcomeRow]:
    rows: dict[str, OutcomeRow] = {}
    for outcome in outcomes:
        row = rows.setdefault(outcome.category, OutcomeRow(outcome.category))
        row.counts[outcome.outcome] = row.counts.get(outcome.outcome, 0) + outcome.quantity
        if outcome.outcome != "accepted" and outcome.reason:
            row.reasons.append((outcome.outcome, outcome.reason, outcome.quantity))
    return [rows[name] for name in sorted(rows)]


def _project(ctx: PageRequest) -> tuple[Project, str]:
    return ctx.path_project()


def _render(
    ctx: PageRequest, project: Project, role: str, *, error: str | None = None, status: int = 200
) -> Response:
    runtime = runtime_of(ctx.request)
    keys = ctx.store.project_keys(project.id)
    context = {
        "project": project,
        "nav_active": "settings",
        "page_title": f"Settings · {project.name}",
        "can_admin": can_admin(ctx.principal, role),
        "role": role,
        "keys": keys,
        "dsns": {
            key.public_key: dsn_for(runtime.settings.base_url, key.public_key, project.id)
            for key in keys
        },
        "base_url": runtime.settings.base_url,
        "outcomes": outcome_rows(ctx.store.outcomes(project.id, days=OUTCOME_DAYS)),
        "outcome_kinds": OUTCOME_KINDS,
        "outcome_days": OUTCOME_DAYS,
        "policies": POLICY_STATES,
        "default_rate": runtime.settings.project_rate_limit,
        "burst_seconds": BURST_SECONDS,
        "bounds": {
            "retention": RETENTION_DAYS,
            "payload": PAYLOAD_MAX_CHARS,
            "rate": RATE_LIMIT,
        },
        "notice": notice(ctx.params),
        "error": error,
    }
    return ctx.render("project_settings.html", context, project=project, status_code=status)


@page
def project_settings(ctx: PageRequest) -> Response:
    project, role = _project(ctx)
    if ctx.request.method == "GET":
        return _render(ctx, project, role)
    if not can_admin(ctx.principal, role):
        raise Forbidden("Only the organization's owners and admins can change project settings.")
    action = ACTIONS.get(ctx.form.get("action", ""))
    if action is None:
        raise BadRequest(f"Unknown action; use one of: {', '.join(ACTIONS)}.")
    try:
        done = action(ctx, project)
    except SettingsError as exc:
        fresh = ctx.store.get_project_by_id(project.id) or project
        return _render(ctx, fresh, role, error=str(exc), status=400)
    runtime_of(ctx.request).keys.changed()  # ingest sees new keys and limits at once
    return RedirectResponse(f"{settings_url(project)}?done={done}", status_code=303)


def _save(ctx: PageRequest, project: Project) -> str:
    fields = (
        "name",
        "retention_days",
        "keep_llm_payloads",
        "payload_max_chars",
        "ai_policy",
        "rate_limit",
        "scrub_extra_keys",
        "scrub_safe_fields",
    )
    raw = {name: ctx.form[name] for name in fields if name in ctx.form}
    ctx.store.update_project(project.id, **parse_settings(raw, checkboxes=True))
    return "saved"


def _key(ctx: PageRequest, project: Project) -> str:
    """The key named by the form, which must belong to this very project."""
    public_key = ctx.form.get("key", "")
    found = ctx.store.get_key(project.id, public_key) if public_key else None
    if found is None:
        raise NotFound()
    return found.public_key


def _create_key(ctx: PageRequest, project: Project) -> str:
    raw = {name: ctx.form[name] for name in ("label", "rate_limit") if name in ctx.form}
    changes = parse_key(raw, creating=True)
    rate = changes.get("rate_limit")
    ctx.store.create_key(project.id, str(changes["label"]), rate if isinstance(rate, int) else None)
    return "key_created"


def _update_key(ctx: PageRequest, project: Project) -> str:
    public_key = _key(ctx, project)
    raw = {name: ctx.form[name] for name in ("label", "rate_limit") if name in ctx.form}
    ctx.store.update_key(project.id, public_key, **parse_key(raw, creating=False))
    return "key_updated"


def _revoke_key(ctx: PageRequest, project: Project) -> str:
    ctx.store.revoke_key(project.id, _key(ctx, project))
    return "key_revoked"


ACTIONS: dict[str, Callable[[PageRequest, Project], str]] = {
    "save_settings": _save,
    "create_key": _create_key,
    "update_key": _update_key,
    "revoke_key": _revoke_key,
}
