"""Feature flags and their audit log, one implementation for every SQL backend.

A mixin of the stores, like :mod:`heliograph.store.account_reads`: the SQL is
written once with ``?`` placeholders and the dialect adapts it. Filters and
per-environment switches are kept as JSON text, already checked
(:mod:`heliograph.flags.definition`). A deleted flag is kept, marked deleted,
so that its audit log still names it and its key can be used again.

Every change is written with its audit line in the same transaction: who, what,
and the fields before and after.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Generic

import orjson
import psycopg

from heliograph.flags.definition import FeatureFlag, FlagChange, FlagError
from heliograph.model import Event
from heliograph.store.account_reads import AccountConnection, DbT
from heliograph.store.sql_dialect import SqlDialect

__all__ = ["FLAG_CALLED", "FLAG_FIELDS", "FlagStoreMixin", "new_events", "record_flag_calls"]

# The event SDKs send when a person's flag value is first read.
FLAG_CALLED = "$feature_flag_called"

_COLUMNS = (
    "id, project_id, key, name, active, filters, environments, version, created_at, "
    "updated_at, created_by"
)
# What an update may change (the API's fields, checked by the caller).
FLAG_FIELDS = ("key", "name", "active", "filters", "environments")
# Two writers creating the same key at once: the unique index refuses the second.
_UNIQUE_VIOLATIONS = (sqlite3.IntegrityError, psycopg.errors.UniqueViolation)


def _flag(row: Any) -> FeatureFlag:
    return FeatureFlag(
        id=int(row[0]),
        project_id=int(row[1]),
        key=row[2],
        name=row[3],
        active=bool(row[4]),
        filters=orjson.loads(row[5]),
        environments=orjson.loads(row[6]),
        version=int(row[7]),
        created_at=float(row[8]),
        updated_at=float(row[9]),
        created_by=None if row[10] is None else int(row[10]),
    )


def _fields(flag: FeatureFlag) -> dict[str, Any]:
    return {
        "key": flag.key,
        "name": flag.name,
        "active": flag.active,
        "filters": flag.filters,
        "environments": flag.environments,
    }


_CALLS_UPSERT = """
INSERT INTO flag_calls_hourly (project_id, flag, hour, value, calls) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (project_id, flag, hour, value) DO UPDATE SET
    calls = flag_calls_hourly.calls + excluded.calls
"""


def new_events(events: Sequence[Event], new_keys: set[tuple[int, str]]) -> list[Event]:
    """The first occurrence of each of ``events`` that the batch stored for the first time."""
    seen: set[tuple[int, str]] = set()
    found = []
    for event in events:
        key = (event.project_id, event.event_id)
        if key in new_keys and key not in seen:
            seen.add(key)
            found.append(event)
    return found


def record_flag_calls(conn: Any, dialect: SqlDialect, events: Sequence[Event]) -> None:
    """Count new ``$feature_flag_called`` events per (flag, hour, value), in key order.

    Digest calls it in its transaction with the batch's new analytics events:
    the flags page's "recent evaluations" read these counts, not raw events.
    """
    counts: dict[tuple[int, str, int, str], int] = {}
    for event in events:
        if event.name != FLAG_CALLED:
            continue
        flag = event.properties.get("$feature_flag")
        value = event.properties.get("$feature_flag_response")
        if not isinstance(flag, str) or not flag:
            continue
        text = (("true" if value else "false") if isinstance(value, bool | None) else str(value))[
            :200
        ]
        key = (event.project_id, flag[:200], int(event.timestamp // 3600), text)
        counts[key] = counts.get(key, 0) + 1
    if not counts:
        return
    cursor = conn.cursor()
    try:
        cursor.executemany(
            dialect.sql(_CALLS_UPSERT), [(*key, n) for key, n in sorted(counts.items())]
        )
    finally:
        cursor.close()


class FlagStoreMixin(Generic[DbT]):
    """Flags shared by the backends; the class using it provides ``db`` and ``dialect``."""

    db: DbT
    dialect: ClassVar[SqlDialect]

    def _flag_row(self, conn: AccountConnection, sql: str, params: tuple[Any, ...]) -> Any:
        return conn.execute(self.dialect.sql(sql), params).fetchone()

    def _audit(
        self,
        conn: AccountConnection,
        flag: FeatureFlag,
        user_id: int | None,
        action: str,
        before: dict[str, Any],
        after: dict[str, Any],
    ) -> None:
        conn.execute(
            self.dialect.sql(
                "INSERT INTO feature_flag_changes (flag_id, project_id, user_id, action, "
                "before, after, at) VALUES (?, ?, ?, ?, ?, ?, ?)"
            ),
            (
                flag.id,
                flag.project_id,
                user_id,
                action,
                orjson.dumps(before).decode(),
                orjson.dumps(after).decode(),
                time.time(),
            ),
        )

    def _key_taken(
        self, conn: AccountConnection, project_id: int, key: str, flag_id: int = 0
    ) -> None:
        found = self._flag_row(
            conn,
            "SELECT 1 FROM feature_flags WHERE project_id = ? AND key = ? AND deleted = 0 "
            "AND id <> ?",
            (project_id, key, flag_id),
        )
        if found:
            raise FlagError(f"this project already has a flag with the key {key!r}")

    def create_flag(
        self,
        project_id: int,
        *,
        key: str,
        name: str,
        active: bool,
        filters: dict[str, Any],
        environments: Mapping[str, bool],
        user_id: int | None,
    ) -> FeatureFlag:
        """A new flag (fields already checked); :class:`FlagError` if its key is taken."""

        def write(conn: AccountConnection) -> FeatureFlag:
            self._key_taken(conn, project_id, key)
            now = time.time()
            row = self._flag_row(
                conn,
                "INSERT INTO feature_flags (project_id, key, name, active, filters, "
                "environments, version, created_at, updated_at, created_by, deleted) "
                f"VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, 0) RETURNING {_COLUMNS}",
                (
                    project_id,
                    key,
                    name,
                    int(active),
                    orjson.dumps(filters).decode(),
                    orjson.dumps(dict(environments)).decode(),
                    now,
                    now,
                    user_id,
                ),
            )
            flag = _flag(row)
            self._audit(conn, flag, user_id, "created", {}, _fields(flag))
            return flag

        return self._unique(write, key)

    def _unique(self, write: Any, key: str) -> FeatureFlag:
        try:
            result: FeatureFlag = self.db.write(write)
        except _UNIQUE_VIOLATIONS:
            raise FlagError(f"this project already has a flag with the key {key!r}") from None
        return result

    def update_flag(
        self, flag_id: int, changes: Mapping[str, Any], *, user_id: int | None
    ) -> FeatureFlag | None:
        """Apply ``changes`` (a subset of :data:`FLAG_FIELDS`, checked); None if no such flag."""
        unknown = set(changes) - set(FLAG_FIELDS)
        if unknown:
            raise ValueError(f"not flag fields: {sorted(unknown)}")

        def write(conn: AccountConnection) -> FeatureFlag | None:
            row = self._flag_row(
                conn, f"SELECT {_COLUMNS} FROM feature_flags WHERE id = ? AND deleted = 0",
                (flag_id,),
            )  # fmt: skip
            if row is None:
                return None
            flag = _flag(row)
            before = _fields(flag)
            after = {**before, **changes}
            if after == before:
                return flag
            if after["key"] != flag.key:
                self._key_taken(conn, flag.project_id, after["key"], flag.id)
            row = self._flag_row(
                conn,
                "UPDATE feature_flags SET key = ?, name = ?, active = ?, filters = ?, "
                "environments = ?, version = version + 1, updated_at = ? "
                f"WHERE id = ? RETURNING {_COLUMNS}",
                (
                    after["key"],
                    after["name"],
                    int(after["active"]),
                    orjson.dumps(after["filters"]).decode(),
                    orjson.dumps(after["environments"]).decode(),
                    time.time(),
                    flag_id,
                ),
            )
            updated = _flag(row)
            changed = [name for name in FLAG_FIELDS if before[name] != after[name]]
            self._audit(
                conn,
                updated,
                user_id,
                "updated",
                {name: before[name] for name in changed},
                {name: after[name] for name in changed},
            )
            return updated

        try:
            result: FeatureFlag | None = self.db.write(write)
        except _UNIQUE_VIOLATIONS:
            key = changes.get("key")
            raise FlagError(f"this project already has a flag with the key {key!r}") from None
        return result

    def delete_flag(self, flag_id: int, *, user_id: int | None) -> bool:
        """Mark the flag deleted (its key is free again); False if there was none."""

        def write(conn: AccountConnection) -> bool:
            row = self._flag_row(
                conn,
                "UPDATE feature_flags SET deleted = 1, updated_at = ? "
                f"WHERE id = ? AND deleted = 0 RETURNING {_COLUMNS}",
                (time.time(), flag_id),
            )
            if row is None:
                return False
            flag = _flag(row)
            self._audit(conn, flag, user_id, "deleted", _fields(flag), {})
            return True

        deleted: bool = self.db.write(write)
        return deleted

    def get_flag(self, flag_id: int) -> FeatureFlag | None:
        statement = self.dialect.sql(
            f"SELECT {_COLUMNS} FROM feature_flags WHERE id = ? AND deleted = 0"
        )
        row = self.db.read(lambda c: c.execute(statement, (flag_id,)).fetchone())
        return _flag(row) if row else None

    def list_flags(self, project_id: int) -> list[FeatureFlag]:
        """The project's flags, by key."""
        statement = self.dialect.sql(
            f"SELECT {_COLUMNS} FROM feature_flags WHERE project_id = ? AND deleted = 0 "
            f"ORDER BY key{self.dialect.text_order}"
        )
        rows = self.db.read(lambda c: c.execute(statement, (project_id,)).fetchall())
        return [_flag(row) for row in rows]

    def flag_calls(self, project_id: int, flag: str, since_hour: int) -> list[tuple[str, int]]:
        """How often each value of ``flag`` was first read since ``since_hour`` (by SDKs'
        ``$feature_flag_called`` events), most read first."""
        statement = self.dialect.sql(
            f"SELECT value, {self.dialect.int_sum('calls')} FROM flag_calls_hourly "
            "WHERE project_id = ? AND flag = ? AND hour >= ? GROUP BY value "
            f"ORDER BY 2 DESC, value{self.dialect.text_order}"
        )
        rows = self.db.read(
            lambda c: c.execute(statement, (project_id, flag, since_hour)).fetchall()
        )
        return [(row[0], int(row[1])) for row in rows]

    def flag_changes(self, flag_id: int, *, limit: int = 100) -> list[FlagChange]:
        """The flag's audit log, newest first."""
        statement = self.dialect.sql(
            "SELECT flag_id, user_id, action, before, after, at FROM feature_flag_changes "
            "WHERE flag_id = ? ORDER BY at DESC, id DESC LIMIT ?"
        )
        rows = self.db.read(lambda c: c.execute(statement, (flag_id, limit)).fetchall())
        return [
            FlagChange(
                flag_id=int(row[0]),
                user_id=None if row[1] is None else int(row[1]),
                action=row[2],
                before=orjson.loads(row[3]),
                after=orjson.loads(row[4]),
                at=float(row[5]),
            )
            for row in rows
        ]
