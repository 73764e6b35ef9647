"""Accounts and access, one implementation for every SQL backend.

A mixin of the stores (through each backend's ``access`` module, which names
its :class:`~heliograph.store.sql_dialect.SqlDialect` and its database): the
reads of organizations, projects, ingest keys, users, API tokens, sessions,
failed logins, memberships, teams and visibility, and the writes that are the
same statement on every backend. What the backends write differently (new
ids from ``lastrowid`` or ``RETURNING``, ``INSERT OR IGNORE`` or ``ON
CONFLICT``) stays in their ``accounts`` and ``access`` modules.

The SQL is written once, with ``?`` placeholders; the dialect supplies what
the backends spell differently, so that PostgreSQL's results are the ones
SQLite gives (byte-wise text order). The visibility condition
(:func:`~heliograph.store.account_records.visible_projects_sql`) names its
user with ``?`` each time, so its parameter is repeated.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from heliograph.store.account_records import (
    KEY_COLUMNS,
    KEY_SETTINGS,
    LAST_USED_GRANULARITY,
    LIVE_PROJECT,
    ORG_WIDE_ROLES,
    ORGANIZATION_SETTINGS,
    PROJECT_COLUMNS,
    PROJECT_SETTINGS,
    TOKEN_PREFIX_CHARS,
    digest_secret,
    normalize_scopes,
    project_from_row,
    setting_values,
    tombstone_slug,
    visible_projects_sql,
)
from heliograph.store.base import (
    LOGIN_LINK_TTL,
    SESSION_TTL,
    ApiTokenInfo,
    Member,
    Organization,
    Project,
    ProjectKey,
    SessionInfo,
    Team,
    UserAccount,
)
from heliograph.store.llm_reads import ReadCursor
from heliograph.store.sql_dialect import SqlDialect

__all__ = ["AccountConnection", "AccountDatabase", "AccountReadsMixin"]

T = TypeVar("T")

_ALL_PROJECTS = (
    f"SELECT {PROJECT_COLUMNS} FROM projects p JOIN organizations o ON o.id = p.organization_id"
)
# Live projects only; queries add their conditions with AND.
_PROJECTS = f"{_ALL_PROJECTS} WHERE {LIVE_PROJECT}"
# "May this user see project p", the user given once per ``?``.
_VISIBLE = visible_projects_sql("?")
_VISIBLE_PARAMS = _VISIBLE.count("?")


class AccountCursor(ReadCursor, Protocol):
    """What a statement gives: its rows, and how many rows it changed."""

    @property
    def rowcount(self) -> int: ...


class AccountConnection(Protocol):
    """The connection a read or a write gets: ``sqlite3.Connection`` or psycopg's."""

    def execute(self, sql: str, params: Sequence[Any], /) -> AccountCursor: ...


class AccountDatabase(Protocol):
    """A backend's database: reads, writes, and writes nobody waits for."""

    def read(self, query: Callable[[AccountConnection], T]) -> T: ...

    def write(self, task: Callable[[AccountConnection], T]) -> T: ...

    def submit(self, task: Callable[[AccountConnection], T]) -> Future[T]: ...


DbT = TypeVar("DbT", bound=AccountDatabase)


class AccountReadsMixin(Generic[DbT]):
    """Accounts and access shared by the backends; the class using it provides
    ``db``, ``dialect`` and ``token_id`` (the column that numbers API tokens).

    Generic in the backend's database class, so that a store's other mixins
    may declare ``db`` as that class too.
    """

    db: DbT
    dialect: ClassVar[SqlDialect]
    #: The column of ``api_tokens`` that a token's id (:class:`ApiTokenInfo`) is.
    token_id: ClassVar[str]

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        statement = self.dialect.sql(sql)
        return self.db.read(lambda c: c.execute(statement, params).fetchall())

    def _row(self, sql: str, params: Sequence[Any] = ()) -> Any:
        statement = self.dialect.sql(sql)
        return self.db.read(lambda c: c.execute(statement, params).fetchone())

    def _write(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement in a write; the number of rows it changed."""
        statement = self.dialect.sql(sql)
        return self.db.write(lambda c: c.execute(statement, params).rowcount)

    # -- organizations and projects --------------------------------------

    def get_organization(self, slug: str) -> Organization | None:
        row = self._row(
            "SELECT id, slug, name, ai_policy FROM organizations WHERE slug = ?", (slug,)
        )
        return Organization(*row) if row else None

    def get_organization_by_id(self, org_id: int) -> Organization | None:
        row = self._row(
            "SELECT id, slug, name, ai_policy FROM organizations WHERE id = ?", (org_id,)
        )
        return Organization(*row) if row else None

    def organizations(self, user_id: int | None = None) -> list[Organization]:
        """Organizations a user is a member of (superusers: all; all when None)."""
        sql = "SELECT id, slug, name, ai_policy FROM organizations o"
        params: list[int] = []
        if user_id is not None:
            sql += (
                " WHERE EXISTS (SELECT 1 FROM users su WHERE su.id = ? AND su.is_superuser <> 0)"
                " OR EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = ?"
                " AND m.organization_id = o.id)"
            )
            params = [user_id, user_id]
        rows = self._rows(f"{sql} ORDER BY o.slug{self.dialect.text_order}", params)
        return [Organization(*row) for row in rows]

    def update_organization(self, organization_id: int, **changes: object) -> None:
        """Change an organization's ``name`` or ``ai_policy`` (checked by the caller)."""
        unknown = set(changes) - ORGANIZATION_SETTINGS
        if unknown:
            raise ValueError(f"unknown organization settings: {sorted(unknown)}")
        if not changes:
            return
        assignments = ", ".join(f"{key} = ?" for key in changes)
        self._write(
            f"UPDATE organizations SET {assignments} WHERE id = ?",
            (*changes.values(), organization_id),
        )

    def get_project(self, org_slug: str, project_slug: str) -> Project | None:
        row = self._row(f"{_PROJECTS} AND o.slug = ? AND p.slug = ?", (org_slug, project_slug))
        return project_from_row(row) if row else None

    def get_project_by_id(self, project_id: int) -> Project | None:
        row = self._row(f"{_PROJECTS} AND p.id = ?", (project_id,))
        return project_from_row(row) if row else None

    def list_projects(self, user_id: int | None = None) -> list[Project]:
        """Projects visible to a user (all of them when ``user_id`` is None).

        Visibility is :func:`~heliograph.store.account_records.visible_projects_sql`'s
        rule: owners and admins see their organizations' projects, members and
        viewers those of their teams and those in no team.
        """
        sql = _PROJECTS
        params: list[int] = []
        if user_id is not None:
            sql += f" AND {_VISIBLE}"
            params = [user_id] * _VISIBLE_PARAMS
        order = self.dialect.text_order
        rows = self._rows(f"{sql} ORDER BY o.slug{order}, p.slug{order}", params)
        return [project_from_row(r) for r in rows]

    def organization_projects(self, organization_id: int) -> list[Project]:
        rows = self._rows(
            f"{_PROJECTS} AND p.organization_id = ? ORDER BY p.slug{self.dialect.text_order}",
            (organization_id,),
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
        self._write(f"UPDATE projects SET {assignments} WHERE id = ?", (*values, project_id))

    def delete_project(self, project_id: int) -> bool:
        """Delete a project as users see it, in one write; False when there is none.

        Its keys are revoked (ingest refuses them from the next key reload),
        it leaves its teams, its alert rules are switched off (a heartbeat
        would otherwise report the silence), and it takes a tombstone slug,
        so every read skips it and its slug is free again. Its stored data
        stays until the next retention pass, which deletes all of it
        (:meth:`deleted_projects`).
        """
        project = self.get_project_by_id(project_id)
        if project is None:
            return False
        now = time.time()
        statements = [
            (
                "UPDATE project_keys SET revoked_at = ? WHERE project_id = ? "
                "AND revoked_at IS NULL",
                (now, project_id),
            ),
            ("DELETE FROM team_projects WHERE project_id = ?", (project_id,)),
            ("UPDATE alert_rules SET enabled = 0 WHERE project_id = ?", (project_id,)),
            (
                f"UPDATE projects AS p SET slug = ? WHERE p.id = ? AND {LIVE_PROJECT}",
                (tombstone_slug(project_id, project.slug), project_id),
            ),
        ]
        prepared = [(self.dialect.sql(sql), params) for sql, params in statements]

        def write(conn: AccountConnection) -> int:
            changed = 0
            for sql, params in prepared:
                changed = conn.execute(sql, params).rowcount
            return changed  # the last statement's: whether the project was still live

        return self.db.write(write) == 1

    def deleted_projects(self) -> list[Project]:
        """Deleted projects, whose data retention removes whatever their settings say."""
        rows = self._rows(f"{_ALL_PROJECTS} WHERE NOT ({LIVE_PROJECT}) ORDER BY p.id")
        return [project_from_row(r) for r in rows]

    # -- ingest keys -----------------------------------------------------

    def create_key(
        self, project_id: int, label: str = "Default", rate_limit: int | None = None
    ) -> ProjectKey:
        key = secrets.token_hex(16)
        now = time.time()
        self._write(
            "INSERT INTO project_keys (public_key, project_id, label, created_at, rate_limit) "
            "VALUES (?, ?, ?, ?, ?)",
            (key, project_id, label, now, rate_limit),
        )
        return ProjectKey(key, project_id, label, now, None, rate_limit)

    def project_keys(self, project_id: int) -> list[ProjectKey]:
        rows = self._rows(
            f"SELECT {KEY_COLUMNS} FROM project_keys WHERE project_id = ? ORDER BY created_at",
            (project_id,),
        )
        return [ProjectKey(*r) for r in rows]

    def get_key(self, project_id: int, public_key: str) -> ProjectKey | None:
        """A key of this project (None for another project's key: no cross-project edits)."""
        row = self._row(
            f"SELECT {KEY_COLUMNS} FROM project_keys WHERE project_id = ? AND public_key = ?",
            (project_id, public_key),
        )
        return ProjectKey(*row) if row else None

    def update_key(self, project_id: int, public_key: str, **changes: object) -> None:
        unknown = set(changes) - KEY_SETTINGS
        if unknown:
            raise ValueError(f"unknown key settings: {sorted(unknown)}")
        if not changes:
            return
        assignments = ", ".join(f"{key} = ?" for key in changes)
        self._write(
            f"UPDATE project_keys SET {assignments} WHERE project_id = ? AND public_key = ?",
            (*changes.values(), project_id, public_key),
        )

    def revoke_key(self, project_id: int, public_key: str) -> bool:
        """Revoke a key for good; False when it is not this project's or already revoked."""
        changed = self._write(
            "UPDATE project_keys SET revoked_at = ? WHERE project_id = ? AND public_key = ? "
            "AND revoked_at IS NULL",
            (time.time(), project_id, public_key),
        )
        return changed == 1

    def active_keys(self) -> dict[str, int]:
        """Every usable ingest key and its project: what ingest authenticates against."""
        return {key: project_id for key, (project_id, _rate) in self.ingest_keys().items()}

    def ingest_keys(self) -> dict[str, tuple[int, int | None]]:
        """Every usable ingest key -> (its project, its own rate limit or None)."""
        rows = self._rows(
            "SELECT public_key, project_id, rate_limit FROM project_keys WHERE revoked_at IS NULL"
        )
        return {key: (project_id, rate) for key, project_id, rate in rows}

    def project_rate_limits(self) -> dict[int, int | None]:
        """Project id -> its own rate limit (None: the server default)."""
        rows = self._rows("SELECT id, rate_limit FROM projects")
        return {project_id: rate for project_id, rate in rows}

    # -- users and credentials -------------------------------------------

    def get_user_by_email(self, email: str) -> tuple[UserAccount, str | None] | None:
        row = self._row(
            "SELECT id, email, is_superuser, password_hash FROM users WHERE email = ?",
            (email.lower(),),
        )
        if row is None:
            return None
        return UserAccount(row[0], row[1], bool(row[2])), row[3]

    def set_password(self, user_id: int, password_hash: str) -> None:
        self._write("UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user_id))

    def count_users(self) -> int:
        return int(self._row("SELECT COUNT(*) FROM users")[0])

    def create_api_token(self, user_id: int, label: str, scopes: str = "read write admin") -> str:
        """A new personal API token; the raw value is returned once and never stored."""
        raw = "hgp_" + secrets.token_urlsafe(32)
        self._write(
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
        return raw

    def user_for_api_token(self, raw: str) -> tuple[UserAccount, frozenset[str]] | None:
        token_hash = digest_secret(raw)
        row = self._row(
            "SELECT u.id, u.email, u.is_superuser, t.scopes, t.last_used_at FROM api_tokens t "
            "JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?",
            (token_hash,),
        )
        if row is None:
            return None
        now = time.time()
        if row[4] is None or now - row[4] > LAST_USED_GRANULARITY:
            # Fire and forget: the answer must not wait for this write.
            statement = self.dialect.sql(
                "UPDATE api_tokens SET last_used_at = ? WHERE token_hash = ?"
            )
            self.db.submit(lambda c: c.execute(statement, (now, token_hash)))
        return UserAccount(row[0], row[1], bool(row[2])), frozenset(row[3].split())

    def list_api_tokens(self, user_id: int) -> list[ApiTokenInfo]:
        rows = self._rows(
            f"SELECT {self.token_id}, label, prefix, scopes, created_at, last_used_at "
            "FROM api_tokens WHERE user_id = ? ORDER BY created_at DESC",
            (user_id,),
        )
        return [ApiTokenInfo(r[0], r[1], r[2], frozenset(r[3].split()), r[4], r[5]) for r in rows]

    def revoke_api_token(self, user_id: int, token_id: int) -> bool:
        """Delete one of the user's tokens; False when it is not theirs (or gone)."""
        changed = self._write(
            f"DELETE FROM api_tokens WHERE {self.token_id} = ? AND user_id = ?",
            (token_id, user_id),
        )
        return changed == 1

    def create_login_link(self, user_id: int, ttl: float = LOGIN_LINK_TTL) -> str:
        raw = secrets.token_urlsafe(32)
        self._write(
            "INSERT INTO login_links (token_hash, user_id, expires_at) VALUES (?, ?, ?)",
            (digest_secret(raw), user_id, time.time() + ttl),
        )
        return raw

    def consume_login_link(self, raw: str) -> int | None:
        """Use a one-time link: returns its user the first time, None ever after.

        One conditional ``UPDATE``: of two writers spending the same link at
        once, the second sees ``used_at`` set (PostgreSQL: after the first's
        row lock), and gets None.
        """
        statement = self.dialect.sql(
            "UPDATE login_links SET used_at = ? WHERE token_hash = ? AND used_at IS NULL "
            "AND expires_at > ? RETURNING user_id"
        )

        def write(conn: AccountConnection) -> int | None:
            now = time.time()
            row = conn.execute(statement, (now, digest_secret(raw), now)).fetchone()
            return int(row[0]) if row else None

        return self.db.write(write)

    def create_session(self, user_id: int) -> tuple[str, str]:
        """A new login session: returns (session token for the cookie, CSRF token)."""
        raw = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24)
        now = time.time()
        self._write(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (digest_secret(raw), user_id, csrf, now, now + SESSION_TTL),
        )
        return raw, csrf

    def get_session(self, raw: str) -> SessionInfo | None:
        row = self._row(
            "SELECT u.id, u.email, u.is_superuser, s.csrf_token FROM sessions s "
            "JOIN users u ON u.id = s.user_id WHERE s.token_hash = ? AND s.expires_at > ?",
            (digest_secret(raw), time.time()),
        )
        if row is None:
            return None
        return SessionInfo(UserAccount(row[0], row[1], bool(row[2])), row[3])

    def delete_session(self, raw: str) -> None:
        self._write("DELETE FROM sessions WHERE token_hash = ?", (digest_secret(raw),))

    def delete_sessions(self, user_id: int, *, keep: str | None = None) -> None:
        """End every session of a user (but ``keep``, the one asking)."""
        kept = digest_secret(keep) if keep else ""
        self._write("DELETE FROM sessions WHERE user_id = ? AND token_hash <> ?", (user_id, kept))

    # -- failed logins (login throttling) ----------------------------------

    def login_failures_since(
        self, keys: Sequence[str], since: float
    ) -> dict[str, tuple[int, float]]:
        """Per key, (failures later than ``since``, the latest one's time); none: left out."""
        by_digest = {digest_secret(key): key for key in keys}
        if not by_digest:
            return {}
        condition, params = self.dialect.in_list("key", list(by_digest))
        rows = self._rows(
            "SELECT key, COUNT(*), MAX(at) FROM login_failures "
            f"WHERE {condition} AND at > ? GROUP BY key",
            (*params, since),
        )
        return {by_digest[digest]: (int(count), float(latest)) for digest, count, latest in rows}

    def clear_login_failures(self, key: str) -> None:
        self._write("DELETE FROM login_failures WHERE key = ?", (digest_secret(key),))

    # -- organization memberships -----------------------------------------

    def add_member(self, user_id: int, organization_id: int, role: str) -> None:
        """Add a user to an organization, or change their role there."""
        self._write(
            "INSERT INTO memberships (user_id, organization_id, role) VALUES (?, ?, ?) "
            "ON CONFLICT (user_id, organization_id) DO UPDATE SET role = excluded.role",
            (user_id, organization_id, role),
        )

    def remove_member(self, user_id: int, organization_id: int) -> None:
        """Remove a user from an organization and from all of its teams."""
        from_teams = self.dialect.sql(
            "DELETE FROM team_members WHERE user_id = ? AND team_id IN "
            "(SELECT id FROM teams WHERE organization_id = ?)"
        )
        from_org = self.dialect.sql(
            "DELETE FROM memberships WHERE user_id = ? AND organization_id = ?"
        )

        def write(conn: AccountConnection) -> None:
            conn.execute(from_teams, (user_id, organization_id))
            conn.execute(from_org, (user_id, organization_id))

        self.db.write(write)

    def role_in(self, user: UserAccount, organization_id: int) -> str | None:
        """The user's role in an organization (superusers: owner); None if not a member."""
        if user.is_superuser:
            return "owner"
        row = self._row(
            "SELECT role FROM memberships WHERE user_id = ? AND organization_id = ?",
            (user.id, organization_id),
        )
        return row[0] if row else None

    def project_role(self, user: UserAccount, project: Project) -> str | None:
        """The user's role for this project; None when they may not see it at all."""
        role = self.role_in(user, project.organization_id)
        if role is None or role in ORG_WIDE_ROLES:
            return role
        visible = self._row(
            f"SELECT {_VISIBLE} FROM projects p WHERE p.id = ?",
            (*[user.id] * _VISIBLE_PARAMS, project.id),
        )
        return role if visible and visible[0] else None

    def organization_members(self, organization_id: int) -> list[Member]:
        rows = self._rows(
            "SELECT u.id, u.email, u.is_superuser, m.role, "
            f"(SELECT {self.dialect.id_list('tm.team_id')} FROM team_members tm JOIN teams t "
            " ON t.id = tm.team_id WHERE tm.user_id = u.id AND t.organization_id = ?) "
            "FROM memberships m JOIN users u ON u.id = m.user_id "
            f"WHERE m.organization_id = ? ORDER BY u.email{self.dialect.text_order}",
            (organization_id, organization_id),
        )
        return [
            Member(
                UserAccount(row[0], row[1], bool(row[2])),
                row[3],
                frozenset(int(t) for t in (row[4] or "").split(",") if t),
            )
            for row in rows
        ]

    def count_owners(self, organization_id: int) -> int:
        row = self._row(
            "SELECT COUNT(*) FROM memberships WHERE organization_id = ? AND role = 'owner'",
            (organization_id,),
        )
        return int(row[0])

    # -- teams ---------------------------------------------------------------

    def teams(self, organization_id: int) -> list[Team]:
        rows = self._rows(
            "SELECT id, organization_id, slug, name FROM teams WHERE organization_id = ? "
            f"ORDER BY name{self.dialect.text_order}",
            (organization_id,),
        )
        return [Team(*row) for row in rows]

    def get_team(self, organization_id: int, team_id: int) -> Team | None:
        row = self._row(
            "SELECT id, organization_id, slug, name FROM teams "
            "WHERE organization_id = ? AND id = ?",
            (organization_id, team_id),
        )
        return Team(*row) if row else None

    def delete_team(self, team_id: int) -> None:
        self._write("DELETE FROM teams WHERE id = ?", (team_id,))

    def remove_team_member(self, team_id: int, user_id: int) -> None:
        self._write(
            "DELETE FROM team_members WHERE team_id = ? AND user_id = ?", (team_id, user_id)
        )

    def remove_team_project(self, team_id: int, project_id: int) -> None:
        self._write(
            "DELETE FROM team_projects WHERE team_id = ? AND project_id = ?",
            (team_id, project_id),
        )

    def team_projects(self, organization_id: int) -> dict[int, frozenset[int]]:
        """Team id -> the ids of its projects, for every team of an organization."""
        rows = self._rows(
            "SELECT tp.team_id, tp.project_id FROM team_projects tp JOIN teams t "
            "ON t.id = tp.team_id WHERE t.organization_id = ?",
            (organization_id,),
        )
        found: dict[int, set[int]] = {}
        for team_id, project_id in rows:
            found.setdefault(team_id, set()).add(project_id)
        return {team_id: frozenset(ids) for team_id, ids in found.items()}

    # -- visibility ------------------------------------------------------------

    def visible_project_ids(self, user_id: int) -> set[int]:
        rows = self._rows(
            f"SELECT p.id FROM projects p WHERE {LIVE_PROJECT} AND {_VISIBLE}",
            [user_id] * _VISIBLE_PARAMS,
        )
        return {row[0] for row in rows}
