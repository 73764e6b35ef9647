"""Person profiles: written in digest's transaction, read by the people pages.

``persons`` holds one row per person (properties as JSON, first and last
seen, and the email and name copied out for search); ``person_distinct_ids``
maps each distinct id to its person. The rules (what an event sets, which
ids it joins, how profiles merge) are :mod:`heliograph.store.people_events`;
this module applies them with SQL shared by SQLite and PostgreSQL (and the
ClickHouse mode, whose persons are in PostgreSQL).

A batch's person updates are applied in three steps (:func:`record_people`):

1. each distinct id not yet known gets a person, whose id is derived from
   the project and the distinct id (:func:`person_id_for`); the mapping row
   is inserted first (``ON CONFLICT DO NOTHING ... RETURNING``) and the
   person only for the ids that were really new, so two digest workers
   seeing a new id at once make one person, not an orphan;
2. the persons concerned are read (on PostgreSQL locked, in id order);
3. the batch's updates are applied in time order in memory, then written
   (so across batches, profiles change in arrival order: no per-property
   timestamps, docs/web-analytics.md):
   merges move every distinct id of the merged person to the kept one and
   delete the merged row; profiles are updated whole.

On PostgreSQL a batch that merges takes the project's people lock
exclusively, others share it (``lock``, from the store): a merge never runs
beside another batch's writes to the same project's persons, while batches
that only set properties run side by side, their rows locked in step 2.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic

import orjson

from heliograph.llm_vocabulary import PRICED_EVENTS
from heliograph.model import Event
from heliograph.store.base import Issue
from heliograph.store.cursors import decode_cursor, encode_cursor
from heliograph.store.issue_rows import ISSUE_COLUMNS, issue_from_row
from heliograph.store.llm_reads import DbT
from heliograph.store.people_events import (
    PersonUpdate,
    apply_update,
    may_merge,
    merge_properties,
    person_update,
)
from heliograph.store.sql_dialect import SqlDialect
from heliograph.store.web_records import MAX_VALUE_TEXT, Person, PersonLlmUsage

__all__ = [
    "MAX_LISTED_IDS",
    "PeopleLock",
    "PeopleMixin",
    "person_id_for",
    "purge_people",
    "record_people",
]

# Distinct ids a Person record lists (a person may have more).
MAX_LISTED_IDS = 100
# Ids per IN list.
_CHUNK = 500
_PERSON_COLUMNS = "id, project_id, properties, created_at, last_seen, is_identified"

# (connection, project id, exclusive): takes the project's people lock, or does nothing.
PeopleLock = Callable[[Any, int, bool], None]


def person_id_for(project_id: int, distinct_id: str) -> int:
    """The id of the person first created for ``distinct_id``: 63 bits of a hash, never 0."""
    digest = hashlib.blake2b(
        f"{project_id}:{distinct_id}".encode("utf-8", "surrogatepass"), digest_size=8
    ).digest()
    return (int.from_bytes(digest, "big") >> 1) or 1


@dataclass(slots=True)
class _State:
    properties: dict[str, Any]
    created_at: float
    last_seen: float
    identified: bool = False
    changed: bool = False


def _searchable(properties: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = properties.get(key)
        if isinstance(value, str) and value:
            return value[:MAX_VALUE_TEXT]
    return None


def _chunks(values: Sequence[Any]) -> list[Sequence[Any]]:
    return [values[i : i + _CHUNK] for i in range(0, len(values), _CHUNK)]


def record_people(
    conn: Any,
    dialect: SqlDialect,
    events: Sequence[Event],
    lock: PeopleLock | None = None,
    *,
    for_update: str = "",
) -> None:
    """Apply what the batch's new events say about persons (in digest's transaction)."""
    by_project: dict[int, list[PersonUpdate]] = {}
    for event in sorted(events, key=lambda e: e.timestamp):
        update = person_update(event)
        if update is not None:
            by_project.setdefault(event.project_id, []).append(update)
    for project_id in sorted(by_project):
        updates = by_project[project_id]
        if lock is not None:
            lock(conn, project_id, any(u.merge_with for u in updates))
        _apply(conn, dialect, project_id, updates, for_update)


def _apply(
    conn: Any, dialect: SqlDialect, project_id: int, updates: list[PersonUpdate], for_update: str
) -> None:
    first_seen: dict[str, float] = {}
    for update in updates:
        for distinct_id in (update.distinct_id, update.merge_with):
            if distinct_id is not None and distinct_id not in first_seen:
                first_seen[distinct_id] = update.timestamp
    ids = sorted(first_seen)
    created = _create_missing(conn, dialect, project_id, ids, first_seen)
    owner: dict[str, int] = {}
    for chunk in _chunks(ids):
        condition, values = dialect.in_list("distinct_id", chunk)
        rows = conn.execute(
            dialect.sql(
                "SELECT distinct_id, person_id FROM person_distinct_ids "
                f"WHERE project_id = ? AND {condition}"
            ),
            [project_id, *values],
        ).fetchall()
        owner.update((str(row[0]), int(row[1])) for row in rows)
    states = _load_states(conn, dialect, sorted(set(owner.values())), for_update)
    missing = sorted(set(owner.values()) - set(states))
    if missing:
        # An id left pointing at a person that is gone (deleted by a retention pass that
        # raced this batch, or by an older version): the person is made again, empty,
        # rather than the batch's updates to it being lost.
        _insert_persons(
            conn,
            dialect,
            project_id,
            [(person, _first_of(person, owner, first_seen)) for person in missing],
        )
        states.update(_load_states(conn, dialect, missing, for_update))
    merges: list[tuple[int, int]] = []  # (merged away, kept), in order
    touched: set[int] = set()  # persons an earlier update of the batch named
    for update in updates:
        kept = owner.get(update.distinct_id)
        if kept is None or kept not in states:
            continue
        other = owner.get(update.merge_with) if update.merge_with is not None else None
        if other is not None and (other == kept or other not in states):
            other = None
        if other is not None and kept in created and kept not in touched:
            # The event's own id is new: it joins the other person (as PostHog adds it to
            # them), whoever they are, and that person keeps their id.
            kept, other = other, kept
        elif other is not None and not may_merge(update, states[other].identified):
            other = None
        touched.update(p for p in (kept, other) if p is not None)
        state = states[kept]
        if other is not None:
            merged = states.pop(other)
            state.properties = merge_properties(state.properties, merged.properties)
            state.created_at = min(state.created_at, merged.created_at)
            state.last_seen = max(state.last_seen, merged.last_seen)
            state.identified = state.identified or merged.identified
            state.changed = True
            merges.append((other, kept))
            for distinct_id, person in owner.items():
                if person == other:
                    owner[distinct_id] = kept
        if update.identifies and not state.identified:
            state.identified = True
            state.changed = True
        if apply_update(state.properties, update):
            state.changed = True
        if update.timestamp > state.last_seen or update.timestamp < state.created_at:
            state.last_seen = max(state.last_seen, update.timestamp)
            state.created_at = min(state.created_at, update.timestamp)
            state.changed = True
    for gone, kept in merges:
        conn.execute(
            dialect.sql(
                "UPDATE person_distinct_ids SET person_id = ? "
                "WHERE project_id = ? AND person_id = ?"
            ),
            (kept, project_id, gone),
        )
        conn.execute(dialect.sql("DELETE FROM persons WHERE id = ?"), (gone,))
    rows = [
        (
            orjson.dumps(state.properties).decode(),
            state.created_at,
            state.last_seen,
            _searchable(state.properties, "email", "$email"),
            _searchable(state.properties, "name", "$name", "username"),
            int(state.identified),
            person_id,
        )
        for person_id, state in sorted(states.items())
        if state.changed
    ]
    if rows:
        cursor = conn.cursor()
        try:
            cursor.executemany(
                dialect.sql(
                    "UPDATE persons SET properties = ?, created_at = ?, last_seen = ?, email = ?, "
                    "name = ?, is_identified = ? WHERE id = ?"
                ),
                rows,
            )
        finally:
            cursor.close()


def _create_missing(
    conn: Any, dialect: SqlDialect, project_id: int, ids: list[str], first_seen: dict[str, float]
) -> set[int]:
    """Give each distinct id without a person a new one (see the module's step 1); the
    ids of the persons made."""
    created: list[tuple[str, int]] = []
    for chunk in _chunks(ids):
        values = ", ".join(["(?, ?, ?)"] * len(chunk))
        params: list[Any] = []
        for distinct_id in chunk:
            params += [project_id, distinct_id, person_id_for(project_id, distinct_id)]
        rows = conn.execute(
            dialect.sql(
                "INSERT INTO person_distinct_ids (project_id, distinct_id, person_id) "
                f"VALUES {values} ON CONFLICT (project_id, distinct_id) DO NOTHING "
                "RETURNING distinct_id, person_id"
            ),
            params,
        ).fetchall()
        created += [(str(row[0]), int(row[1])) for row in rows]
    _insert_persons(
        conn, dialect, project_id, [(person, first_seen.get(d, 0.0)) for d, person in created]
    )
    return {person for _d, person in created}


def _first_of(person: int, owner: dict[str, int], first_seen: dict[str, float]) -> float:
    return min(
        (first_seen[d] for d, p in owner.items() if p == person and d in first_seen), default=0.0
    )


def _insert_persons(
    conn: Any, dialect: SqlDialect, project_id: int, persons: list[tuple[int, float]]
) -> None:
    """Empty persons, (id, first seen) each, unless they exist."""
    if not persons:
        return
    cursor = conn.cursor()
    try:
        cursor.executemany(
            dialect.sql(
                "INSERT INTO persons (id, project_id, properties, created_at, last_seen) "
                "VALUES (?, ?, '{}', ?, ?) ON CONFLICT (id) DO NOTHING"
            ),
            [(person, project_id, at, at) for person, at in sorted(persons)],
        )
    finally:
        cursor.close()


def _load_states(
    conn: Any, dialect: SqlDialect, person_ids: list[int], for_update: str
) -> dict[int, _State]:
    """The persons of ``person_ids`` that exist (locked, on PostgreSQL), by id."""
    states: dict[int, _State] = {}
    for chunk in _chunks(person_ids):
        condition, values = dialect.in_list("id", chunk)
        rows = conn.execute(
            dialect.sql(
                "SELECT id, properties, created_at, last_seen, is_identified FROM persons "
                f"WHERE {condition} ORDER BY id{for_update}"
            ),
            values,
        ).fetchall()
        for row in rows:
            states[int(row[0])] = _State(_loads(row[1]), float(row[2]), float(row[3]), bool(row[4]))
    return states


def _loads(text: Any) -> dict[str, Any]:
    try:
        loaded = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _like(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, its wildcards escaped (``ESCAPE '\\'``)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class PeopleMixin(Generic[DbT]):
    """Reads of persons, shared by the SQL backends; the class provides ``db`` and ``dialect``."""

    db: DbT
    dialect: ClassVar[SqlDialect]

    def _person_rows(self, sql: str, params: Sequence[Any]) -> list[Any]:
        statement = self.dialect.sql(sql)
        rows: list[Any] = self.db.read(lambda c: c.execute(statement, params).fetchall())
        return rows

    def _persons(self, rows: list[Any]) -> list[Person]:
        if not rows:
            return []
        ids = [int(row[0]) for row in rows]
        condition, values = self.dialect.in_list("person_id", ids)
        listed: dict[int, list[str]] = {person_id: [] for person_id in ids}
        order = f"distinct_id{self.dialect.text_order}"
        # At most MAX_LISTED_IDS ids per person are read: a person may have thousands.
        for person_id, distinct_id in self._person_rows(
            "SELECT person_id, distinct_id FROM (SELECT person_id, distinct_id, ROW_NUMBER() "
            f"OVER (PARTITION BY person_id ORDER BY {order}) AS n FROM person_distinct_ids "
            f"WHERE {condition}) AS listed WHERE n <= {MAX_LISTED_IDS} "
            f"ORDER BY person_id, {order}",
            values,
        ):
            found = listed[int(person_id)]
            if len(found) < MAX_LISTED_IDS:
                found.append(str(distinct_id))
        return [
            Person(
                id=int(row[0]),
                project_id=int(row[1]),
                properties=_loads(row[2]),
                created_at=float(row[3]),
                last_seen=float(row[4]),
                distinct_ids=tuple(listed[int(row[0])]),
                identified=bool(row[5]),
            )
            for row in rows
        ]

    def list_persons(
        self, project_id: int, *, search: str | None = None, limit: int, cursor: str | None = None
    ) -> tuple[list[Person], str | None]:
        """Persons, last seen first; ``search`` matches a distinct id, email or name (any case)."""
        sql = f"SELECT {_PERSON_COLUMNS} FROM persons WHERE project_id = ?"
        params: list[Any] = [project_id]
        if search:
            like = self.dialect.like_ignoring_case
            pattern = _like(search[:MAX_VALUE_TEXT])
            sql += (
                f" AND (email {like} ? ESCAPE '\\' OR name {like} ? ESCAPE '\\' OR id IN "
                "(SELECT person_id FROM person_distinct_ids WHERE project_id = ? "
                f"AND distinct_id {like} ? ESCAPE '\\'))"
            )
            params += [pattern, pattern, project_id, pattern]
        after = decode_cursor(cursor)
        if after:
            sql += " AND (last_seen < ? OR (last_seen = ? AND id < ?))"
            params += [after[0], after[0], after[1]]
        rows = self._person_rows(
            sql + " ORDER BY last_seen DESC, id DESC LIMIT ?", [*params, limit + 1]
        )
        persons = self._persons(rows[:limit])
        more = len(rows) > limit
        return persons, encode_cursor(persons[-1].last_seen, persons[-1].id) if more else None

    def get_person(self, project_id: int, person_id: int) -> Person | None:
        rows = self._person_rows(
            f"SELECT {_PERSON_COLUMNS} FROM persons WHERE project_id = ? AND id = ?",
            (project_id, person_id),
        )
        found = self._persons(rows)
        return found[0] if found else None

    def person_by_distinct_id(self, project_id: int, distinct_id: str) -> Person | None:
        rows = self._person_rows(
            "SELECT person_id FROM person_distinct_ids WHERE project_id = ? AND distinct_id = ?",
            (project_id, distinct_id),
        )
        return self.get_person(project_id, int(rows[0][0])) if rows else None

    def person_issues(
        self, project_id: int, distinct_ids: Sequence[str], *, limit: int = 20
    ) -> list[Issue]:
        """Issues whose errors named one of ``distinct_ids`` as their user id, latest first."""
        if not distinct_ids:
            return []
        keys = [f"id:{d}" for d in distinct_ids[:MAX_LISTED_IDS]]
        condition, values = self.dialect.in_list("user_key", keys)
        rows = self._person_rows(
            f"SELECT {ISSUE_COLUMNS} FROM issues WHERE project_id = ? AND id IN "
            f"(SELECT issue_id FROM issue_users WHERE {condition}) "
            "ORDER BY last_seen DESC, id DESC LIMIT ?",
            [project_id, *values, limit],
        )
        return [issue_from_row(row) for row in rows]

    def person_llm_usage(
        self, project_id: int, distinct_ids: Sequence[str], since: float
    ) -> PersonLlmUsage:
        """The person's generations and embeddings since ``since``: totals and by model."""
        if not distinct_ids:
            return PersonLlmUsage()
        ids, ids_params = self.dialect.in_list("distinct_id", distinct_ids[:MAX_LISTED_IDS])
        names, name_params = self.dialect.in_list("name", sorted(PRICED_EVENTS))
        rows = self._person_rows(
            "SELECT COALESCE(model, ''), COUNT(*), "
            f"{self.dialect.int_sum('is_error')}, "
            f"{self.dialect.int_sum('COALESCE(input_tokens, 0)')}, "
            f"{self.dialect.int_sum('COALESCE(output_tokens, 0)')}, "
            "SUM(COALESCE(total_cost_usd, 0)), "
            f"{self.dialect.int_sum('CASE WHEN total_cost_usd IS NULL THEN 1 ELSE 0 END')} "
            f"FROM llm_events WHERE project_id = ? AND {ids} AND {names} AND timestamp >= ? "
            "GROUP BY COALESCE(model, '') "
            f"ORDER BY 2 DESC, COALESCE(model, ''){self.dialect.text_order}",
            [project_id, *ids_params, *name_params, since],
        )
        return usage_from_rows(rows)


def usage_from_rows(rows: Sequence[Sequence[Any]]) -> PersonLlmUsage:
    """Totals from ``(model, requests, errors, input, output, cost, unpriced)`` rows."""
    return PersonLlmUsage(
        requests=sum(int(r[1]) for r in rows),
        errors=sum(int(r[2] or 0) for r in rows),
        input_tokens=sum(int(r[3] or 0) for r in rows),
        output_tokens=sum(int(r[4] or 0) for r in rows),
        cost_usd=sum(float(r[5] or 0) for r in rows),
        unpriced=sum(int(r[6] or 0) for r in rows),
        by_model=[(str(r[0]), int(r[1]), float(r[5] or 0)) for r in rows],
    )


def purge_people(
    write: Callable[[Callable[[Any], tuple[int, int]]], tuple[int, int]],
    dialect: SqlDialect,
    project_id: int,
    cutoff: float,
    *,
    batch_rows: int,
    pause: float,
    stop: threading.Event,
    lock: PeopleLock | None = None,
) -> int:
    """Retention of persons: those last seen before ``cutoff`` go with every distinct id of
    theirs (so no id is left pointing at a deleted person), ``batch_rows`` a write.

    Each write takes the project's people lock exclusively (``lock``, PostgreSQL's; none on
    SQLite, whose writes are one at a time), as a merging digest batch does: a batch that
    is updating a person is never interleaved with their deletion (which deleted an active
    person, or deadlocked on the two tables' row locks taken in opposite orders). The
    delete checks ``last_seen`` again and only the persons really deleted lose their ids.
    """

    def task(conn: Any) -> tuple[int, int]:
        """(persons found, persons deleted)."""
        if lock is not None:
            lock(conn, project_id, True)
        rows = conn.execute(
            dialect.sql(
                "SELECT id FROM persons WHERE project_id = ? AND last_seen < ? "
                f"LIMIT {int(batch_rows)}"
            ),
            (project_id, cutoff),
        ).fetchall()
        if not rows:
            return 0, 0
        persons, params = dialect.in_list("id", [int(row[0]) for row in rows])
        deleted = conn.execute(
            dialect.sql(f"DELETE FROM persons WHERE {persons} AND last_seen < ? RETURNING id"),
            [*params, cutoff],
        ).fetchall()
        if deleted:
            people, params = dialect.in_list("person_id", [int(row[0]) for row in deleted])
            conn.execute(
                dialect.sql(f"DELETE FROM person_distinct_ids WHERE project_id = ? AND {people}"),
                [project_id, *params],
            )
        return len(rows), len(deleted)

    total = 0
    while not stop.is_set():
        found, deleted = write(task)
        total += deleted
        if found < batch_rows:
            break
        time.sleep(pause)
    return total
