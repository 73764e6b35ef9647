"""Evaluators, their daily usage and on-demand runs, one implementation for every SQL backend.

A mixin of the stores, like :mod:`heliograph.store.prompt_store`; in the
ClickHouse mode these tables live in PostgreSQL with everything but events.
An evaluator's definition is one JSON column (its shape is checked by
:func:`heliograph.evals.definition.make_evaluator` on the way in and grows
without migrations); its name, kind and switch are columns because lists
filter on them. Usage rows are added to with an upsert, so spend recorded by
two writers adds up instead of one overwriting the other.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, ClassVar, Generic

import orjson

from heliograph.evals.definition import Evaluator, EvaluatorError, EvaluatorFilter
from heliograph.evals.records import EvaluatorRun, EvaluatorUsage
from heliograph.store.account_reads import AccountConnection, DbT
from heliograph.store.sql_dialect import SqlDialect

__all__ = ["EvaluatorStoreMixin"]

_COLUMNS = (
    "id, project_id, name, kind, definition, enabled, cursor_timestamp, cursor_event_id, "
    "created_at, updated_at"
)
_RUN_COLUMNS = (
    "id, project_id, evaluator_id, filters, run_limit, state, requested_by, created_at, "
    "finished_at, scored, passed, failed, skipped, errors, cost_usd, message"
)
_COUNTS = ("scored", "passed", "failed", "skipped", "errors", "cost_usd")


def _definition(evaluator: Evaluator) -> str:
    return orjson.dumps(
        {
            "config": evaluator.config,
            "output": evaluator.output,
            "model": evaluator.model,
            "sampling_rate": evaluator.sampling_rate,
            "daily_budget_usd": evaluator.daily_budget_usd,
            "filter": evaluator.filter.to_json(),
            "threshold": evaluator.threshold,
            "window": evaluator.window,
        }
    ).decode()


def _evaluator(row: Any) -> Evaluator:
    data: dict[str, Any] = orjson.loads(row[4])
    return Evaluator(
        project_id=int(row[1]),
        id=int(row[0]),
        name=row[2],
        kind=row[3],
        config=data.get("config", {}),
        output=data.get("output", {}),
        model=data.get("model", ""),
        sampling_rate=float(data.get("sampling_rate", 1.0)),
        daily_budget_usd=float(data.get("daily_budget_usd", 0.0)),
        filter=EvaluatorFilter(**data.get("filter", {})),
        threshold=data.get("threshold"),
        window=int(data.get("window", 1)),
        enabled=bool(row[5]),
        cursor_timestamp=float(row[6]),
        cursor_event_id=row[7],
        created_at=float(row[8]),
        updated_at=float(row[9]),
    )


def _usage(values: Any) -> EvaluatorUsage:
    scored, passed, failed, skipped, errors, cost = values[:6]
    return EvaluatorUsage(
        int(scored), int(passed), int(failed), int(skipped), int(errors), float(cost)
    )


def _run(row: Any) -> EvaluatorRun:
    return EvaluatorRun(
        id=int(row[0]),
        project_id=int(row[1]),
        evaluator_id=int(row[2]),
        filters=orjson.loads(row[3]),
        limit=int(row[4]),
        state=row[5],
        requested_by=None if row[6] is None else int(row[6]),
        created_at=float(row[7]),
        finished_at=None if row[8] is None else float(row[8]),
        usage=_usage(row[9:15]),
        message=row[15],
    )


class EvaluatorStoreMixin(Generic[DbT]):
    """Evaluators shared by the backends; the class using it provides ``db`` and ``dialect``."""

    db: DbT
    dialect: ClassVar[SqlDialect]

    def _eval_one(self, conn: AccountConnection, sql: str, params: tuple[Any, ...]) -> Any:
        return conn.execute(self.dialect.sql(sql), params).fetchone()

    def _eval_all(self, conn: AccountConnection, sql: str, params: tuple[Any, ...]) -> list[Any]:
        return list(conn.execute(self.dialect.sql(sql), params).fetchall())

    def create_evaluator(self, evaluator: Evaluator) -> Evaluator:
        """Store a new evaluator (checked); :class:`EvaluatorError` when its project already
        has one of that name. Its background run starts with generations from now on."""

        def write(conn: AccountConnection) -> Evaluator:
            now = time.time()
            row = self._eval_one(
                conn,
                "INSERT INTO evaluators (project_id, name, kind, definition, enabled, "
                "cursor_timestamp, cursor_event_id, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, '', ?, ?) "
                f"ON CONFLICT (project_id, name) DO NOTHING RETURNING {_COLUMNS}",
                (
                    evaluator.project_id,
                    evaluator.name,
                    evaluator.kind,
                    _definition(evaluator),
                    int(evaluator.enabled),
                    now,
                    now,
                    now,
                ),
            )
            if row is None:
                raise EvaluatorError(f"an evaluator named {evaluator.name!r} exists already")
            return _evaluator(row)

        created: Evaluator = self.db.write(write)
        return created

    def update_evaluator(self, evaluator: Evaluator) -> Evaluator | None:
        """Replace the definition of evaluator ``evaluator.id`` (its cursor stays, but
        one switched back on starts from now); None when the project has none such."""

        def write(conn: AccountConnection) -> Evaluator | None:
            clash = self._eval_one(
                conn,
                "SELECT id FROM evaluators WHERE project_id = ? AND name = ? AND id <> ?",
                (evaluator.project_id, evaluator.name, evaluator.id),
            )
            if clash is not None:
                raise EvaluatorError(f"an evaluator named {evaluator.name!r} exists already")
            now = time.time()
            # Switched back on: judge what comes from now on, not the backlog of the pause.
            row = self._eval_one(
                conn,
                "UPDATE evaluators SET name = ?, kind = ?, definition = ?, "
                "cursor_timestamp = CASE WHEN enabled = 0 AND ? = 1 THEN ? "
                "ELSE cursor_timestamp END, "
                "cursor_event_id = CASE WHEN enabled = 0 AND ? = 1 THEN '' "
                "ELSE cursor_event_id END, "
                f"enabled = ?, updated_at = ? WHERE project_id = ? AND id = ? RETURNING {_COLUMNS}",
                (
                    evaluator.name,
                    evaluator.kind,
                    _definition(evaluator),
                    int(evaluator.enabled),
                    now,
                    int(evaluator.enabled),
                    int(evaluator.enabled),
                    now,
                    evaluator.project_id,
                    evaluator.id,
                ),
            )
            return None if row is None else _evaluator(row)

        updated: Evaluator | None = self.db.write(write)
        return updated

    def get_evaluator(self, project_id: int, evaluator_id: int) -> Evaluator | None:
        def read(conn: AccountConnection) -> Evaluator | None:
            row = self._eval_one(
                conn,
                f"SELECT {_COLUMNS} FROM evaluators WHERE project_id = ? AND id = ?",
                (project_id, evaluator_id),
            )
            return None if row is None else _evaluator(row)

        found: Evaluator | None = self.db.read(read)
        return found

    def list_evaluators(
        self, project_id: int | None = None, *, enabled_only: bool = False
    ) -> list[Evaluator]:
        """A project's evaluators by name (None: every project's, by id)."""

        def read(conn: AccountConnection) -> list[Evaluator]:
            where, params = [], []
            if project_id is not None:
                where.append("project_id = ?")
                params.append(project_id)
            if enabled_only:
                where.append("enabled = 1")
            clause = f" WHERE {' AND '.join(where)}" if where else ""
            order = f"name{self.dialect.text_order}" if project_id is not None else "id"
            rows = self._eval_all(
                conn, f"SELECT {_COLUMNS} FROM evaluators{clause} ORDER BY {order}", tuple(params)
            )
            return [_evaluator(row) for row in rows]

        found: list[Evaluator] = self.db.read(read)
        return found

    def delete_evaluator(self, project_id: int, evaluator_id: int) -> bool:
        """Delete an evaluator with its usage and runs (its scores stay)."""

        def write(conn: AccountConnection) -> bool:
            row = self._eval_one(
                conn,
                "DELETE FROM evaluators WHERE project_id = ? AND id = ? RETURNING id",
                (project_id, evaluator_id),
            )
            if row is None:
                return False
            for table in ("evaluator_usage", "evaluator_runs"):
                conn.execute(
                    self.dialect.sql(f"DELETE FROM {table} WHERE evaluator_id = ?"),
                    (evaluator_id,),
                )
            return True

        done: bool = self.db.write(write)
        return done

    def move_evaluator_cursor(self, evaluator_id: int, timestamp: float, event_id: str) -> None:
        """Remember the last generation the background run looked at."""
        self.db.write(
            lambda conn: conn.execute(
                self.dialect.sql(
                    "UPDATE evaluators SET cursor_timestamp = ?, cursor_event_id = ? WHERE id = ?"
                ),
                (timestamp, event_id, evaluator_id),
            )
        )

    def add_evaluator_usage(
        self, project_id: int, evaluator_id: int, day: int, usage: EvaluatorUsage
    ) -> None:
        """Add ``usage`` to the evaluator's tally of ``day`` (days since the epoch, UTC)."""
        sums = ", ".join(f"{c} = evaluator_usage.{c} + excluded.{c}" for c in _COUNTS)
        self.db.write(
            lambda conn: conn.execute(
                self.dialect.sql(
                    f"INSERT INTO evaluator_usage (evaluator_id, day, project_id, "
                    f"{', '.join(_COUNTS)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    f"ON CONFLICT (evaluator_id, day) DO UPDATE SET {sums}"
                ),
                (evaluator_id, day, project_id, *_values(usage)),
            )
        )

    def evaluator_usage(self, evaluator_id: int, day: int) -> EvaluatorUsage:
        """The evaluator's tally of ``day`` (zeros when it did nothing)."""

        def read(conn: AccountConnection) -> EvaluatorUsage:
            row = self._eval_one(
                conn,
                f"SELECT {', '.join(_COUNTS)} FROM evaluator_usage "
                "WHERE evaluator_id = ? AND day = ?",
                (evaluator_id, day),
            )
            return EvaluatorUsage() if row is None else _usage(row)

        found: EvaluatorUsage = self.db.read(read)
        return found

    def queue_evaluator_run(
        self,
        project_id: int,
        evaluator_id: int,
        filters: Mapping[str, Any],
        limit: int,
        *,
        user_id: int | None,
    ) -> EvaluatorRun:
        """Queue an on-demand run for the evaluation job."""

        def write(conn: AccountConnection) -> EvaluatorRun:
            row = self._eval_one(
                conn,
                "INSERT INTO evaluator_runs (project_id, evaluator_id, filters, run_limit, "
                "state, requested_by, created_at) VALUES (?, ?, ?, ?, 'queued', ?, ?) "
                f"RETURNING {_RUN_COLUMNS}",
                (
                    project_id,
                    evaluator_id,
                    orjson.dumps(dict(filters)).decode(),
                    limit,
                    user_id,
                    time.time(),
                ),
            )
            return _run(row)

        queued: EvaluatorRun = self.db.write(write)
        return queued

    def claim_evaluator_run(self) -> EvaluatorRun | None:
        """The oldest queued run, now marked running; None when none waits."""

        def write(conn: AccountConnection) -> EvaluatorRun | None:
            row = self._eval_one(
                conn,
                "UPDATE evaluator_runs SET state = 'running' WHERE id = (SELECT id FROM "
                "evaluator_runs WHERE state = 'queued' ORDER BY id LIMIT 1"
                f"{self.dialect.skip_locked}) RETURNING {_RUN_COLUMNS}",
                (),
            )
            return None if row is None else _run(row)

        claimed: EvaluatorRun | None = self.db.write(write)
        return claimed

    def finish_evaluator_run(
        self, run_id: int, *, state: str, usage: EvaluatorUsage, message: str = ""
    ) -> None:
        """Record how a run ended (``done`` or ``failed``) and what it did."""
        sets = ", ".join(f"{c} = ?" for c in _COUNTS)
        self.db.write(
            lambda conn: conn.execute(
                self.dialect.sql(
                    f"UPDATE evaluator_runs SET state = ?, finished_at = ?, message = ?, {sets} "
                    "WHERE id = ?"
                ),
                (state, time.time(), message[:500], *_values(usage), run_id),
            )
        )

    def evaluator_runs(
        self, project_id: int, evaluator_id: int, *, limit: int = 20
    ) -> list[EvaluatorRun]:
        """The evaluator's on-demand runs, newest first."""

        def read(conn: AccountConnection) -> list[EvaluatorRun]:
            rows = self._eval_all(
                conn,
                f"SELECT {_RUN_COLUMNS} FROM evaluator_runs WHERE project_id = ? AND "
                "evaluator_id = ? ORDER BY id DESC LIMIT ?",
                (project_id, evaluator_id, limit),
            )
            return [_run(row) for row in rows]

        found: list[EvaluatorRun] = self.db.read(read)
        return found


def _values(usage: EvaluatorUsage) -> tuple[Any, ...]:
    return (usage.scored, usage.passed, usage.failed, usage.skipped, usage.errors, usage.cost_usd)
