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
disagree. The reads, and the writes every backend says alike, are
:mod:`heliograph.store.account_reads`'s, in SQLite's dialect; what is left
here is what SQLite writes its own way.
"""

from __future__ import annotations

import sqlite3
import time

from heliograph.store.account_reads import AccountReadsMixin
from heliograph.store.base import Team, slugify
from heliograph.store.sql_dialect import SQLITE
from heliograph.store.sqlite.database import Database


class AccessMixin(AccountReadsMixin[Database]):
    """Memberships, teams and visibility; the class using it provides ``db``."""

    dialect = SQLITE
    token_id = "rowid"

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

    def add_team_member(self, team_id: int, user_id: int) -> None:
        self.db.write(
            lambda c: c.execute(
                "INSERT OR IGNORE INTO team_members (team_id, user_id) VALUES (?, ?)",
                (team_id, user_id),
            )
        )

    def add_team_project(self, team_id: int, project_id: int) -> None:
        self.db.write(
            lambda c: c.execute(
                "INSERT OR IGNORE INTO team_projects (team_id, project_id) VALUES (?, ?)",
                (team_id, project_id),
            )
        )
