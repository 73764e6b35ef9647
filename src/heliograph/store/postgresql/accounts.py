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
from typing import TYPE_CHECKING, Any

from heliograph.store.account_records import (
    KEY_COLUMNS,
    KEY_SETTINGS,
    PROJECT_COLUMNS,
    PROJECT_SETTINGS,
    project_from_row,
    setting_values,
    visible_projects_sql,
)
from heliograph.store.base import (
    Organization,
    Project,
    ProjectKey,
)
from heliograph.store.postgresql.access import AccessMixin

if TYPE_CHECKING:
    from heliograph.store.postgresql.database import Connection, PgDatabase

_PROJECTS = (
    f"SELECT {PROJECT_COLUMNS} FROM projects p JOIN organizations o ON o.id = p.organization_id"
)


def _new_id(conn: Connection, sql: str, params: Sequence[Any]) -> int:
    """Run an ``INSERT ... RETURNING id`` and give the id."""
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return int(row[0])


class AccountsMixin(AccessMixin):
    db: PgDatabase

    # -- organizations and projects --------------------------------------

    def create_organization(self, slug: str, name: str) -> Organization:
        org_id = self.db.write(
            lambda c: _new_id(
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
        project_id = self.db.write(
            lambda c: _new_id(
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
