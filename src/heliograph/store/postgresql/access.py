"""Who sees which project: organization roles, teams, and project visibility (PostgreSQL).

The model is the SQLite backend's (:mod:`heliograph.store.sqlite.access` and
``docs/access.md`` describe it), and so is its one visibility condition,
:func:`~heliograph.store.account_records.visible_projects_sql`: the two
backends cannot disagree on who sees what. Memberships and team links are
single-statement upserts, safe when several nodes write them at once. Text is
ordered ``COLLATE "C"`` (byte order, as SQLite sorts), whatever the locale.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from heliograph.store.account_records import ORG_WIDE_ROLES, visible_projects_sql
from heliograph.store.base import Member, Project, Team, UserAccount, slugify

if TYPE_CHECKING:
    from heliograph.store.postgresql.database import Connection, PgDatabase

_VISIBLE = visible_projects_sql("%(user)s")


def scalar(conn: Connection, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> Any:
    """The one value of a query that always gives one row (a count, ``INSERT ... RETURNING``)."""
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return row[0]


class AccessMixin:
    """Memberships, teams and visibility; the class using it provides ``db``."""

    db: PgDatabase

    # -- organization memberships -----------------------------------------

    def add_member(self, user_id: int, organization_id: int, role: str) -> None:
        """Add a user to an organization, or change their role there."""
        self.db.write(
            lambda c: c.execute(
                "INSERT INTO memberships (user_id, organization_id, role) VALUES (%s, %s, %s) "
                "ON CONFLICT (user_id, organization_id) DO UPDATE SET role = excluded.role",
                (user_id, organization_id, role),
            )
        )

    def remove_member(self, user_id: int, organization_id: int) -> None:
        """Remove a user from an organization and from all of its teams."""

        def write(conn: Connection) -> None:
            conn.execute(
                "DELETE FROM team_members WHERE user_id = %s AND team_id IN "
                "(SELECT id FROM teams WHERE organization_id = %s)",
                (user_id, organization_id),
            )
            conn.execute(
                "DELETE FROM memberships WHERE user_id = %s AND organization_id = %s",
                (user_id, organization_id),
            )

        self.db.write(write)

    def role_in(self, user: UserAccount, organization_id: int) -> str | None:
        """The user's role in an organization (superusers: owner); None if not a member."""
        if user.is_superuser:
            return "owner"
        row = self.db.read(
            lambda c: c.execute(
                "SELECT role FROM memberships WHERE user_id = %s AND organization_id = %s",
                (user.id, organization_id),
            ).fetchone()
        )
        return row[0] if row else None

    def project_role(self, user: UserAccount, project: Project) -> str | None:
        """The user's role for this project; None when they may not see it at all."""
        role = self.role_in(user, project.organization_id)
        if role is None or role in ORG_WIDE_ROLES:
            return role
        visible = self.db.read(
            lambda c: c.execute(
                f"SELECT {_VISIBLE} FROM projects p WHERE p.id = %(project)s",
                {"user": user.id, "project": project.id},
            ).fetchone()
        )
        return role if visible and visible[0] else None

    def organization_members(self, organization_id: int) -> list[Member]:
        rows = self.db.read(
            lambda c: c.execute(
                "SELECT u.id, u.email, u.is_superuser, m.role, "
                "ARRAY(SELECT tm.team_id FROM team_members tm JOIN teams t "
                " ON t.id = tm.team_id WHERE tm.user_id = u.id AND t.organization_id = %s) "
                "FROM memberships m JOIN users u ON u.id = m.user_id "
                'WHERE m.organization_id = %s ORDER BY u.email COLLATE "C"',
                (organization_id, organization_id),
            ).fetchall()
        )
        return [
            Member(UserAccount(row[0], row[1], bool(row[2])), row[3], frozenset(row[4]))
            for row in rows
        ]

    def count_owners(self, organization_id: int) -> int:
        return int(
            self.db.read(
                lambda c: scalar(
                    c,
                    "SELECT COUNT(*) FROM memberships "
                    "WHERE organization_id = %s AND role = 'owner'",
                    (organization_id,),
                )
            )
        )

    # -- teams ---------------------------------------------------------------

    def create_team(self, organization_id: int, name: str, slug: str | None = None) -> Team:
        slug = slug or slugify(name) or "team"

        team_id: int = self.db.write(
            lambda c: scalar(
                c,
                "INSERT INTO teams (organization_id, slug, name, created_at) "
                "VALUES (%s, %s, %s, %s) RETURNING id",
                (organization_id, slug, name, time.time()),
            )
        )
        return Team(team_id, organization_id, slug, name)

    def teams(self, organization_id: int) -> list[Team]:
        rows = self.db.read(
            lambda c: c.execute(
                "SELECT id, organization_id, slug, name FROM teams WHERE organization_id = %s "
                'ORDER BY name COLLATE "C"',
                (organization_id,),
            ).fetchall()
        )
        return [Team(*row) for row in rows]

    def get_team(self, organization_id: int, team_id: int) -> Team | None:
        row = self.db.read(
            lambda c: c.execute(
                "SELECT id, organization_id, slug, name FROM teams "
                "WHERE organization_id = %s AND id = %s",
                (organization_id, team_id),
            ).fetchone()
        )
        return Team(*row) if row else None

    def delete_team(self, team_id: int) -> None:
        self.db.write(lambda c: c.execute("DELETE FROM teams WHERE id = %s", (team_id,)))

    def add_team_member(self, team_id: int, user_id: int) -> None:
        self.db.write(
            lambda c: c.execute(
                "INSERT INTO team_members (team_id, user_id) VALUES (%s, %s) "
                "ON CONFLICT DO NOTHING",
                (team_id, user_id),
            )
        )

    def remove_team_member(self, team_id: int, user_id: int) -> None:
        self.db.write(
            lambda c: c.execute(
                "DELETE FROM team_members WHERE team_id = %s AND user_id = %s", (team_id, user_id)
            )
        )

    def add_team_project(self, team_id: int, project_id: int) -> None:
        self.db.write(
            lambda c: c.execute(
                "INSERT INTO team_projects (team_id, project_id) VALUES (%s, %s) "
                "ON CONFLICT DO NOTHING",
                (team_id, project_id),
            )
        )

    def remove_team_project(self, team_id: int, project_id: int) -> None:
        self.db.write(
            lambda c: c.execute(
                "DELETE FROM team_projects WHERE team_id = %s AND project_id = %s",
                (team_id, project_id),
            )
        )

    def team_projects(self, organization_id: int) -> dict[int, frozenset[int]]:
        """Team id -> the ids of its projects, for every team of an organization."""
        rows = self.db.read(
            lambda c: c.execute(
                "SELECT tp.team_id, tp.project_id FROM team_projects tp JOIN teams t "
                "ON t.id = tp.team_id WHERE t.organization_id = %s",
                (organization_id,),
            ).fetchall()
        )
        found: dict[int, set[int]] = {}
        for team_id, project_id in rows:
            found.setdefault(team_id, set()).add(project_id)
        return {team_id: frozenset(ids) for team_id, ids in found.items()}

    # -- visibility ------------------------------------------------------------

    def visible_project_ids(self, user_id: int) -> set[int]:
        rows = self.db.read(
            lambda c: c.execute(
                f"SELECT p.id FROM projects p WHERE {_VISIBLE}", {"user": user_id}
            ).fetchall()
        )
        return {row[0] for row in rows}
