"""Creating organizations and projects, the same way from the UI, the API and the CLI.

One place checks slugs, names and platforms and gives a new project the
ingest key its DSN needs, so a project made by ``heliograph project create``
is the project the settings page would have made.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from heliograph.ai.policy import POLICY_STATES
from heliograph.slugs import SlugError, check_slug, slug_from_name
from heliograph.store.base import Organization, Project, ProjectKey, Team, UserAccount
from heliograph.store.contract import Store

__all__ = [
    "PLATFORMS",
    "OnboardingError",
    "check_ai_policy",
    "create_organization",
    "create_project",
]

MAX_NAME = 100
# Sentry's platform ids that pick a setup snippet; any other id is kept as given.
PLATFORMS = ("python", "javascript", "node", "other")
_PLATFORM = re.compile(r"[a-z0-9][a-z0-9._-]{0,31}")


class OnboardingError(ValueError):
    """Why something could not be created, in one sentence for a user."""


@dataclass(frozen=True, slots=True)
class NewProject:
    project: Project
    key: ProjectKey


def _name(name: str | None, slug: str) -> str:
    name = (name or "").strip() or slug
    if len(name) > MAX_NAME:
        raise OnboardingError(f"the name is longer than {MAX_NAME} characters")
    return name


def _slug(slug: str | None, name: str | None, what: str) -> str:
    chosen = (slug or "").strip() or slug_from_name(name or "")
    try:
        return check_slug(chosen, what)
    except SlugError as exc:
        raise OnboardingError(str(exc)) from None


def check_ai_policy(value: object) -> str:
    """An organization's AI policy: the states a project's may have (ai/policy.py)."""
    if value not in POLICY_STATES:
        raise OnboardingError(f"the AI policy must be one of {', '.join(POLICY_STATES)}")
    return str(value)


def create_organization(
    store: Store, slug: str | None, name: str | None = None, *, owner: UserAccount | None = None
) -> Organization:
    """A new organization; ``owner`` (when given and not a superuser) becomes its owner."""
    slug = _slug(slug, name, "organization slug")
    if store.get_organization(slug) is not None:
        raise OnboardingError(f"an organization {slug!r} already exists")
    org = store.create_organization(slug, _name(name, slug))
    if owner is not None and not owner.is_superuser:
        store.add_member(owner.id, org.id, "owner")
    return org


def create_project(
    store: Store,
    org: Organization,
    slug: str | None,
    name: str | None = None,
    platform: str | None = None,
    *,
    team: Team | None = None,
) -> NewProject:
    """A new project with its first ingest key; in ``team`` when given, else shared
    with the whole organization (see docs/access.md)."""
    slug = _slug(slug, name, "project slug")
    platform = (platform or "python").strip().lower()
    if not _PLATFORM.fullmatch(platform):
        raise OnboardingError(f"the platform {platform!r} is not a platform id (e.g. python)")
    if store.get_project(org.slug, slug) is not None:
        raise OnboardingError(f"a project {org.slug}/{slug} already exists")
    project = store.create_project(org.id, slug, _name(name, slug), platform)
    key = store.create_key(project.id)
    if team is not None:
        store.add_team_project(team.id, project.id)
    return NewProject(project, key)
