"""Who sees which project: organization roles, teams, and project visibility.

The model, in one paragraph (``docs/access.md`` has the long version): a user
belongs to organizations with one role each (owner, admin, member, viewer).
Inside an organization, teams group users and projects. Owners and admins
see every project of their organization; members and viewers see the
projects of their teams, and the projects that belong to no team at all (a
project nobody has put in a team is shared with the whole organization, so a
fresh install and an upgraded one keep working without any team). A
superuser is an owner everywhere.

Every visibility question is answered in SQL, with the one condition
:func:`~heliograph.store.account_records.visible_projects_sql` (shared with
every backend), so that the page, the API and ``list_projects`` can never
disagree.
"""

from __future__ import annotations

import sqlite3
import time
from typing import TYPE_CHECKING

from heliograph.store.account_records import ORG_WIDE_ROLES, visible_projects_sql
from heliograph.store.base import Member, Project, Team, UserAccount, slugify

if TYPE_CHECKING:
    from heliograph.store.sqlite.database import Database

# "May this user see project p", with the user as the named parameter ``:user``.
_VISIBLE = visible_projects_sql(":user")


class AccessMixin:
    """Memberships, teams and visibility; the class using it provides ``db``."""

    db: Database

    # -- organization memberships -----------------------------------------

    def add_member(self, user_id: int, organization_id: int, role: str) -> None:
        """Add a user to an organization, or change their role there."""
        self.db.write(
            lambda c: c.execute(
                "INSERT INTO memberships (user_id, organization_id, role) VALUES (?, ?, ?) "
                "ON CONFLICT (user_id, organization_id) DO UPDATE SET role = excluded.role",
                (user_id, organization_id, role),
            )
        )

    def remove_member(self, user_id: int, organization_id: int) -> None:
        """Remove a user from an organization and from all of its teams."""

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "DELETE FROM team_members WHERE user_id = ? AND team_id IN "
                "(SELECT id FROM teams WHERE organization_id = ?)",
                (user_id, organization_id),
            )
            conn.execute(
                "DELETE FROM memberships WHERE user_id = ? AND organization_id = ?",
                (user_id, organization_id),
            )

        self.db.write(write)

    def role_in(self, user: UserAccount, organization_id: int) -> str | None:
        """The user's role in an organization (superusers: owner); None if not a member."""
        if user.is_superuser:
            return "owner"
        row = self.db.read(
            lambda c: c.execute(
                "SELECT role FROM memberships WHERE user_id = ? AND organization_id = ?",
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
                f"SELECT {_VISIBLE} FROM projects p WHERE p.id = :project",
                {"user": user.id, "project": project.id},
            ).fetchone()
        )
        return role if visible and visible[0] else None

    def organization_members(self, organization_id: int) -> list[Member]:
        rows = self.db.read(
            lambda c: c.execute(
                "SELECT u.id, u.email, u.is_superuser, m.role, "
                "(SELECT group_concat(tm.team_id) FROM team_members tm JOIN teams t "
                " ON t.id = tm.team_id WHERE tm.user_id = u.id AND t.organization_id = ?) "
                "FROM memberships m JOIN users u ON u.id = m.user_id "
                "WHERE m.organization_id = ? ORDER BY u.email",
                (organization_id, organization_id),
            ).fetchall()
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
        return int(
            self.db.read(
                lambda c: c.execute(
                    "SELECT COUNT(*) FROM memberships WHERE organization_id = ? AND role = 'owner'",
                    (organization_id,),
                ).fetchone()[0]
            )
        )

    # -- teams ---------------------------------------------------------------

    def create_team(self, organization_id: int, name: str, slug: str | None = None) -> Team:
        slug = slug or slugify(name) or "team"

        def write(conn: sqlite3.Connection) -> int:
            cursor = conn.execute(
                "INSERT INTO teams (organization_id, slug, name, created_at) VALUES (?, ?, ?, ?)",
                (organization_id, slug, name, time.time()),
            )
            return cursor.lastrowid or 0

        return Team(self.db.write(write), organization_id, slug, name)

    def teams(self, organization_id: int) -> list[Team]:
        rows = self.db.read(
            lambda c: c.execute(
                "SELECT id, organization_id, slug, name FROM teams WHERE organization_id = ? "
                "ORDER BY name",
                (organization_id,),
            ).fetchall()
        )
        return [Team(*row) for row in rows]

    def get_team(self, organization_id: int, team_id: int) -> Team | None:
        row = self.db.read(
            lambda c: c.execute(
                "SELECT id, organization_id, slug, name FROM teams "
                "WHERE organization_id = ? AND id = ?",
                (organization_id, team_id),
            ).fetchone()
        )
        return Team(*row) if row else None

    def delete_team(self, team_id: int) -> None:
        self.db.write(lambda c: c.execute("DELETE FROM teams WHERE id = ?", (team_id,)))

    def add_team_member(self, team_id: int, user_id: int) -> None:
        self.db.write(
            lambda c: c.execute(
                "INSERT OR IGNORE INTO team_members (team_id, user_id) VALUES (?, ?)",
                (team_id, user_id),
            )
        )

    def remove_team_member(self, team_id: int, user_id: int) -> None:
        self.db.write(
            lambda c: c.execute(
                "DELETE FROM team_members WHERE team_id = ? AND user_id = ?", (team_id, user_id)
            )
        )

    def add_team_project(self, team_id: int, project_id: int) -> None:
        self.db.write(
            lambda c: c.execute(
                "INSERT OR IGNORE INTO team_projects (team_id, project_id) VALUES (?, ?)",
                (team_id, project_id),
            )
        )

    def remove_team_project(self, team_id: int, project_id: int) -> None:
        self.db.write(
            lambda c: c.execute(
                "DELETE FROM team_projects WHERE team_id = ? AND project_id = ?",
                (team_id, project_id),
            )
        )

    def team_projects(self, organization_id: int) -> dict[int, frozenset[int]]:
        """Team id -> the ids of its projects, for every team of an organization."""
        rows = self.db.read(
            lambda c: c.execute(
                "SELECT tp.team_id, tp.project_id FROM team_projects tp JOIN teams t "
                "ON t.id = tp.team_id WHERE t.organization_id = ?",
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
