"""Organizations, projects, ingest keys, users and their credentials (SQLite).

Secrets we hand out (API tokens, session ids, login links) are random and
stored only as SHA-256 digests: a copy of the database does not let anyone
log in. Passwords use argon2 (see ``heliograph.auth.passwords``).
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import time
from typing import TYPE_CHECKING

from heliograph.store.base import (
    Organization,
    Project,
    ProjectKey,
    SessionInfo,
    UserAccount,
)

if TYPE_CHECKING:
    from heliograph.store.database import Database

SESSION_TTL = 14 * 24 * 3600
LOGIN_LINK_TTL = 24 * 3600

_PROJECT_COLUMNS = (
    "p.id, p.organization_id, o.slug, p.slug, p.name, p.platform, p.ai_policy, "
    "p.keep_llm_payloads, p.payload_max_chars, p.retention_days"
)


def digest_secret(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _project(row: sqlite3.Row) -> Project:
    values = list(row)
    values[7] = bool(values[7])
    return Project(*values)


class AccountsMixin:
    db: Database

    # -- organizations and projects --------------------------------------

    def create_organization(self, slug: str, name: str) -> Organization:
        def write(conn: sqlite3.Connection) -> int:
            cursor = conn.execute(
                "INSERT INTO organizations (slug, name, created_at) VALUES (?, ?, ?)",
                (slug, name, time.time()),
            )
            return cursor.lastrowid or 0

        org_id = self.db.write(write)
        return Organization(org_id, slug, name, "allowed")

    def get_organization(self, slug: str) -> Organization | None:
        row = self.db.read(
            lambda c: c.execute(
                "SELECT id, slug, name, ai_policy FROM organizations WHERE slug = ?", (slug,)
            ).fetchone()
        )
        return Organization(*row) if row else None

    def get_organization_by_id(self, org_id: int) -> Organization | None:
        row = self.db.read(
            lambda c: c.execute(
                "SELECT id, slug, name, ai_policy FROM organizations WHERE id = ?", (org_id,)
            ).fetchone()
        )
        return Organization(*row) if row else None

    def create_project(
        self, organization_id: int, slug: str, name: str, platform: str = "python"
    ) -> Project:
        def write(conn: sqlite3.Connection) -> int:
            cursor = conn.execute(
                "INSERT INTO projects (organization_id, slug, name, platform, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (organization_id, slug, name, platform, time.time()),
            )
            return cursor.lastrowid or 0

        project_id = self.db.write(write)
        project = self.get_project_by_id(project_id)
        assert project is not None
        return project

    def get_project(self, org_slug: str, project_slug: str) -> Project | None:
        row = self.db.read(
            lambda c: c.execute(
                f"SELECT {_PROJECT_COLUMNS} FROM projects p JOIN organizations o "
                "ON o.id = p.organization_id WHERE o.slug = ? AND p.slug = ?",
                (org_slug, project_slug),
            ).fetchone()
        )
        return _project(row) if row else None

    def get_project_by_id(self, project_id: int) -> Project | None:
        row = self.db.read(
            lambda c: c.execute(
                f"SELECT {_PROJECT_COLUMNS} FROM projects p JOIN organizations o "
                "ON o.id = p.organization_id WHERE p.id = ?",
                (project_id,),
            ).fetchone()
        )
        return _project(row) if row else None

    def list_projects(self, user_id: int | None = None) -> list[Project]:
        """Projects visible to a user (all of them when ``user_id`` is None)."""
        sql = (
            f"SELECT {_PROJECT_COLUMNS} FROM projects p "
            "JOIN organizations o ON o.id = p.organization_id"
        )
        params: tuple[int, ...] = ()
        if user_id is not None:
            sql += (
                " WHERE p.organization_id IN (SELECT organization_id FROM memberships "
                "WHERE user_id = ?) OR EXISTS (SELECT 1 FROM users WHERE id = ? AND is_superuser)"
            )
            params = (user_id, user_id)
        rows = self.db.read(
            lambda c: c.execute(sql + " ORDER BY o.slug, p.slug", params).fetchall()
        )
        return [_project(r) for r in rows]

    def update_project(self, project_id: int, **changes: object) -> None:
        allowed = {"name", "ai_policy", "keep_llm_payloads", "payload_max_chars", "retention_days"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"unknown project settings: {sorted(unknown)}")
        if not changes:
            return
        assignments = ", ".join(f"{key} = ?" for key in changes)
        self.db.write(
            lambda c: c.execute(
                f"UPDATE projects SET {assignments} WHERE id = ?", (*changes.values(), project_id)
            )
        )

    # -- ingest keys -----------------------------------------------------

    def create_key(self, project_id: int, label: str = "Default") -> ProjectKey:
        key = secrets.token_hex(16)
        now = time.time()
        self.db.write(
            lambda c: c.execute(
                "INSERT INTO project_keys (public_key, project_id, label, created_at) "
                "VALUES (?, ?, ?, ?)",
                (key, project_id, label, now),
            )
        )
        return ProjectKey(key, project_id, label, now, None)

    def project_keys(self, project_id: int) -> list[ProjectKey]:
        rows = self.db.read(
            lambda c: c.execute(
                "SELECT public_key, project_id, label, created_at, revoked_at FROM project_keys "
                "WHERE project_id = ? ORDER BY created_at",
                (project_id,),
            ).fetchall()
        )
        return [ProjectKey(*r) for r in rows]

    def active_keys(self) -> dict[str, int]:
        """Every usable ingest key and its project: what ingest authenticates against."""
        rows = self.db.read(
            lambda c: c.execute(
                "SELECT public_key, project_id FROM project_keys WHERE revoked_at IS NULL"
            ).fetchall()
        )
        return {key: project_id for key, project_id in rows}

    # -- users and credentials -------------------------------------------

    def create_user(
        self, email: str, *, password_hash: str | None = None, is_superuser: bool = False
    ) -> UserAccount:
        def write(conn: sqlite3.Connection) -> int:
            cursor = conn.execute(
                "INSERT INTO users (email, password_hash, is_superuser, created_at) "
                "VALUES (?, ?, ?, ?)",
                (email.lower(), password_hash, int(is_superuser), time.time()),
            )
            return cursor.lastrowid or 0

        return UserAccount(self.db.write(write), email.lower(), is_superuser)

    def get_user_by_email(self, email: str) -> tuple[UserAccount, str | None] | None:
        row = self.db.read(
            lambda c: c.execute(
                "SELECT id, email, is_superuser, password_hash FROM users WHERE email = ?",
                (email.lower(),),
            ).fetchone()
        )
        if row is None:
            return None
        return UserAccount(row[0], row[1], bool(row[2])), row[3]

    def set_password(self, user_id: int, password_hash: str) -> None:
        self.db.write(
            lambda c: c.execute(
                "UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user_id)
            )
        )

    def add_member(self, user_id: int, organization_id: int, role: str) -> None:
        self.db.write(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO memberships (user_id, organization_id, role) "
                "VALUES (?, ?, ?)",
                (user_id, organization_id, role),
            )
        )

    def role_in(self, user: UserAccount, organization_id: int) -> str | None:
        if user.is_superuser:
            return "owner"
        row = self.db.read(
            lambda c: c.execute(
                "SELECT role FROM memberships WHERE user_id = ? AND organization_id = ?",
                (user.id, organization_id),
            ).fetchone()
        )
        return row[0] if row else None

    def count_users(self) -> int:
        return int(self.db.read(lambda c: c.execute("SELECT COUNT(*) FROM users").fetchone()[0]))

    def create_api_token(self, user_id: int, label: str, scopes: str = "read write admin") -> str:
        raw = "hgp_" + secrets.token_urlsafe(32)
        self.db.write(
            lambda c: c.execute(
                "INSERT INTO api_tokens (token_hash, user_id, label, scopes, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (digest_secret(raw), user_id, label, scopes, time.time()),
            )
        )
        return raw

    def user_for_api_token(self, raw: str) -> tuple[UserAccount, frozenset[str]] | None:
        row = self.db.read(
            lambda c: c.execute(
                "SELECT u.id, u.email, u.is_superuser, t.scopes FROM api_tokens t "
                "JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?",
                (digest_secret(raw),),
            ).fetchone()
        )
        if row is None:
            return None
        return UserAccount(row[0], row[1], bool(row[2])), frozenset(row[3].split())

    def create_login_link(self, user_id: int, ttl: float = LOGIN_LINK_TTL) -> str:
        raw = secrets.token_urlsafe(32)
        self.db.write(
            lambda c: c.execute(
                "INSERT INTO login_links (token_hash, user_id, expires_at) VALUES (?, ?, ?)",
                (digest_secret(raw), user_id, time.time() + ttl),
            )
        )
        return raw

    def consume_login_link(self, raw: str) -> int | None:
        """Use a one-time link: returns its user the first time, None ever after."""

        def write(conn: sqlite3.Connection) -> int | None:
            now = time.time()
            row = conn.execute(
                "UPDATE login_links SET used_at = ? WHERE token_hash = ? AND used_at IS NULL "
                "AND expires_at > ? RETURNING user_id",
                (now, digest_secret(raw), now),
            ).fetchone()
            return int(row[0]) if row else None

        return self.db.write(write)

    def create_session(self, user_id: int) -> tuple[str, str]:
        """A new login session: returns (session token for the cookie, CSRF token)."""
        raw = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24)
        now = time.time()
        self.db.write(
            lambda c: c.execute(
                "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (digest_secret(raw), user_id, csrf, now, now + SESSION_TTL),
            )
        )
        return raw, csrf

    def get_session(self, raw: str) -> SessionInfo | None:
        row = self.db.read(
            lambda c: c.execute(
                "SELECT u.id, u.email, u.is_superuser, s.csrf_token FROM sessions s "
                "JOIN users u ON u.id = s.user_id WHERE s.token_hash = ? AND s.expires_at > ?",
                (digest_secret(raw), time.time()),
            ).fetchone()
        )
        if row is None:
            return None
        return SessionInfo(UserAccount(row[0], row[1], bool(row[2])), row[3])

    def delete_session(self, raw: str) -> None:
        self.db.write(
            lambda c: c.execute("DELETE FROM sessions WHERE token_hash = ?", (digest_secret(raw),))
        )
