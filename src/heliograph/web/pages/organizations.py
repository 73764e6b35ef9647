"""``/orgs/new/``: create an organization from the UI.

The API (``POST /api/0/organizations/``) and ``heliograph org create`` could
create organizations; this page is the same thing for people who live in
the browser. Who may: :func:`heliograph.auth.can_create_organization`, the
rule the API applies (superusers). What is checked (slug, name, a slug
already taken): :func:`heliograph.onboarding.create_organization`, the
function the API and CLI call, so that the three never disagree. A refusal
re-renders the form with the reason (400), never a 500.

A new organization has no project yet, so the page lands on its members
page, where its owners create the first one (New project) and add people.
"""

from __future__ import annotations

from starlette.responses import RedirectResponse, Response

from heliograph.auth import can_create_organization
from heliograph.onboarding import OnboardingError, create_organization
from heliograph.web.common import Forbidden, PageRequest, page

ONLY_SUPERUSERS = "Only superusers can create organizations."


def _render(ctx: PageRequest, *, error: str | None = None, status: int = 200) -> Response:
    context = {
        "page_title": "New organization",
        "name": ctx.form.get("name", ""),
        "slug": ctx.form.get("slug", ""),
        "error": error,
    }
    return ctx.render("new_organization.html", context, status_code=status)


@page
def new_organization(ctx: PageRequest) -> Response:
    if not can_create_organization(ctx.principal):
        raise Forbidden(ONLY_SUPERUSERS)
    if ctx.request.method == "GET":
        return _render(ctx)
    try:
        org = create_organization(
            ctx.store,
            ctx.form.get("slug") or None,
            ctx.form.get("name") or None,
            owner=ctx.principal.user,
        )
    except OnboardingError as exc:
        return _render(ctx, error=f"Cannot create it: {exc}.", status=400)
    return RedirectResponse(f"/orgs/{org.slug}/members/?done=org_created", status_code=303)
