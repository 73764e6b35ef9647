"""Who is asking: session cookies for the browser, bearer tokens for scripts.

Both resolve to a :class:`Principal`; API handlers and pages check it against
the project's organization with :func:`require_project_access`.
"""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from starlette.requests import Request

from heliograph.store.base import Project, UserAccount
from heliograph.store.sqlite import SQLiteStore

SESSION_COOKIE = "heliograph_session"
ROLE_CAN_WRITE = frozenset({"owner", "admin", "member"})

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


def authenticate(request: Request, store: SQLiteStore) -> Principal | None:
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
            return Principal(
                session.user, frozenset({"read", "write", "admin"}), session.csrf_token
            )
    return None


def project_role(principal: Principal, project: Project, store: SQLiteStore) -> str | None:
    """The principal's role in the project's organization; None means no access."""
    return store.role_in(principal.user, project.organization_id)


def can_write(principal: Principal, role: str | None) -> bool:
    return role in ROLE_CAN_WRITE and "write" in principal.scopes
