"""Who sees which project: organization roles, teams, and project visibility (PostgreSQL).

The model is the SQLite backend's (:mod:`heliograph.store.sqlite.access` and
``docs/access.md`` describe it), and so are its reads and its one visibility
condition (:mod:`heliograph.store.account_reads`, in PostgreSQL's dialect):
the two backends cannot disagree on who sees what. Memberships and team links
are single-statement upserts, safe when several nodes write them at once.
Text is ordered ``COLLATE "C"`` (byte order, as SQLite sorts), whatever the
locale.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from heliograph.store.account_reads import AccountReadsMixin
from heliograph.store.base import Team, slugify
from heliograph.store.postgresql.database import Connection, PgDatabase
from heliograph.store.sql_dialect import POSTGRESQL


def scalar(conn: Connection, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> Any:
    """The one value of a query that always gives one row (a count, ``INSERT ... RETURNING``)."""
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return row[0]


class AccessMixin(AccountReadsMixin[PgDatabase]):
    """Memberships, teams and visibility; the class using it provides ``db``."""

    dialect = POSTGRESQL
    token_id = "id"

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

    def add_team_member(self, team_id: int, user_id: int) -> None:
        self.db.write(
            lambda c: c.execute(
                "INSERT INTO team_members (team_id, user_id) VALUES (%s, %s) "
                "ON CONFLICT DO NOTHING",
                (team_id, user_id),
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
