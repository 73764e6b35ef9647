"""Organizations, projects, ingest keys, users and their credentials (SQLite).

Secrets we hand out (API tokens, session ids, login links) are random and
stored only as SHA-256 digests: a copy of the database does not let anyone
log in. Failed logins (login throttling) are counted under digests of their
keys, which name an email and an address. Passwords use argon2 (see
:mod:`heliograph.auth`). Memberships, teams and who sees which project are in
:mod:`heliograph.store.sqlite.access`; what the backends share (digests,
scopes, the project row) in :mod:`heliograph.store.account_records`.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from heliograph.store.account_records import (
    KEY_COLUMNS,
    KEY_SETTINGS,
    LAST_USED_GRANULARITY,
    PROJECT_COLUMNS,
    PROJECT_SETTINGS,
    TOKEN_PREFIX_CHARS,
    digest_secret,
    normalize_scopes,
    project_from_row,
    setting_values,
    visible_projects_sql,
)
from heliograph.store.base import (
    LOGIN_LINK_TTL,
    SESSION_TTL,
    ApiTokenInfo,
    Organization,
    Project,
    ProjectKey,
    SessionInfo,
    UserAccount,
)
from heliograph.store.sqlite.access import AccessMixin

if TYPE_CHECKING:
    from heliograph.store.sqlite.database import Database


class AccountsMixin(AccessMixin):
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
                f"SELECT {PROJECT_COLUMNS} FROM projects p JOIN organizations o "
                "ON o.id = p.organization_id WHERE o.slug = ? AND p.slug = ?",
                (org_slug, project_slug),
            ).fetchone()
        )
        return project_from_row(row) if row else None

    def get_project_by_id(self, project_id: int) -> Project | None:
        row = self.db.read(
            lambda c: c.execute(
                f"SELECT {PROJECT_COLUMNS} FROM projects p JOIN organizations o "
                "ON o.id = p.organization_id WHERE p.id = ?",
                (project_id,),
            ).fetchone()
        )
        return project_from_row(row) if row else None

    def list_projects(self, user_id: int | None = None) -> list[Project]:
        """Projects visible to a user (all of them when ``user_id`` is None).

        Visibility is :func:`~heliograph.store.account_records.visible_projects_sql`'s
        rule: owners and admins see their organizations' projects, members and
        viewers those of their teams and those in no team.
        """
        sql = (
            f"SELECT {PROJECT_COLUMNS} FROM projects p "
            "JOIN organizations o ON o.id = p.organization_id"
        )
        params: dict[str, int] = {}
        if user_id is not None:
            sql += f" WHERE {visible_projects_sql(':user')}"
            params = {"user": user_id}
        rows = self.db.read(
            lambda c: c.execute(sql + " ORDER BY o.slug, p.slug", params).fetchall()
        )
        return [project_from_row(r) for r in rows]

    def organization_projects(self, organization_id: int) -> list[Project]:
        rows = self.db.read(
            lambda c: c.execute(
                f"SELECT {PROJECT_COLUMNS} FROM projects p JOIN organizations o "
                "ON o.id = p.organization_id WHERE p.organization_id = ? ORDER BY p.slug",
                (organization_id,),
            ).fetchall()
        )
        return [project_from_row(r) for r in rows]

    def update_project(self, project_id: int, **changes: object) -> None:
        """Change project settings; key lists may be given as tuples of words."""
        unknown = set(changes) - PROJECT_SETTINGS
        if unknown:
            raise ValueError(f"unknown project settings: {sorted(unknown)}")
        if not changes:
            return
        values = setting_values(changes)
        assignments = ", ".join(f"{key} = ?" for key in changes)
        self.db.write(
            lambda c: c.execute(
                f"UPDATE projects SET {assignments} WHERE id = ?", (*values, project_id)
            )
        )

    # -- ingest keys -----------------------------------------------------

    def create_key(
        self, project_id: int, label: str = "Default", rate_limit: int | None = None
    ) -> ProjectKey:
        key = secrets.token_hex(16)
        now = time.time()
        self.db.write(
            lambda c: c.execute(
                "INSERT INTO project_keys (public_key, project_id, label, created_at, rate_limit) "
                "VALUES (?, ?, ?, ?, ?)",
                (key, project_id, label, now, rate_limit),
            )
        )
        return ProjectKey(key, project_id, label, now, None, rate_limit)

    def project_keys(self, project_id: int) -> list[ProjectKey]:
        rows = self.db.read(
            lambda c: c.execute(
                f"SELECT {KEY_COLUMNS} FROM project_keys WHERE project_id = ? ORDER BY created_at",
                (project_id,),
            ).fetchall()
        )
        return [ProjectKey(*r) for r in rows]

    def get_key(self, project_id: int, public_key: str) -> ProjectKey | None:
        """A key of this project (None for another project's key: no cross-project edits)."""
        row = self.db.read(
            lambda c: c.execute(
                f"SELECT {KEY_COLUMNS} FROM project_keys WHERE project_id = ? AND public_key = ?",
                (project_id, public_key),
            ).fetchone()
        )
        return ProjectKey(*row) if row else None

    def update_key(self, project_id: int, public_key: str, **changes: object) -> None:
        unknown = set(changes) - KEY_SETTINGS
        if unknown:
            raise ValueError(f"unknown key settings: {sorted(unknown)}")
        if not changes:
            return
        assignments = ", ".join(f"{key} = ?" for key in changes)
        self.db.write(
            lambda c: c.execute(
                f"UPDATE project_keys SET {assignments} WHERE project_id = ? AND public_key = ?",
                (*changes.values(), project_id, public_key),
            )
        )

    def revoke_key(self, project_id: int, public_key: str) -> bool:
        """Revoke a key for good; False when it is not this project's or already revoked."""

        def write(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "UPDATE project_keys SET revoked_at = ? WHERE project_id = ? AND public_key = ? "
                "AND revoked_at IS NULL",
                (time.time(), project_id, public_key),
            )
            return cursor.rowcount == 1

        return self.db.write(write)

    def active_keys(self) -> dict[str, int]:
        """Every usable ingest key and its project: what ingest authenticates against."""
        return {key: project_id for key, (project_id, _rate) in self.ingest_keys().items()}

    def ingest_keys(self) -> dict[str, tuple[int, int | None]]:
        """Every usable ingest key -> (its project, its own rate limit or None)."""
        rows = self.db.read(
            lambda c: c.execute(
                "SELECT public_key, project_id, rate_limit FROM project_keys "
                "WHERE revoked_at IS NULL"
            ).fetchall()
        )
        return {key: (project_id, rate) for key, project_id, rate in rows}

    def project_rate_limits(self) -> dict[int, int | None]:
        """Project id -> its own rate limit (None: the server default)."""
        rows = self.db.read(lambda c: c.execute("SELECT id, rate_limit FROM projects").fetchall())
        return {project_id: rate for project_id, rate in rows}

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

    def count_users(self) -> int:
        return int(self.db.read(lambda c: c.execute("SELECT COUNT(*) FROM users").fetchone()[0]))

    def create_api_token(self, user_id: int, label: str, scopes: str = "read write admin") -> str:
        """A new personal API token; the raw value is returned once and never stored."""
        raw = "hgp_" + secrets.token_urlsafe(32)
        self.db.write(
            lambda c: c.execute(
                "INSERT INTO api_tokens (token_hash, user_id, label, scopes, created_at, prefix) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    digest_secret(raw),
                    user_id,
                    label,
                    normalize_scopes(scopes.split()),
                    time.time(),
                    raw[:TOKEN_PREFIX_CHARS],
                ),
            )
        )
        return raw

    def user_for_api_token(self, raw: str) -> tuple[UserAccount, frozenset[str]] | None:
        token_hash = digest_secret(raw)
        row = self.db.read(
            lambda c: c.execute(
                "SELECT u.id, u.email, u.is_superuser, t.scopes, t.last_used_at FROM api_tokens t "
                "JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?",
                (token_hash,),
            ).fetchone()
        )
        if row is None:
            return None
        now = time.time()
        if row[4] is None or now - row[4] > LAST_USED_GRANULARITY:
            # Fire and forget: the answer must not wait for this write.
            self.db.submit(
                lambda c: c.execute(
                    "UPDATE api_tokens SET last_used_at = ? WHERE token_hash = ?", (now, token_hash)
                )
            )
        return UserAccount(row[0], row[1], bool(row[2])), frozenset(row[3].split())

    def list_api_tokens(self, user_id: int) -> list[ApiTokenInfo]:
        rows = self.db.read(
            lambda c: c.execute(
                "SELECT rowid, label, prefix, scopes, created_at, last_used_at FROM api_tokens "
                "WHERE user_id = ? ORDER BY created_at DESC",
                (user_id,),
            ).fetchall()
        )
        return [ApiTokenInfo(r[0], r[1], r[2], frozenset(r[3].split()), r[4], r[5]) for r in rows]

    def revoke_api_token(self, user_id: int, token_id: int) -> bool:
        """Delete one of the user's tokens; False when it is not theirs (or gone)."""

        def write(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "DELETE FROM api_tokens WHERE rowid = ? AND user_id = ?", (token_id, user_id)
            )
            return cursor.rowcount == 1

        return self.db.write(write)

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

    def delete_sessions(self, user_id: int, *, keep: str | None = None) -> None:
        """End every session of a user (but ``keep``, the one asking)."""
        kept = digest_secret(keep) if keep else ""
        self.db.write(
            lambda c: c.execute(
                "DELETE FROM sessions WHERE user_id = ? AND token_hash != ?", (user_id, kept)
            )
        )

    # -- failed logins (login throttling) ----------------------------------

    def record_login_failure(self, keys: Sequence[str], at: float) -> None:
        rows = [(digest_secret(key), at) for key in dict.fromkeys(keys)]
        self.db.write(
            lambda c: c.executemany("INSERT INTO login_failures (key, at) VALUES (?, ?)", rows)
        )

    def login_failures_since(
        self, keys: Sequence[str], since: float
    ) -> dict[str, tuple[int, float]]:
        """Per key, (failures later than ``since``, the latest one's time); none: left out."""
        by_digest = {digest_secret(key): key for key in keys}
        if not by_digest:
            return {}
        marks = ",".join("?" * len(by_digest))
        rows = self.db.read(
            lambda c: c.execute(
                f"SELECT key, COUNT(*), MAX(at) FROM login_failures "
                f"WHERE key IN ({marks}) AND at > ? GROUP BY key",
                (*by_digest, since),
            ).fetchall()
        )
        return {by_digest[digest]: (int(count), float(latest)) for digest, count, latest in rows}

    def clear_login_failures(self, key: str) -> None:
        self.db.write(
            lambda c: c.execute("DELETE FROM login_failures WHERE key = ?", (digest_secret(key),))
        )
