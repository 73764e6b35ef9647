"""First start: a default organization, project, ingest key and admin.

Run on every start; it only creates what is missing, so it is safe to repeat
and never prints a secret twice (a new login link is made only when the admin
is created, or on request with ``heliograph login-link``).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from heliograph.store.base import Organization, Project, ProjectKey
from heliograph.store.contract import Store

DEFAULT_ORG = "default"
DEFAULT_PROJECT = "default"
ADMIN_EMAIL = "admin@heliograph.local"
INTERNAL_PROJECT = "heliograph-internal"


@dataclass(frozen=True, slots=True)
class Welcome:
    """What the first start tells the operator."""

    project: Project
    dsn: str
    public_key: str
    login_url: str | None  # only on the very first start
    api_token: str | None  # only on the very first start


def dsn_for(base_url: str, public_key: str, project_id: int) -> str:
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{public_key}@{parts.netloc}{parts.path.rstrip('/')}/{project_id}"


def _default_organization(store: Store) -> Organization:
    return store.get_organization(DEFAULT_ORG) or store.create_organization(
        DEFAULT_ORG, "Default organization"
    )


def ensure_defaults(store: Store, base_url: str) -> Welcome:
    org = _default_organization(store)
    project = store.get_project(org.slug, DEFAULT_PROJECT) or store.create_project(
        org.id, DEFAULT_PROJECT, "Default project"
    )
    keys = [k for k in store.project_keys(project.id) if k.revoked_at is None]
    key = keys[0] if keys else store.create_key(project.id)
    ensure_internal_project(store)
    login_url = api_token = None
    if store.count_users() == 0:
        admin = store.create_user(ADMIN_EMAIL, is_superuser=True)
        store.add_member(admin.id, org.id, "owner")
        login_url = login_link_url(base_url, store.create_login_link(admin.id))
        api_token = store.create_api_token(admin.id, "created at first start")
    return Welcome(
        project=project,
        dsn=dsn_for(base_url, key.public_key, project.id),
        public_key=key.public_key,
        login_url=login_url,
        api_token=api_token,
    )


def ensure_internal_project(store: Store) -> Project:
    """The project Heliograph reports its own activity into (its AI-fix calls)."""
    org = _default_organization(store)
    return store.get_project(org.slug, INTERNAL_PROJECT) or store.create_project(
        org.id, INTERNAL_PROJECT, "Heliograph (internal)"
    )


def ensure_internal_key(store: Store) -> ProjectKey:
    """The internal project's ingest key, the one self-monitoring sends with.

    ``serve`` makes it in its bootstrap, before any acceptor or digest process
    starts: N processes each finding no key at once would make N keys.
    """
    project = ensure_internal_project(store)
    keys = [k for k in store.project_keys(project.id) if k.revoked_at is None]
    return keys[0] if keys else store.create_key(project.id, "self-monitoring")


def login_link_url(base_url: str, token: str) -> str:
    return f"{base_url}/login/link/{token}"
