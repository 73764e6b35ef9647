"""Prompts, their versions and labels, one implementation for every SQL backend.

A mixin of the stores, like :mod:`heliograph.store.flag_store`: the SQL is
written once with ``?`` placeholders and the dialect adapts it. In the
ClickHouse mode prompts live in PostgreSQL with everything but events.

Three tables: ``prompts`` (one row per name, holding the newest version's
number), ``prompt_versions`` (immutable: never updated) and
``prompt_labels`` (label -> version, one row per label of a prompt, so that
a label points at exactly one version by construction). A new version takes
its number by incrementing ``prompts.latest_version`` in its transaction:
that row's lock makes two writers at once get 4 and 5, never 4 twice.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, ClassVar, Generic

import orjson

from heliograph.prompts.definition import (
    LATEST,
    Content,
    PromptError,
    PromptSummary,
    PromptVersion,
)
from heliograph.store.account_reads import AccountConnection, DbT
from heliograph.store.sql_dialect import SqlDialect

__all__ = ["PromptStoreMixin"]

_VERSION_COLUMNS = (
    "p.project_id, p.name, v.version, v.type, v.content, v.config, v.commit_message, "
    "v.created_by, v.created_at"
)


def _version(row: Any, labels: Sequence[str]) -> PromptVersion:
    return PromptVersion(
        project_id=int(row[0]),
        name=row[1],
        version=int(row[2]),
        type=row[3],
        prompt=orjson.loads(row[4]),
        config=orjson.loads(row[5]),
        labels=tuple(sorted(labels)),
        commit_message=row[6],
        created_by=None if row[7] is None else int(row[7]),
        created_at=float(row[8]),
    )


class PromptStoreMixin(Generic[DbT]):
    """Prompts shared by the backends; the class using it provides ``db`` and ``dialect``."""

    db: DbT
    dialect: ClassVar[SqlDialect]

    def _prompt_row(self, conn: AccountConnection, sql: str, params: tuple[Any, ...]) -> Any:
        return conn.execute(self.dialect.sql(sql), params).fetchone()

    def _prompt_rows(self, conn: AccountConnection, sql: str, params: tuple[Any, ...]) -> list[Any]:
        return list(conn.execute(self.dialect.sql(sql), params).fetchall())

    def _move_labels(
        self,
        conn: AccountConnection,
        prompt_id: int,
        labels: Sequence[str],
        version: int,
        user_id: int | None,
    ) -> None:
        now = time.time()
        for label in labels:
            conn.execute(
                self.dialect.sql(
                    "INSERT INTO prompt_labels (prompt_id, label, version, updated_at, updated_by) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (prompt_id, label) DO UPDATE SET "
                    "version = excluded.version, updated_at = excluded.updated_at, "
                    "updated_by = excluded.updated_by"
                ),
                (prompt_id, label, version, now, user_id),
            )

    def _labels_of(self, conn: AccountConnection, prompt_id: int, version: int) -> list[str]:
        rows = self._prompt_rows(
            conn,
            "SELECT label FROM prompt_labels WHERE prompt_id = ? AND version = ?",
            (prompt_id, version),
        )
        return [row[0] for row in rows]

    def create_prompt_version(
        self,
        project_id: int,
        name: str,
        *,
        type: str,
        prompt: Content,
        config: dict[str, Any],
        labels: Sequence[str],
        commit_message: str,
        user_id: int | None,
    ) -> PromptVersion:
        """The prompt's next version (the prompt is created with its first); fields checked.

        ``labels`` move to the new version in the same transaction.
        """

        def write(conn: AccountConnection) -> PromptVersion:
            now = time.time()
            conn.execute(
                self.dialect.sql(
                    "INSERT INTO prompts (project_id, name, latest_version, created_at, "
                    "updated_at) VALUES (?, ?, 0, ?, ?) ON CONFLICT (project_id, name) DO NOTHING"
                ),
                (project_id, name, now, now),
            )
            prompt_id, version = self._prompt_row(
                conn,
                "UPDATE prompts SET latest_version = latest_version + 1, updated_at = ? "
                "WHERE project_id = ? AND name = ? RETURNING id, latest_version",
                (now, project_id, name),
            )
            conn.execute(
                self.dialect.sql(
                    "INSERT INTO prompt_versions (prompt_id, version, type, content, config, "
                    "commit_message, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                ),
                (
                    prompt_id,
                    version,
                    type,
                    orjson.dumps(prompt).decode(),
                    orjson.dumps(config).decode(),
                    commit_message,
                    user_id,
                    now,
                ),
            )
            self._move_labels(conn, prompt_id, labels, version, user_id)
            row = self._prompt_row(
                conn,
                f"SELECT {_VERSION_COLUMNS} FROM prompts p JOIN prompt_versions v "
                "ON v.prompt_id = p.id WHERE p.id = ? AND v.version = ?",
                (prompt_id, version),
            )
            return _version(row, self._labels_of(conn, prompt_id, version))

        created: PromptVersion = self.db.write(write)
        return created

    def get_prompt_version(
        self, project_id: int, name: str, *, version: int | None = None, label: str | None = None
    ) -> PromptVersion | None:
        """The version numbered ``version``, else the one ``label`` points at (``latest``:
        the newest); None when there is no such prompt, version or label."""
        if (version is None) == (label is None):
            raise ValueError("ask for a version or a label, one of them")

        def read(conn: AccountConnection) -> PromptVersion | None:
            base = (
                f"SELECT {_VERSION_COLUMNS}, p.id FROM prompts p JOIN prompt_versions v "
                "ON v.prompt_id = p.id WHERE p.project_id = ? AND p.name = ? AND "
            )
            if version is not None:
                row = self._prompt_row(conn, base + "v.version = ?", (project_id, name, version))
            elif label == LATEST:
                row = self._prompt_row(
                    conn, base + "v.version = p.latest_version", (project_id, name)
                )
            else:
                row = self._prompt_row(
                    conn,
                    base + "v.version = (SELECT l.version FROM prompt_labels l "
                    "WHERE l.prompt_id = p.id AND l.label = ?)",
                    (project_id, name, label),
                )
            if row is None:
                return None
            return _version(row, self._labels_of(conn, int(row[9]), int(row[2])))

        found: PromptVersion | None = self.db.read(read)
        return found

    def list_prompts(self, project_id: int) -> list[PromptSummary]:
        """The project's prompts, by name, each with where its labels point."""

        def read(conn: AccountConnection) -> list[PromptSummary]:
            prompts = self._prompt_rows(
                conn,
                "SELECT id, name, latest_version, created_at, updated_at FROM prompts "
                f"WHERE project_id = ? ORDER BY name{self.dialect.text_order}",
                (project_id,),
            )
            labels: dict[int, dict[str, int]] = {}
            for prompt_id, label, version in self._prompt_rows(
                conn,
                "SELECT l.prompt_id, l.label, l.version FROM prompt_labels l "
                "JOIN prompts p ON p.id = l.prompt_id WHERE p.project_id = ?",
                (project_id,),
            ):
                labels.setdefault(int(prompt_id), {})[label] = int(version)
            return [
                PromptSummary(
                    project_id=project_id,
                    name=row[1],
                    latest_version=int(row[2]),
                    labels=dict(sorted(labels.get(int(row[0]), {}).items())),
                    created_at=float(row[3]),
                    updated_at=float(row[4]),
                )
                for row in prompts
            ]

        found: list[PromptSummary] = self.db.read(read)
        return found

    def prompt_versions(self, project_id: int, name: str) -> list[PromptVersion]:
        """Every version of the prompt, newest first, with their labels (none: no prompt)."""

        def read(conn: AccountConnection) -> list[PromptVersion]:
            rows = self._prompt_rows(
                conn,
                f"SELECT {_VERSION_COLUMNS}, p.id FROM prompts p JOIN prompt_versions v "
                "ON v.prompt_id = p.id WHERE p.project_id = ? AND p.name = ? "
                "ORDER BY v.version DESC",
                (project_id, name),
            )
            if not rows:
                return []
            by_version: dict[int, list[str]] = {}
            for label, version in self._prompt_rows(
                conn,
                "SELECT label, version FROM prompt_labels WHERE prompt_id = ?",
                (int(rows[0][9]),),
            ):
                by_version.setdefault(int(version), []).append(label)
            return [_version(row, by_version.get(int(row[2]), [])) for row in rows]

        found: list[PromptVersion] = self.db.read(read)
        return found

    def set_prompt_label(
        self,
        project_id: int,
        name: str,
        label: str,
        version: int | None,
        *,
        user_id: int | None,
    ) -> bool:
        """Point ``label`` (checked) at ``version``, or remove it (None).

        False when there is no such prompt or version; :class:`PromptError`
        for ``latest``, which cannot be moved.
        """
        if label == LATEST:
            raise PromptError("'latest' always means the newest version; it cannot be set")

        def write(conn: AccountConnection) -> bool:
            found = self._prompt_row(
                conn, "SELECT id FROM prompts WHERE project_id = ? AND name = ?", (project_id, name)
            )
            if found is None:
                return False
            prompt_id = int(found[0])
            if version is None:
                conn.execute(
                    self.dialect.sql("DELETE FROM prompt_labels WHERE prompt_id = ? AND label = ?"),
                    (prompt_id, label),
                )
                return True
            exists = self._prompt_row(
                conn,
                "SELECT 1 FROM prompt_versions WHERE prompt_id = ? AND version = ?",
                (prompt_id, version),
            )
            if exists is None:
                return False
            self._move_labels(conn, prompt_id, [label], version, user_id)
            return True

        done: bool = self.db.write(write)
        return done
