"""Who works on an issue and what happened to it: assignees and the activity log.

One implementation for every SQL backend (a mixin, as
:mod:`heliograph.store.issue_reads`): the tables are ``issue_assignees`` (one
row per assigned issue: a member or a team) and ``issue_activity`` (status
changes, regressions, assignments, comments), migration 12. Regressions are
written by digest inside the batch's transaction (each backend's write
path); everything else through :meth:`IssueActivityMixin.add_activity`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic

import orjson

from heliograph.store.account_reads import DbT
from heliograph.store.sql_dialect import SqlDialect

__all__ = [
    "ACTIVITY_KINDS",
    "MAX_COMMENT_CHARS",
    "Activity",
    "Assignee",
    "IssueActivityMixin",
    "ReleaseSpan",
]

# Sentry's activity type names, so API clients read them as they read Sentry's.
ACTIVITY_KINDS = (
    "note",
    "set_resolved",
    "set_resolved_in_release",
    "set_unresolved",
    "set_ignored",
    "set_regression",
    "assigned",
    "unassigned",
)
MAX_COMMENT_CHARS = 10_000


@dataclass(frozen=True, slots=True)
class ReleaseSpan:
    """One release of an issue: its events, first and last seen."""

    release: str
    count: int
    first_seen: float
    last_seen: float


@dataclass(frozen=True, slots=True)
class Assignee:
    """Whom an issue is assigned to: a member (``user_id``) or a team (``team_id``)."""

    issue_id: int
    user_id: int | None
    team_id: int | None
    assigned_at: float
    assigned_by: int | None


@dataclass(frozen=True, slots=True)
class Activity:
    """One entry of an issue's log; ``user_id`` None: the system (digest)."""

    id: int
    issue_id: int
    kind: str
    user_id: int | None
    data: dict[str, Any]
    created_at: float


_ACTIVITY_COLUMNS = "id, issue_id, kind, user_id, data, created_at"
_ASSIGNEE_COLUMNS = "issue_id, user_id, team_id, assigned_at, assigned_by"


def _activity(row: Sequence[Any]) -> Activity:
    data = orjson.loads(row[4]) if row[4] else {}
    return Activity(int(row[0]), int(row[1]), str(row[2]), row[3], data, float(row[5]))


def _assignee(row: Sequence[Any]) -> Assignee:
    return Assignee(int(row[0]), row[1], row[2], float(row[3]), row[4])


class IssueActivityMixin(Generic[DbT]):
    """Assignees and activity; the class using it provides ``db`` and ``dialect``."""

    db: DbT
    dialect: ClassVar[SqlDialect]

    def _activity_rows(self, sql: str, params: Sequence[Any]) -> list[Any]:
        statement = self.dialect.sql(sql)
        return self.db.read(lambda c: c.execute(statement, params).fetchall())

    def add_activity(
        self,
        issue_id: int,
        kind: str,
        *,
        user_id: int | None,
        data: dict[str, Any] | None = None,
    ) -> Activity:
        if kind not in ACTIVITY_KINDS:
            raise ValueError(f"unknown activity kind {kind!r}")
        document = orjson.dumps(data or {}).decode()
        statement = self.dialect.sql(
            "INSERT INTO issue_activity (issue_id, kind, user_id, data, created_at) "
            f"VALUES (?, ?, ?, ?, ?) RETURNING {_ACTIVITY_COLUMNS}"
        )
        row = self.db.write(
            lambda c: c.execute(
                statement, (issue_id, kind, user_id, document, time.time())
            ).fetchone()
        )
        return _activity(row)

    def issue_activity(
        self, issue_id: int, *, kinds: Sequence[str] = (), limit: int = 100
    ) -> list[Activity]:
        """The issue's log, newest first (only ``kinds`` when given)."""
        sql = f"SELECT {_ACTIVITY_COLUMNS} FROM issue_activity WHERE issue_id = ?"
        params: list[Any] = [issue_id]
        if kinds:
            condition, values = self.dialect.in_list("kind", kinds)
            sql += f" AND {condition}"
            params += values
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        return [_activity(r) for r in self._activity_rows(sql, params)]

    def count_activity(self, issue_ids: Sequence[int], kind: str) -> dict[int, int]:
        """How many entries of ``kind`` each issue has (comments for ``numComments``)."""
        if not issue_ids:
            return {}
        condition, values = self.dialect.in_list("issue_id", issue_ids)
        rows = self._activity_rows(
            f"SELECT issue_id, COUNT(*) FROM issue_activity WHERE {condition} AND kind = ? "
            "GROUP BY issue_id",
            [*values, kind],
        )
        return {int(r[0]): int(r[1]) for r in rows}

    def assign_issue(
        self,
        issue_id: int,
        *,
        user_id: int | None = None,
        team_id: int | None = None,
        actor_id: int | None,
    ) -> Assignee | None:
        """Assign to a member or a team (neither: unassign), and log it in one transaction.

        Assigning to whoever already has it changes and logs nothing.
        """
        if user_id is not None and team_id is not None:
            raise ValueError("assign to a member or a team, not both")
        sql = self.dialect.sql
        find = sql(f"SELECT {_ASSIGNEE_COLUMNS} FROM issue_assignees WHERE issue_id = ?")
        upsert = sql(
            f"INSERT INTO issue_assignees ({_ASSIGNEE_COLUMNS}) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (issue_id) DO UPDATE SET user_id = excluded.user_id, "
            "team_id = excluded.team_id, assigned_at = excluded.assigned_at, "
            f"assigned_by = excluded.assigned_by RETURNING {_ASSIGNEE_COLUMNS}"
        )
        delete = sql("DELETE FROM issue_assignees WHERE issue_id = ?")
        log = sql(
            "INSERT INTO issue_activity (issue_id, kind, user_id, data, created_at) "
            "VALUES (?, ?, ?, ?, ?)"
        )

        def write(conn: Any) -> Assignee | None:
            row = conn.execute(find, (issue_id,)).fetchone()
            before = _assignee(row) if row else None
            if before and (before.user_id, before.team_id) == (user_id, team_id):
                return before
            if before is None and user_id is None and team_id is None:
                return None
            now = time.time()
            if user_id is None and team_id is None:
                conn.execute(delete, (issue_id,))
                after = None
                kind, data = "unassigned", {}
            else:
                after = _assignee(
                    conn.execute(upsert, (issue_id, user_id, team_id, now, actor_id)).fetchone()
                )
                target = "user" if user_id is not None else "team"
                kind, data = "assigned", {"assigneeType": target, "assignee": user_id or team_id}
            conn.execute(log, (issue_id, kind, actor_id, orjson.dumps(data).decode(), now))
            return after

        result: Assignee | None = self.db.write(write)
        return result

    def issue_assignees(self, issue_ids: Sequence[int]) -> dict[int, Assignee]:
        """The assignee of each of ``issue_ids`` that has one."""
        if not issue_ids:
            return {}
        condition, values = self.dialect.in_list("issue_id", issue_ids)
        rows = self._activity_rows(
            f"SELECT {_ASSIGNEE_COLUMNS} FROM issue_assignees WHERE {condition}", values
        )
        return {int(r[0]): _assignee(r) for r in rows}


# Digest's entry for an issue that regressed, written by each backend's write
# path inside the batch's transaction: one row per regression, no read.
LOG_REGRESSION = (
    "INSERT INTO issue_activity (issue_id, kind, user_id, data, created_at) "
    "VALUES (?, 'set_regression', NULL, '{}', ?)"
)
