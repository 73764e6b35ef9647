"""What differs between the SQL the two store backends speak.

Queries shared by both backends (``llm_reads``, ``issue_reads``,
``account_reads``, ``fix_cache``) are written once, in SQLite's style with
``?`` placeholders, and ask a :class:`SqlDialect` for the few pieces that
differ; :meth:`SqlDialect.sql` turns a finished statement into the
driver's. Every ``?`` is a placeholder: values, including patterns, are
passed as parameters, never written into the SQL. Every fragment a dialect
returns is in that shared style too, so it can go into any statement.

PostgreSQL is made to answer as SQLite does: sums of BIGINT columns come
back as NUMERIC (Decimal) there, so they are cast back to BIGINT; text is
ordered and compared byte-wise (``COLLATE "C"``, SQLite's ordering)
whatever the database's locale; and a bare ``NULL`` column gets a type.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["POSTGRESQL", "SQLITE", "PostgresDialect", "SqlDialect", "SqliteDialect"]


class SqlDialect:
    """SQLite's SQL; :class:`PostgresDialect` overrides what PostgreSQL says otherwise."""

    #: The driver's placeholder for one parameter.
    param = "?"
    #: Appended to a text expression that is ordered or compared (``MAX``, ``ORDER BY``).
    text_order = ""
    #: The operator matching a ``LIKE`` pattern whatever the case (SQLite's ``LIKE`` does).
    like_ignoring_case = "LIKE"
    #: Appended to a subquery choosing rows to claim: skip those another claimer holds
    #: (SQLite has one writer at a time: nothing to skip).
    skip_locked = ""

    def sql(self, statement: str) -> str:
        """``statement``, written with ``?`` placeholders, as the driver takes it."""
        return statement

    def int_sum(self, expr: str) -> str:
        """The sum of an integer expression, as an integer."""
        return f"SUM({expr})"

    def typed_null(self, sql_type: str) -> str:
        """A NULL column of ``sql_type`` (a selected constant with no other type)."""
        return "NULL"

    def in_list(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """A condition that ``column`` is one of ``values``, and its parameters."""
        return f"{column} IN ({', '.join('?' * len(values))})", list(values)

    def in_pairs(
        self, columns: tuple[str, str], pairs: Sequence[tuple[int, str]]
    ) -> tuple[str, list[Any]]:
        """A condition that the two ``columns`` are one of ``pairs`` (an integer and a
        text each, as ``(project_id, event_id)``), and its parameters."""
        if not pairs:
            return "1 = 0", []
        values = ", ".join(["(?, ?)"] * len(pairs))
        return f"({columns[0]}, {columns[1]}) IN (VALUES {values})", [v for p in pairs for v in p]

    def index_hint(self, index: str) -> str:
        """Appended to a table name: read it through ``index`` (where the engine takes hints)."""
        return f" INDEXED BY {index}"

    def llm_text_search(self, words: Sequence[str]) -> tuple[str, list[Any]]:
        """A condition on ``llm_events.id``: its text has every word (store/llm_search.py)."""
        quoted = " ".join('"' + word.replace('"', '""') + '"' for word in words)
        return "id IN (SELECT rowid FROM llm_search WHERE llm_search MATCH ?)", [quoted]

    def execute_unprepared(self, conn: Any, statement: str, params: Sequence[Any]) -> Any:
        """``conn.execute(statement, params)``, planned for these very parameters.

        For a query whose best plan depends on its values (a search, a rare
        tag value): never a cached generic plan. ``statement`` is the driver's
        (from :meth:`sql`); the result is the driver's cursor.
        """
        return conn.execute(statement, params)

    def id_list(self, expr: str) -> str:
        """An aggregate of integer ``expr``: its values as text, comma-separated (NULL: none)."""
        return f"group_concat({expr})"

    def greatest(self, first: str, second: str) -> str:
        """The larger of two expressions (SQLite's two-argument ``MAX`` is scalar)."""
        return f"MAX({first}, {second})"


class SqliteDialect(SqlDialect):
    """The embedded SQLite store's SQL (the shared style itself)."""


class PostgresDialect(SqlDialect):
    """PostgreSQL through psycopg, answering as SQLite does."""

    param = "%s"
    text_order = ' COLLATE "C"'
    like_ignoring_case = "ILIKE"
    skip_locked = " FOR UPDATE SKIP LOCKED"

    def sql(self, statement: str) -> str:
        return statement.replace("%", "%%").replace("?", self.param)

    def int_sum(self, expr: str) -> str:
        return f"SUM({expr})::bigint"

    def typed_null(self, sql_type: str) -> str:
        return f"NULL::{sql_type}"

    def in_list(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        return f"{column} = ANY(?)", [list(values)]

    def in_pairs(
        self, columns: tuple[str, str], pairs: Sequence[tuple[int, str]]
    ) -> tuple[str, list[Any]]:
        """One array per column, whatever the number of pairs (one prepared statement)."""
        return (
            f"({columns[0]}, {columns[1]}) IN (SELECT * FROM unnest(?::bigint[], ?::text[]))",
            [[pair[0] for pair in pairs], [pair[1] for pair in pairs]],
        )

    def index_hint(self, index: str) -> str:
        """Nothing: PostgreSQL's planner takes no hints (it picks the index itself)."""
        return ""

    def llm_text_search(self, words: Sequence[str]) -> tuple[str, list[Any]]:
        return (
            "id IN (SELECT id FROM llm_search_text WHERE body @@ plainto_tsquery('simple', ?))",
            [" ".join(words)],
        )

    def execute_unprepared(self, conn: Any, statement: str, params: Sequence[Any]) -> Any:
        """Never prepared (psycopg prepares a statement it runs often).

        A prepared statement soon runs a generic plan, which guesses that a tag
        value or a search matches one row and nests loops over issue_tags
        (~400 ms at 2,000 issues); planned with the values, it is a hash join or
        a trigram index scan (bench/scale.py).
        """
        return conn.execute(statement, params, prepare=False)

    def id_list(self, expr: str) -> str:
        return f"string_agg(({expr})::text, ',')"

    def greatest(self, first: str, second: str) -> str:
        return f"GREATEST({first}, {second})"


SQLITE = SqliteDialect()
POSTGRESQL = PostgresDialect()
