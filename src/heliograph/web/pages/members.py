"""``/orgs/{org}/members/``: an organization's members, their roles, and its teams.

Members of the organization can read the page; only owners change it (add an
existing user by email, change a role, remove someone, create and delete
teams, put people and projects in teams). Owners and admins also set the
organization's AI policy here, as they set a project's in its settings.
The organization always keeps at least one owner: demoting or removing the
last one is refused. Anyone else gets the same 404 for an organization as for
one that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import RedirectResponse, Response

from heliograph.ai.policy import POLICY_STATES, parse_state
from heliograph.auth import can_admin, can_manage_members
from heliograph.onboarding import OnboardingError, create_project
from heliograph.store.base import ROLES, Organization, slugify
from heliograph.web.common import (
    BadRequest,
    Forbidden,
    NotFound,
    PageRequest,
    page,
    runtime_of,
)
from heliograph.web.forms import FormError, choice, identifier, notice, text

LAST_OWNER = "An organization needs at least one owner: make someone else owner first."


def members_url(org: Organization) -> str:
    return f"/orgs/{org.slug}/members/"


def _organization(ctx: PageRequest) -> tuple[Organization, str]:
    org = ctx.store.get_organization(ctx.request.path_params["org"])
    role = ctx.store.role_in(ctx.principal.user, org.id) if org else None
    if org is None or role is None:
        raise NotFound()
    return org, role


def _render(
    ctx: PageRequest, org: Organization, role: str, *, error: str | None = None, status: int = 200
) -> Response:
    members = ctx.store.organization_members(org.id)
    projects = ctx.store.organization_projects(org.id)
    if role not in ("owner", "admin"):
        # Members and viewers learn nothing here about projects they cannot see.
        visible = ctx.store.visible_project_ids(ctx.principal.user.id)
        projects = [project for project in projects if project.id in visible]
    teams = ctx.store.teams(org.id)
    team_people = {
        team.id: frozenset(m.user.id for m in members if team.id in m.team_ids) for team in teams
    }
    context = {
        "org": org,
        "current_organization": org,  # the account menu's organization, projects or not
        "page_title": f"Members · {org.name}",
        "nav_active": "members",
        "members": members,
        "teams": teams,
        "team_people": team_people,
        "team_projects": ctx.store.team_projects(org.id),
        "projects": projects,
        "roles": ROLES,
        "can_manage": can_manage_members(ctx.principal, role),
        # The organization's AI policy: the stricter of it and a project's applies.
        "ai_policy": parse_state(org.ai_policy),
        "ai_policies": POLICY_STATES,
        "can_set_ai_policy": can_admin(ctx.principal, role),
        "can_create_project": can_admin(ctx.principal, role),
        "me": ctx.principal.user.id,
        "notice": notice(ctx.params),
        "error": error,
    }
    return ctx.render("members.html", context, status_code=status)


@page
def organization_members(ctx: PageRequest) -> Response:
    org, role = _organization(ctx)
    if ctx.request.method == "GET":
        return _render(ctx, org, role)
    if ctx.form.get("action") == "create_project":
        # Owners and admins, as for the API (POST /api/0/organizations/{org}/projects/).
        if not can_admin(ctx.principal, role):
            raise Forbidden("Only the organization's owners and admins can create projects.")
        try:
            created = create_project(
                ctx.store,
                org,
                ctx.form.get("slug") or None,
                ctx.form.get("name") or None,
                ctx.form.get("platform") or None,
            )
        except OnboardingError as exc:
            return _render(ctx, org, role, error=f"Cannot create it: {exc}.", status=400)
        runtime_of(ctx.request).keys.changed()  # ingest accepts the new key at once
        project = created.project
        return RedirectResponse(
            f"/{project.organization_slug}/{project.slug}/setup/", status_code=303
        )
    if ctx.form.get("action") == "set_ai_policy":
        # Admins too: it is a setting, like a project's own AI policy.
        if not can_admin(ctx.principal, role):
            raise Forbidden("Only the organization's owners and admins can change its AI policy.")
        ctx.store.update_organization(
            org.id, ai_policy=choice(ctx.form, "ai_policy", "AI policy", POLICY_STATES)
        )
        return RedirectResponse(f"{members_url(org)}?done=saved", status_code=303)
    if not can_manage_members(ctx.principal, role):
        raise Forbidden("Only the organization's owners can change members and teams.")
    action = ACTIONS.get(ctx.form.get("action", ""))
    if action is None:
        raise BadRequest(f"Unknown action; use one of: {', '.join(ACTIONS)}.")
    try:
        done = action(ctx, org)
    except FormError as exc:
        return _render(ctx, org, role, error=str(exc), status=400)
    return RedirectResponse(f"{members_url(org)}?done={done}", status_code=303)


def _member_id(ctx: PageRequest, org: Organization) -> int:
    """A user id from the form that names a member of *this* organization."""
    user_id = identifier(ctx.form, "user_id")
    if not any(m.user.id == user_id for m in ctx.store.organization_members(org.id)):
        raise NotFound()
    return user_id


def _team_id(ctx: PageRequest, org: Organization) -> int:
    team = ctx.store.get_team(org.id, identifier(ctx.form, "team_id"))
    if team is None:
        raise NotFound()
    return team.id


def _add_member(ctx: PageRequest, org: Organization) -> str:
    email = text(ctx.form, "email", "Email", max_length=320)
    role = choice(ctx.form, "role", "Role", ROLES)
    found = ctx.store.get_user_by_email(email)
    if found is None:
        raise FormError(
            f"No user {email!r}. Create one first: heliograph createuser {email} --org {org.slug}"
        )
    ctx.store.add_member(found[0].id, org.id, role)
    return "member_added"


def _set_role(ctx: PageRequest, org: Organization) -> str:
    user_id = _member_id(ctx, org)
    role = choice(ctx.form, "role", "Role", ROLES)
    current = next(m.role for m in ctx.store.organization_members(org.id) if m.user.id == user_id)
    if current == "owner" and role != "owner" and ctx.store.count_owners(org.id) <= 1:
        raise FormError(LAST_OWNER)
    ctx.store.add_member(user_id, org.id, role)
    return "member_updated"


def _remove_member(ctx: PageRequest, org: Organization) -> str:
    user_id = _member_id(ctx, org)
    current = next(m.role for m in ctx.store.organization_members(org.id) if m.user.id == user_id)
    if current == "owner" and ctx.store.count_owners(org.id) <= 1:
        raise FormError(LAST_OWNER)
    ctx.store.remove_member(user_id, org.id)
    return "member_removed"


def _create_team(ctx: PageRequest, org: Organization) -> str:
    name = text(ctx.form, "name", "The team's name", max_length=80)
    slug = slugify(name)
    if not slug:
        raise FormError("The team's name needs at least one letter or digit.")
    if any(team.slug == slug for team in ctx.store.teams(org.id)):
        raise FormError(f"A team {slug!r} already exists.")
    ctx.store.create_team(org.id, name, slug)
    return "team_created"


def _delete_team(ctx: PageRequest, org: Organization) -> str:
    ctx.store.delete_team(_team_id(ctx, org))
    return "team_deleted"


def _team_member(ctx: PageRequest, org: Organization) -> str:
    team_id, user_id = _team_id(ctx, org), _member_id(ctx, org)
    if ctx.form.get("action") == "add_team_member":
        ctx.store.add_team_member(team_id, user_id)
    else:
        ctx.store.remove_team_member(team_id, user_id)
    return "team_updated"


def _team_project(ctx: PageRequest, org: Organization) -> str:
    team_id = _team_id(ctx, org)
    project_id = identifier(ctx.form, "project_id")
    if not any(p.id == project_id for p in ctx.store.organization_projects(org.id)):
        raise NotFound()
    if ctx.form.get("action") == "add_team_project":
        ctx.store.add_team_project(team_id, project_id)
    else:
        ctx.store.remove_team_project(team_id, project_id)
    return "team_updated"


ACTIONS: dict[str, Callable[[PageRequest, Organization], str]] = {
    "add_member": _add_member,
    "set_role": _set_role,
    "remove_member": _remove_member,
    "create_team": _create_team,
    "delete_team": _delete_team,
    "add_team_member": _team_member,
    "remove_team_member": _team_member,
    "add_team_project": _team_project,
    "remove_team_project": _team_project,
}
