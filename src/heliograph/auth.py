"""Who is asking: session cookies for the browser, bearer tokens for scripts.

Both resolve to a :class:`Principal`; API handlers and pages ask
:func:`project_role` for the caller's role in a project (None: the project is
invisible to them, answer 404), then :func:`can_write` / :func:`can_admin` /
:func:`can_manage_members` before changing anything.

What each role may do (a token additionally needs the matching scope)::

    viewer   read                                    scope read
    member   + change issues, ask for AI fixes        scope write
    admin    + project settings and ingest keys      scope admin
    owner    + organization members and teams        scope admin

Creating organizations is for superusers (:func:`can_create_organization`).

Cookie sessions carry every scope; their writes also need the CSRF token.
"""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from starlette.requests import Request

from heliograph.store.base import Project, UserAccount
from heliograph.store.contract import Store

SESSION_COOKIE = "heliograph_session"
ROLE_CAN_WRITE = frozenset({"owner", "admin", "member"})
ROLE_CAN_ADMIN = frozenset({"owner", "admin"})
ROLE_CAN_MANAGE_MEMBERS = frozenset({"owner"})
ALL_SCOPES = frozenset({"read", "write", "admin"})

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True, slots=True)
class Principal:
    user: UserAccount
    scopes: frozenset[str]
    csrf_token: str | None  # set for cookie sessions: their writes need the CSRF token


def authenticate(request: Request, store: Store) -> Principal | None:
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials:
        found = store.user_for_api_token(credentials.strip())
        if found is None:
            return None
        user, scopes = found
        return Principal(user, scopes, None)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        session = store.get_session(cookie)
        if session is not None:
            return Principal(session.user, ALL_SCOPES, session.csrf_token)
    return None


def project_role(principal: Principal, project: Project, store: Store) -> str | None:
    """The principal's role for the project (teams considered); None means no access."""
    return store.project_role(principal.user, project)


def can_read(principal: Principal) -> bool:
    return "read" in principal.scopes


def can_write(principal: Principal, role: str | None) -> bool:
    """Change issues (status), ask for AI fixes."""
    return role in ROLE_CAN_WRITE and "write" in principal.scopes


def can_admin(principal: Principal, role: str | None) -> bool:
    """Change project settings and ingest keys."""
    return role in ROLE_CAN_ADMIN and "admin" in principal.scopes


def can_manage_members(principal: Principal, role: str | None) -> bool:
    """Add, remove and re-role organization members; manage teams."""
    return role in ROLE_CAN_MANAGE_MEMBERS and "admin" in principal.scopes


def can_create_organization(principal: Principal) -> bool:
    """Create an organization: superusers only, with the admin scope.

    One rule for the API (``POST /api/0/organizations/``) and the UI's New
    organization page, so that neither lets through what the other refuses.
    """
    return principal.user.is_superuser and can_admin(principal, "owner")
