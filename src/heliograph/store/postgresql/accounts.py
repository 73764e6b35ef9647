"""Organizations, projects, ingest keys, users and their credentials (PostgreSQL).

The same rules as the SQLite backend (:mod:`heliograph.store.account_records`
holds what they share): secrets are stored only as SHA-256 digests, failed
logins are counted under digests of their keys. Every write is one statement
or one transaction that N nodes may run at once: ids come from ``RETURNING``,
a login link is spent by a single conditional ``UPDATE``. Text is ordered
``COLLATE "C"`` (byte order, as SQLite sorts), whatever the database's locale.
"""

from __future__ import annotations

import secrets
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
from heliograph.store.postgresql.access import AccessMixin, scalar

if TYPE_CHECKING:
    from heliograph.store.postgresql.database import Connection, PgDatabase

_PROJECTS = (
    f"SELECT {PROJECT_COLUMNS} FROM projects p JOIN organizations o ON o.id = p.organization_id"
)


class AccountsMixin(AccessMixin):
    db: PgDatabase

    # -- organizations and projects --------------------------------------

    def create_organization(self, slug: str, name: str) -> Organization:
        org_id: int = self.db.write(
            lambda c: scalar(
                c,
                "INSERT INTO organizations (slug, name, created_at) VALUES (%s, %s, %s) "
                "RETURNING id",
                (slug, name, time.time()),
            )
        )
        return Organization(org_id, slug, name, "allowed")

    def get_organization(self, slug: str) -> Organization | None:
        row = self.db.read(
            lambda c: c.execute(
                "SELECT id, slug, name, ai_policy FROM organizations WHERE slug = %s", (slug,)
            ).fetchone()
        )
        return Organization(*row) if row else None

    def get_organization_by_id(self, org_id: int) -> Organization | None:
        row = self.db.read(
            lambda c: c.execute(
                "SELECT id, slug, name, ai_policy FROM organizations WHERE id = %s", (org_id,)
            ).fetchone()
        )
        return Organization(*row) if row else None

    def create_project(
        self, organization_id: int, slug: str, name: str, platform: str = "python"
    ) -> Project:
        project_id: int = self.db.write(
            lambda c: scalar(
                c,
                "INSERT INTO projects (organization_id, slug, name, platform, created_at) "
                "VALUES (%s, %s, %s, %s, %s) RETURNING id",
                (organization_id, slug, name, platform, time.time()),
            )
        )
        project = self.get_project_by_id(project_id)
        assert project is not None
        return project

    def get_project(self, org_slug: str, project_slug: str) -> Project | None:
        row = self.db.read(
            lambda c: c.execute(
                f"{_PROJECTS} WHERE o.slug = %s AND p.slug = %s", (org_slug, project_slug)
            ).fetchone()
        )
        return project_from_row(row) if row else None

    def get_project_by_id(self, project_id: int) -> Project | None:
        row = self.db.read(
            lambda c: c.execute(f"{_PROJECTS} WHERE p.id = %s", (project_id,)).fetchone()
        )
        return project_from_row(row) if row else None

    def list_projects(self, user_id: int | None = None) -> list[Project]:
        """Projects visible to a user (all of them when ``user_id`` is None).

        Visibility is :func:`~heliograph.store.account_records.visible_projects_sql`'s
        rule, the one every backend and every question shares.
        """
        sql = _PROJECTS
        params: dict[str, int] = {}
        if user_id is not None:
            sql += f" WHERE {visible_projects_sql('%(user)s')}"
            params = {"user": user_id}
        rows = self.db.read(
            lambda c: c.execute(
                sql + ' ORDER BY o.slug COLLATE "C", p.slug COLLATE "C"', params
            ).fetchall()
        )
        return [project_from_row(r) for r in rows]

    def organization_projects(self, organization_id: int) -> list[Project]:
        rows = self.db.read(
            lambda c: c.execute(
                f'{_PROJECTS} WHERE p.organization_id = %s ORDER BY p.slug COLLATE "C"',
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
        assignments = ", ".join(f"{key} = %s" for key in changes)
        values = setting_values(changes)
        self.db.write(
            lambda c: c.execute(
                f"UPDATE projects SET {assignments} WHERE id = %s",
                (*values, project_id),
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
                "VALUES (%s, %s, %s, %s, %s)",
                (key, project_id, label, now, rate_limit),
            )
        )
        return ProjectKey(key, project_id, label, now, None, rate_limit)

    def project_keys(self, project_id: int) -> list[ProjectKey]:
        rows = self.db.read(
            lambda c: c.execute(
                f"SELECT {KEY_COLUMNS} FROM project_keys WHERE project_id = %s ORDER BY created_at",
                (project_id,),
            ).fetchall()
        )
        return [ProjectKey(*r) for r in rows]

    def get_key(self, project_id: int, public_key: str) -> ProjectKey | None:
        """A key of this project (None for another project's key: no cross-project edits)."""
        row = self.db.read(
            lambda c: c.execute(
                f"SELECT {KEY_COLUMNS} FROM project_keys WHERE project_id = %s AND public_key = %s",
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
        assignments = ", ".join(f"{key} = %s" for key in changes)
        self.db.write(
            lambda c: c.execute(
                f"UPDATE project_keys SET {assignments} WHERE project_id = %s AND public_key = %s",
                (*changes.values(), project_id, public_key),
            )
        )

    def revoke_key(self, project_id: int, public_key: str) -> bool:
        """Revoke a key for good; False when it is not this project's or already revoked."""
        return self.db.write(
            lambda c: (
                c.execute(
                    "UPDATE project_keys SET revoked_at = %s "
                    "WHERE project_id = %s AND public_key = %s AND revoked_at IS NULL",
                    (time.time(), project_id, public_key),
                ).rowcount
                == 1
            )
        )

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
        user_id: int = self.db.write(
            lambda c: scalar(
                c,
                "INSERT INTO users (email, password_hash, is_superuser, created_at) "
                "VALUES (%s, %s, %s, %s) RETURNING id",
                (email.lower(), password_hash, int(is_superuser), time.time()),
            )
        )
        return UserAccount(user_id, email.lower(), is_superuser)

    def get_user_by_email(self, email: str) -> tuple[UserAccount, str | None] | None:
        row = self.db.read(
            lambda c: c.execute(
                "SELECT id, email, is_superuser, password_hash FROM users WHERE email = %s",
                (email.lower(),),
            ).fetchone()
        )
        if row is None:
            return None
        return UserAccount(row[0], row[1], bool(row[2])), row[3]

    def set_password(self, user_id: int, password_hash: str) -> None:
        self.db.write(
            lambda c: c.execute(
                "UPDATE users SET password_hash = %s WHERE id = %s", (password_hash, user_id)
            )
        )

    def count_users(self) -> int:
        return int(self.db.read(lambda c: scalar(c, "SELECT COUNT(*) FROM users")))

    def create_api_token(self, user_id: int, label: str, scopes: str = "read write admin") -> str:
        """A new personal API token; the raw value is returned once and never stored."""
        raw = "hgp_" + secrets.token_urlsafe(32)
        self.db.write(
            lambda c: c.execute(
                "INSERT INTO api_tokens (token_hash, user_id, label, scopes, created_at, prefix) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
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
                "JOIN users u ON u.id = t.user_id WHERE t.token_hash = %s",
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
                    "UPDATE api_tokens SET last_used_at = %s WHERE token_hash = %s",
                    (now, token_hash),
                )
            )
        return UserAccount(row[0], row[1], bool(row[2])), frozenset(row[3].split())

    def list_api_tokens(self, user_id: int) -> list[ApiTokenInfo]:
        rows = self.db.read(
            lambda c: c.execute(
                "SELECT id, label, prefix, scopes, created_at, last_used_at FROM api_tokens "
                "WHERE user_id = %s ORDER BY created_at DESC",
                (user_id,),
            ).fetchall()
        )
        return [ApiTokenInfo(r[0], r[1], r[2], frozenset(r[3].split()), r[4], r[5]) for r in rows]

    def revoke_api_token(self, user_id: int, token_id: int) -> bool:
        """Delete one of the user's tokens; False when it is not theirs (or gone)."""
        return self.db.write(
            lambda c: (
                c.execute(
                    "DELETE FROM api_tokens WHERE id = %s AND user_id = %s", (token_id, user_id)
                ).rowcount
                == 1
            )
        )

    def create_login_link(self, user_id: int, ttl: float = LOGIN_LINK_TTL) -> str:
        raw = secrets.token_urlsafe(32)
        self.db.write(
            lambda c: c.execute(
                "INSERT INTO login_links (token_hash, user_id, expires_at) VALUES (%s, %s, %s)",
                (digest_secret(raw), user_id, time.time() + ttl),
            )
        )
        return raw

    def consume_login_link(self, raw: str) -> int | None:
        """Use a one-time link: returns its user the first time, None ever after.

        One conditional ``UPDATE``: of two nodes spending the same link at once,
        the second waits for the first's row lock, sees ``used_at`` set, and gets None.
        """

        def write(conn: Connection) -> int | None:
            now = time.time()
            row = conn.execute(
                "UPDATE login_links SET used_at = %s WHERE token_hash = %s AND used_at IS NULL "
                "AND expires_at > %s RETURNING user_id",
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
                "VALUES (%s, %s, %s, %s, %s)",
                (digest_secret(raw), user_id, csrf, now, now + SESSION_TTL),
            )
        )
        return raw, csrf

    def get_session(self, raw: str) -> SessionInfo | None:
        row = self.db.read(
            lambda c: c.execute(
                "SELECT u.id, u.email, u.is_superuser, s.csrf_token FROM sessions s "
                "JOIN users u ON u.id = s.user_id WHERE s.token_hash = %s AND s.expires_at > %s",
                (digest_secret(raw), time.time()),
            ).fetchone()
        )
        if row is None:
            return None
        return SessionInfo(UserAccount(row[0], row[1], bool(row[2])), row[3])

    def delete_session(self, raw: str) -> None:
        self.db.write(
            lambda c: c.execute("DELETE FROM sessions WHERE token_hash = %s", (digest_secret(raw),))
        )

    def delete_sessions(self, user_id: int, *, keep: str | None = None) -> None:
        """End every session of a user (but ``keep``, the one asking)."""
        kept = digest_secret(keep) if keep else ""
        self.db.write(
            lambda c: c.execute(
                "DELETE FROM sessions WHERE user_id = %s AND token_hash <> %s", (user_id, kept)
            )
        )

    # -- failed logins (login throttling) ----------------------------------

    def record_login_failure(self, keys: Sequence[str], at: float) -> None:
        rows = [(digest_secret(key), at) for key in dict.fromkeys(keys)]

        def write(conn: Connection) -> None:
            with conn.cursor() as cursor:
                cursor.executemany("INSERT INTO login_failures (key, at) VALUES (%s, %s)", rows)

        self.db.write(write)

    def login_failures_since(
        self, keys: Sequence[str], since: float
    ) -> dict[str, tuple[int, float]]:
        """Per key, (failures later than ``since``, the latest one's time); none: left out."""
        by_digest = {digest_secret(key): key for key in keys}
        if not by_digest:
            return {}
        rows = self.db.read(
            lambda c: c.execute(
                "SELECT key, COUNT(*), MAX(at) FROM login_failures "
                "WHERE key = ANY(%s) AND at > %s GROUP BY key",
                (list(by_digest), since),
            ).fetchall()
        )
        return {by_digest[digest]: (int(count), float(latest)) for digest, count, latest in rows}

    def clear_login_failures(self, key: str) -> None:
        self.db.write(
            lambda c: c.execute("DELETE FROM login_failures WHERE key = %s", (digest_secret(key),))
        )
