"""Datasets, their items, runs and run items, one implementation for every SQL backend.

A mixin of the stores, like :mod:`heliograph.store.prompt_store`: the SQL is
written once with ``?`` placeholders and the dialect adapts it. In the
ClickHouse mode datasets live in PostgreSQL with everything but events: they
are edited after the fact, and few.

Four tables (migration 19): ``datasets`` (one per project and name),
``dataset_items`` (unique by the id their sender gave, so an import or an SDK
upsert can be repeated), ``dataset_runs`` (unique by name in their dataset,
with the status the experiment job moves) and ``dataset_run_items`` (one per
run and item, naming the trace that recorded it). JSON values are stored as
JSON text; the checks on them are :mod:`heliograph.datasets.definition`'s.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, ClassVar, Generic

import orjson

from heliograph.datasets.definition import (
    Dataset,
    DatasetConflict,
    DatasetItem,
    DatasetRun,
    ItemDraft,
    RunItem,
)
from heliograph.store.account_reads import AccountConnection, DbT
from heliograph.store.cursors import decode_cursor, encode_cursor
from heliograph.store.sql_dialect import SqlDialect

__all__ = ["DatasetStoreMixin"]

_DATASET_COLUMNS = (
    "d.id, d.project_id, d.name, d.description, d.metadata, d.created_at, d.updated_at, "
    "(SELECT COUNT(*) FROM dataset_items i WHERE i.dataset_id = d.id), "
    "(SELECT COUNT(*) FROM dataset_runs r WHERE r.dataset_id = d.id)"
)
_ITEM_COLUMNS = (
    "id, dataset_id, item_id, input, expected_output, metadata, source_trace_id, "
    "source_observation_id, status, created_at, updated_at"
)
_RUN_COLUMNS = (
    "r.id, r.dataset_id, r.name, r.description, r.metadata, r.kind, r.status, r.prompt_name, "
    "r.prompt_version, r.settings, r.error, r.cost_usd, r.created_by, r.created_at, "
    "r.updated_at, r.started_at, r.finished_at, "
    "(SELECT COUNT(*) FROM dataset_run_items ri WHERE ri.run_id = r.id)"
)
_RUN_ITEM_COLUMNS = (
    "run_id, item_id, trace_id, observation_id, output, error, latency_s, cost_usd, created_at"
)


def _dumps(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _loads(text: Any) -> Any:
    return None if text is None else orjson.loads(text)


def _dataset(row: Any) -> Dataset:
    return Dataset(
        id=int(row[0]),
        project_id=int(row[1]),
        name=row[2],
        description=row[3],
        metadata=orjson.loads(row[4]),
        created_at=float(row[5]),
        updated_at=float(row[6]),
        items=int(row[7]),
        runs=int(row[8]),
    )


def _item(row: Any) -> DatasetItem:
    return DatasetItem(
        dataset_id=int(row[1]),
        id=row[2],
        input=_loads(row[3]),
        expected_output=_loads(row[4]),
        metadata=orjson.loads(row[5]),
        source_trace_id=row[6],
        source_observation_id=row[7],
        status=row[8],
        created_at=float(row[9]),
        updated_at=float(row[10]),
    )


def _run(row: Any) -> DatasetRun:
    return DatasetRun(
        id=int(row[0]),
        dataset_id=int(row[1]),
        name=row[2],
        description=row[3],
        metadata=orjson.loads(row[4]),
        kind=row[5],
        status=row[6],
        prompt_name=row[7],
        prompt_version=None if row[8] is None else int(row[8]),
        settings=orjson.loads(row[9]),
        error=row[10],
        cost_usd=float(row[11]),
        created_by=None if row[12] is None else int(row[12]),
        created_at=float(row[13]),
        updated_at=float(row[14]),
        started_at=None if row[15] is None else float(row[15]),
        finished_at=None if row[16] is None else float(row[16]),
        items=int(row[17]),
    )


def _run_item(row: Any) -> RunItem:
    return RunItem(
        run_id=int(row[0]),
        item_id=row[1],
        trace_id=row[2],
        observation_id=row[3],
        output=_loads(row[4]),
        error=row[5],
        latency_s=None if row[6] is None else float(row[6]),
        cost_usd=None if row[7] is None else float(row[7]),
        created_at=float(row[8]),
    )


class DatasetStoreMixin(Generic[DbT]):
    """Datasets shared by the backends; the class using it provides ``db`` and ``dialect``."""

    db: DbT
    dialect: ClassVar[SqlDialect]

    def _ds_one(self, conn: AccountConnection, sql: str, params: Sequence[Any]) -> Any:
        return conn.execute(self.dialect.sql(sql), tuple(params)).fetchone()

    def _ds_all(self, conn: AccountConnection, sql: str, params: Sequence[Any]) -> list[Any]:
        return list(conn.execute(self.dialect.sql(sql), tuple(params)).fetchall())

    def _ds_read(self, sql: str, params: Sequence[Any]) -> list[Any]:
        found: list[Any] = self.db.read(lambda conn: self._ds_all(conn, sql, params))
        return found

    # -- datasets

    def save_dataset(
        self, project_id: int, name: str, *, description: str, metadata: dict[str, Any]
    ) -> Dataset:
        """Create the dataset, or update its description and metadata (same name)."""

        def write(conn: AccountConnection) -> Dataset:
            now = time.time()
            conn.execute(
                self.dialect.sql(
                    "INSERT INTO datasets (project_id, name, description, metadata, created_at, "
                    "updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (project_id, name) DO "
                    "UPDATE SET description = excluded.description, "
                    "metadata = excluded.metadata, updated_at = excluded.updated_at"
                ),
                (project_id, name, description, _dumps(metadata), now, now),
            )
            row = self._ds_one(
                conn,
                f"SELECT {_DATASET_COLUMNS} FROM datasets d WHERE d.project_id = ? AND d.name = ?",
                (project_id, name),
            )
            return _dataset(row)

        saved: Dataset = self.db.write(write)
        return saved

    def get_dataset(self, project_id: int, name: str) -> Dataset | None:
        rows = self._ds_read(
            f"SELECT {_DATASET_COLUMNS} FROM datasets d WHERE d.project_id = ? AND d.name = ?",
            (project_id, name),
        )
        return _dataset(rows[0]) if rows else None

    def dataset_by_id(self, dataset_id: int) -> Dataset | None:
        """A dataset by row id, whatever its project (the experiment job, which has a run)."""
        rows = self._ds_read(
            f"SELECT {_DATASET_COLUMNS} FROM datasets d WHERE d.id = ?", (dataset_id,)
        )
        return _dataset(rows[0]) if rows else None

    def list_datasets(self, project_id: int) -> list[Dataset]:
        """The project's datasets by name, with their item and run counts."""
        rows = self._ds_read(
            f"SELECT {_DATASET_COLUMNS} FROM datasets d WHERE d.project_id = ? "
            f"ORDER BY d.name{self.dialect.text_order}",
            (project_id,),
        )
        return [_dataset(row) for row in rows]

    def delete_dataset(self, project_id: int, name: str) -> bool:
        """The dataset with its items, runs and run items (the runs' traces and scores stay)."""

        def write(conn: AccountConnection) -> bool:
            row = self._ds_one(
                conn,
                "SELECT id FROM datasets WHERE project_id = ? AND name = ?",
                (project_id, name),
            )
            if row is None:
                return False
            dataset_id = int(row[0])
            for sql in (
                "DELETE FROM dataset_run_items WHERE run_id IN "
                "(SELECT id FROM dataset_runs WHERE dataset_id = ?)",
                "DELETE FROM dataset_runs WHERE dataset_id = ?",
                "DELETE FROM dataset_items WHERE dataset_id = ?",
                "DELETE FROM datasets WHERE id = ?",
            ):
                conn.execute(self.dialect.sql(sql), (dataset_id,))
            return True

        done: bool = self.db.write(write)
        return done

    # -- items

    def save_dataset_items(self, dataset_id: int, items: Sequence[ItemDraft]) -> int:
        """Insert the items, or replace those whose id the dataset has; how many were new."""

        def write(conn: AccountConnection) -> int:
            now = time.time()
            new = 0
            for item in items:
                row = self._ds_one(
                    conn,
                    "INSERT INTO dataset_items (dataset_id, item_id, input, expected_output, "
                    "metadata, source_trace_id, source_observation_id, status, created_at, "
                    "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (dataset_id, item_id) DO UPDATE SET input = excluded.input, "
                    "expected_output = excluded.expected_output, metadata = excluded.metadata, "
                    "source_trace_id = excluded.source_trace_id, "
                    "source_observation_id = excluded.source_observation_id, "
                    "status = excluded.status, updated_at = excluded.updated_at "
                    "RETURNING created_at",
                    (
                        dataset_id,
                        item.id,
                        _dumps(item.input),
                        _dumps(item.expected_output),
                        _dumps(item.metadata),
                        item.source_trace_id,
                        item.source_observation_id,
                        item.status,
                        now,
                        now,
                    ),
                )
                new += float(row[0]) == now
            conn.execute(
                self.dialect.sql("UPDATE datasets SET updated_at = ? WHERE id = ?"),
                (now, dataset_id),
            )
            return new

        added: int = self.db.write(write)
        return added

    def dataset_items(
        self,
        dataset_id: int,
        *,
        limit: int,
        cursor: str | None = None,
        status: str | None = None,
    ) -> tuple[list[DatasetItem], str | None]:
        """Items in the order they were added (oldest first), ``limit`` at most a page."""
        where = ["dataset_id = ?"]
        params: list[Any] = [dataset_id]
        if status is not None:
            where.append("status = ?")
            params.append(status)
        after = decode_cursor(cursor)
        if after is not None:
            where.append("id > ?")
            params.append(after[1])
        rows = self._ds_read(
            f"SELECT {_ITEM_COLUMNS} FROM dataset_items WHERE {' AND '.join(where)} "
            f"ORDER BY id LIMIT {int(limit) + 1}",
            params,
        )
        page = rows[:limit]
        more = len(rows) > limit and page
        return [_item(row) for row in page], (encode_cursor(0, int(page[-1][0])) if more else None)

    def get_dataset_item(self, dataset_id: int, item_id: str) -> DatasetItem | None:
        rows = self._ds_read(
            f"SELECT {_ITEM_COLUMNS} FROM dataset_items WHERE dataset_id = ? AND item_id = ?",
            (dataset_id, item_id),
        )
        return _item(rows[0]) if rows else None

    def delete_dataset_item(self, dataset_id: int, item_id: str) -> bool:
        """The item (the runs' results for it stay, shown as an item since removed)."""

        def write(conn: AccountConnection) -> bool:
            row = self._ds_one(
                conn,
                "DELETE FROM dataset_items WHERE dataset_id = ? AND item_id = ? RETURNING id",
                (dataset_id, item_id),
            )
            return row is not None

        done: bool = self.db.write(write)
        return done

    # -- runs

    def create_dataset_run(
        self,
        dataset_id: int,
        name: str,
        *,
        kind: str,
        status: str,
        description: str = "",
        metadata: dict[str, Any] | None = None,
        prompt_name: str | None = None,
        prompt_version: int | None = None,
        settings: dict[str, Any] | None = None,
        user_id: int | None = None,
        exist_ok: bool = False,
    ) -> DatasetRun:
        """A new run; with ``exist_ok`` the run of that name when it exists (an SDK run's
        items arrive one by one, each naming it). :class:`DatasetConflict` otherwise."""

        def write(conn: AccountConnection) -> DatasetRun:
            now = time.time()
            inserted = self._ds_one(
                conn,
                "INSERT INTO dataset_runs (dataset_id, name, description, metadata, kind, status, "
                "prompt_name, prompt_version, settings, created_by, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (dataset_id, name) DO NOTHING RETURNING id",
                (
                    dataset_id,
                    name,
                    description,
                    _dumps(metadata or {}),
                    kind,
                    status,
                    prompt_name,
                    prompt_version,
                    _dumps(settings or {}),
                    user_id,
                    now,
                    now,
                ),
            )
            row = self._ds_one(
                conn,
                f"SELECT {_RUN_COLUMNS} FROM dataset_runs r WHERE r.dataset_id = ? AND r.name = ?",
                (dataset_id, name),
            )
            run = _run(row)
            if inserted is None and (not exist_ok or run.kind != kind):
                raise DatasetConflict(f"this dataset has a run named {name!r} already")
            return run

        created: DatasetRun = self.db.write(write)
        return created

    def get_dataset_run(self, dataset_id: int, name: str) -> DatasetRun | None:
        rows = self._ds_read(
            f"SELECT {_RUN_COLUMNS} FROM dataset_runs r WHERE r.dataset_id = ? AND r.name = ?",
            (dataset_id, name),
        )
        return _run(rows[0]) if rows else None

    def list_dataset_runs(self, dataset_id: int) -> list[DatasetRun]:
        """The dataset's runs, newest first."""
        rows = self._ds_read(
            f"SELECT {_RUN_COLUMNS} FROM dataset_runs r WHERE r.dataset_id = ? "
            "ORDER BY r.created_at DESC, r.id DESC",
            (dataset_id,),
        )
        return [_run(row) for row in rows]

    def delete_dataset_run(self, dataset_id: int, name: str) -> bool:
        def write(conn: AccountConnection) -> bool:
            row = self._ds_one(
                conn,
                "SELECT id FROM dataset_runs WHERE dataset_id = ? AND name = ?",
                (dataset_id, name),
            )
            if row is None:
                return False
            conn.execute(
                self.dialect.sql("DELETE FROM dataset_run_items WHERE run_id = ?"), (row[0],)
            )
            conn.execute(self.dialect.sql("DELETE FROM dataset_runs WHERE id = ?"), (row[0],))
            return True

        done: bool = self.db.write(write)
        return done

    def claim_dataset_run(self, now: float, stale_after: float) -> DatasetRun | None:
        """The oldest queued prompt run, now ``running`` and this caller's; or a running one
        whose runner stopped beating ``stale_after`` seconds ago (a crash: it resumes).

        One statement, so that two nodes' jobs never claim the same run.
        """

        def write(conn: AccountConnection) -> DatasetRun | None:
            row = self._ds_one(
                conn,
                "UPDATE dataset_runs SET status = 'running', updated_at = ?, "
                "started_at = COALESCE(started_at, ?) WHERE id = (SELECT id FROM dataset_runs "
                "WHERE kind = 'prompt' AND (status = 'queued' OR (status = 'running' AND "
                "updated_at < ?)) ORDER BY created_at, id LIMIT 1) "
                "AND (status = 'queued' OR updated_at < ?) RETURNING id",
                (now, now, now - stale_after, now - stale_after),
            )
            if row is None:
                return None
            found = self._ds_one(
                conn, f"SELECT {_RUN_COLUMNS} FROM dataset_runs r WHERE r.id = ?", (row[0],)
            )
            return _run(found)

        claimed: DatasetRun | None = self.db.write(write)
        return claimed

    def update_dataset_run(
        self,
        run_id: int,
        *,
        status: str | None = None,
        error: str | None = None,
        cost_usd: float | None = None,
    ) -> None:
        """Move a run's status (done/failed also stamp ``finished_at``), record its error and
        spend; every call is the runner's heartbeat (``updated_at``)."""

        def write(conn: AccountConnection) -> None:
            now = time.time()
            sets: list[str] = ["updated_at = ?"]
            params: list[Any] = [now]
            if status is not None:
                sets.append("status = ?")
                params.append(status)
                if status in ("done", "failed"):
                    sets.append("finished_at = ?")
                    params.append(now)
            if error is not None:
                sets.append("error = ?")
                params.append(error)
            if cost_usd is not None:
                sets.append("cost_usd = ?")
                params.append(cost_usd)
            conn.execute(
                self.dialect.sql(f"UPDATE dataset_runs SET {', '.join(sets)} WHERE id = ?"),
                (*params, run_id),
            )

        self.db.write(write)

    # -- run items

    def save_run_items(self, items: Sequence[RunItem]) -> None:
        """Record what runs did with items (again for the same run and item: replaced)."""

        def write(conn: AccountConnection) -> None:
            now = time.time()
            for item in items:
                conn.execute(
                    self.dialect.sql(
                        f"INSERT INTO dataset_run_items ({_RUN_ITEM_COLUMNS}) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, item_id) DO "
                        "UPDATE SET trace_id = excluded.trace_id, "
                        "observation_id = excluded.observation_id, output = excluded.output, "
                        "error = excluded.error, latency_s = excluded.latency_s, "
                        "cost_usd = excluded.cost_usd, created_at = excluded.created_at"
                    ),
                    (
                        item.run_id,
                        item.item_id,
                        item.trace_id,
                        item.observation_id,
                        _dumps(item.output),
                        item.error,
                        item.latency_s,
                        item.cost_usd,
                        item.created_at or now,
                    ),
                )
            if items:
                condition, params = self.dialect.in_list("id", sorted({i.run_id for i in items}))
                conn.execute(
                    self.dialect.sql(f"UPDATE dataset_runs SET updated_at = ? WHERE {condition}"),
                    (now, *params),
                )

        self.db.write(write)

    def run_items(self, run_id: int) -> list[RunItem]:
        """Every item of the run, in the order they were recorded."""
        rows = self._ds_read(
            f"SELECT {_RUN_ITEM_COLUMNS} FROM dataset_run_items WHERE run_id = ? "
            "ORDER BY created_at, item_id",
            (run_id,),
        )
        return [_run_item(row) for row in rows]
