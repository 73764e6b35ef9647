"""One PostgreSQL database: a connection pool, writes in transactions, reads under a time limit.

Unlike SQLite, PostgreSQL takes writes from many connections at once, and
from many nodes: each write task runs in a transaction of its own on a
pooled connection, and the database orders what conflicts (row locks,
``ON CONFLICT``). :meth:`PgDatabase.submit` runs write tasks on one thread per
process, in order, so that digest can prepare its next batch while the
previous one commits (the same shape as the SQLite writer thread).

Schema migrations are numbered scripts; ``heliograph_schema`` keeps how many
have run. They run at open under a transaction-scoped advisory lock, so N
nodes starting at once migrate exactly once and the others wait.

Rows answer both ``row[0]`` and ``row["name"]``, as ``sqlite3.Row`` does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import psycopg
from psycopg import errors
from psycopg.abc import Buffer
from psycopg.rows import RowMaker
from psycopg.types.string import StrDumperUnknown
from psycopg_pool import ConnectionPool, PoolTimeout

from heliograph.store.base import QueryTimeout as BaseQueryTimeout
from heliograph.store.base import SchemaTooNew, StoreUnavailable

__all__ = ["PgDatabase", "PgRow", "QueryTimeout", "is_unavailable"]

T = TypeVar("T")
Connection = psycopg.Connection[Any]

logger = logging.getLogger(__name__)

# pg_advisory_xact_lock key for migrations (any constant shared by every node).
MIGRATION_LOCK = 0x48454C494F  # "HELIO"
POOL_SIZE = 8


class QueryTimeout(BaseQueryTimeout):
    """A read ran longer than its time limit and was cancelled."""


class PgRow(tuple[Any, ...]):
    """A result row addressed by position or by column name."""

    _index: dict[str, int]

    def __new__(cls, values: Sequence[Any], index: dict[str, int]) -> PgRow:
        row = super().__new__(cls, values)
        row._index = index
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


def pg_row(cursor: psycopg.Cursor[Any]) -> RowMaker[PgRow]:
    names = [column.name for column in cursor.description or ()]
    index = {name: position for position, name in enumerate(names)}

    def make(values: Sequence[Any]) -> PgRow:
        return PgRow(values, index)

    return make


class _NulSafeStr(StrDumperUnknown):
    """Strings as PostgreSQL text can hold them: NUL characters become U+FFFD.

    SQLite stores NULs, PostgreSQL refuses them; clients send them (a hostile
    model name, a NUL in a message). Replacing them here, for every statement,
    keeps such an event storable instead of failing its whole batch.
    """

    def dump(self, obj: str) -> Buffer | None:
        return super().dump(obj.replace("\x00", "\ufffd") if "\x00" in obj else obj)


def _configure(conn: Connection) -> None:
    conn.adapters.register_dumper(str, _NulSafeStr)


# Failures of the database rather than the data: the connection, the server
# shutting down, a conflict between concurrent transactions. Retrying later helps.
_TRANSIENT = (
    psycopg.OperationalError,
    errors.SerializationFailure,
    errors.DeadlockDetected,
    errors.LockNotAvailable,
    errors.AdminShutdown,
    errors.CannotConnectNow,
    errors.DiskFull,
    errors.OutOfMemory,
    errors.TooManyConnections,
    PoolTimeout,
)


def is_unavailable(exc: BaseException) -> bool:
    """True when the database, not the data, is at fault (see ``_TRANSIENT``)."""
    return isinstance(exc, _TRANSIENT) and not isinstance(exc, errors.QueryCanceled)


def _unavailable(exc: BaseException) -> BaseException:
    if is_unavailable(exc):
        unavailable = StoreUnavailable(str(exc).strip())
        unavailable.__cause__ = exc
        return unavailable
    return exc


def _where(url: str) -> str:
    """``host:port/db`` of a database URL: never its password, in a message."""
    return url.split("@")[-1]


class PgDatabase:
    """A PostgreSQL database at ``url`` (``postgresql://user:pass@host:port/db``)."""

    def __init__(
        self, url: str, *, migrations: Sequence[str] = (), read_timeout: float = 5.0
    ) -> None:
        self.url = url
        self.read_timeout = read_timeout
        self.migration_count = len(migrations)
        self.pool: ConnectionPool[Connection] = ConnectionPool(
            url,
            min_size=1,
            max_size=POOL_SIZE,
            kwargs={"row_factory": pg_row},
            configure=_configure,
            open=False,
            name="heliograph",
        )
        try:
            self.pool.open(wait=True, timeout=30)
        except PoolTimeout as exc:
            self.pool.close()
            raise StoreUnavailable(f"cannot connect to PostgreSQL: {exc}") from exc
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-writer")
        self._closed = False
        try:
            self._migrate(migrations)
        except BaseException:
            self.close()
            raise

    def _migrate(self, migrations: Sequence[str]) -> None:
        """Bring the schema to the last migration, one node at a time (an advisory lock).

        A schema migrated further than ``migrations`` goes, by a newer
        Heliograph, is refused (:class:`SchemaTooNew`).
        """
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            conn.execute("CREATE TABLE IF NOT EXISTS heliograph_schema (version INTEGER NOT NULL)")
            row = conn.execute("SELECT version FROM heliograph_schema").fetchone()
            current = 0 if row is None else int(row[0])
            if current > len(migrations):
                raise SchemaTooNew(
                    f"the PostgreSQL database {_where(self.url)}", current, len(migrations)
                )
            if row is None:
                conn.execute("INSERT INTO heliograph_schema (version) VALUES (0)")
            for version, script in enumerate(migrations, start=1):
                if version <= current:
                    continue
                logger.info("migrating the PostgreSQL schema to version %d", version)
                conn.execute(script)  # a fixed script of ours
                conn.execute("UPDATE heliograph_schema SET version = %s", (version,))

    # -- writes ----------------------------------------------------------

    def write(self, task: Callable[[Connection], T]) -> T:
        """Run ``task`` in a transaction of its own and commit it."""
        try:
            with self.pool.connection() as conn, conn.transaction():
                return task(conn)
        except Exception as exc:
            raise _unavailable(exc) from exc.__cause__

    def submit(self, task: Callable[[Connection], T]) -> Future[T]:
        """Queue a write; the future resolves once it has committed (in order, per process)."""
        if self._closed:
            future: Future[T] = Future()
            future.set_exception(StoreUnavailable("database is closed"))
            return future
        return self._writer.submit(self.write, task)

    async def write_async(self, task: Callable[[Connection], T]) -> T:
        return await asyncio.wrap_future(self.submit(task))

    # -- reads -----------------------------------------------------------

    def read(self, query: Callable[[Connection], T]) -> T:
        """Run ``query`` in a read-only transaction, cancelled past the time limit."""
        try:
            with self.pool.connection() as conn, conn.transaction():
                conn.execute("SET TRANSACTION READ ONLY")
                conn.execute(
                    "SELECT set_config('statement_timeout', %s, true)",
                    (str(int(self.read_timeout * 1000)),),
                )
                return query(conn)
        except errors.QueryCanceled as exc:
            raise QueryTimeout(f"query exceeded {self.read_timeout}s") from exc
        except Exception as exc:
            raise _unavailable(exc) from exc.__cause__

    def schema_version(self, timeout: float) -> int:
        """The migrations applied (``heliograph_schema``), within ``timeout`` seconds:
        waiting for a pooled connection and the query are both bounded, so a
        readiness probe never queues behind a pool that a dead server has drained."""
        try:
            with self.pool.connection(timeout=timeout) as conn, conn.transaction():
                conn.execute("SET TRANSACTION READ ONLY")
                conn.execute(
                    "SELECT set_config('statement_timeout', %s, true)",
                    (str(max(1, int(timeout * 1000))),),
                )
                row = conn.execute("SELECT version FROM heliograph_schema").fetchone()
        except errors.QueryCanceled as exc:
            raise QueryTimeout(f"query exceeded {timeout}s") from exc
        except Exception as exc:
            raise _unavailable(exc) from exc.__cause__
        return 0 if row is None else int(row[0])

    def close(self) -> None:
        """Finish queued writes, then close every connection."""
        if self._closed:
            return
        self._closed = True
        self._writer.shutdown(wait=True)
        self.pool.close()
