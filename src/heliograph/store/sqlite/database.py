"""One SQLite file: a single writer thread with group commit, read-only readers.

SQLite allows one writer at a time. Rather than let many threads fight for the
write lock (and time out under load), every write is a *task* handed to the one
writer thread of its database. The writer drains whatever tasks are waiting and
runs them in a single ``BEGIN IMMEDIATE`` transaction, each inside its own
savepoint so one failing task never undoes its neighbours. One commit (one
fsync) then acknowledges many concurrent requests: group commit.

Several processes write the same files (a node's digest workers share the
store; an acceptor and a digest worker share each queue shard). SQLite's own
wait for its write lock polls, sleeping up to 100 ms between tries, so under
contention the lock sat free while writers slept: twelve digest processes
wrote no faster than two. Each writer therefore takes an exclusive ``flock``
on ``<file>-writer.lock`` around its transaction; the kernel hands that lock
to a waiting process the moment it is released, and SQLite never has to wait.

Reads use per-thread read-only connections (WAL lets them run beside the
writer) under a time limit, so a slow query can't pin a worker forever.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from heliograph.store.base import QueryTimeout as BaseQueryTimeout
from heliograph.store.base import SchemaTooNew, StoreUnavailable

T = TypeVar("T")
Task = Callable[[sqlite3.Connection], Any]

logger = logging.getLogger(__name__)

_STOP = object()
MAX_TASKS_PER_COMMIT = 2000


class QueryTimeout(BaseQueryTimeout):
    """A read ran longer than its time limit and was interrupted."""


# SQLite's primary result codes that say nothing about the data: retry later.
_TRANSIENT_CODES = frozenset(
    {
        5,  # SQLITE_BUSY
        6,  # SQLITE_LOCKED
        7,  # SQLITE_NOMEM
        8,  # SQLITE_READONLY (e.g. a read-only mount)
        10,  # SQLITE_IOERR
        13,  # SQLITE_FULL
        14,  # SQLITE_CANTOPEN
        15,  # SQLITE_PROTOCOL
    }
)


def is_unavailable(exc: BaseException) -> bool:
    """True for failures of the database rather than the data (locked, full, I/O).

    Other errors -- "no such column", "too many SQL variables" -- would fail
    the same way every time: they are the data's (or a bug's), not a reason
    to wait. Python before 3.11 gives no result code: every
    ``OperationalError`` counts as unavailable there.
    """
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    return code is None or code & 0xFF in _TRANSIENT_CODES


def _unavailable(exc: BaseException) -> BaseException:
    """Name the failures that say nothing about the data as :class:`StoreUnavailable`."""
    if is_unavailable(exc):
        unavailable = StoreUnavailable(str(exc))
        unavailable.__cause__ = exc
        return unavailable
    return exc


class Database:
    """A SQLite database file with one writer thread and per-thread readers.

    ``migrations`` is an ordered list of SQL scripts; the index of the last one
    applied is kept in ``PRAGMA user_version`` so upgrades run exactly once.
    ``durable=True`` makes each commit fsync the WAL (``synchronous=FULL``):
    used for the ingest queue, whose commits are promises made to clients.
    """

    def __init__(
        self,
        path: Path,
        *,
        migrations: Sequence[str] = (),
        durable: bool = False,
        read_timeout: float = 5.0,
    ) -> None:
        self.path = path
        self.read_timeout = read_timeout
        self.migration_count = len(migrations)
        self._synchronous = "FULL" if durable else "NORMAL"
        self._tasks: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._local = threading.local()
        self._write_lock = os.open(f"{path}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
        self._write_conn = self._connect()
        try:
            with self._writing():
                self._migrate(migrations)
        except BaseException:
            self._write_conn.close()
            os.close(self._write_lock)
            raise
        self._thread = threading.Thread(
            target=self._writer_loop, name=f"sqlite-writer:{path.name}", daemon=True
        )
        self._closed = False
        self._thread.start()

    # -- connections -----------------------------------------------------

    def _connect(self, *, readonly: bool = False) -> sqlite3.Connection:
        if readonly:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            conn.execute("PRAGMA query_only = ON")
        else:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
            conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 5000")
        conn.row_factory = sqlite3.Row
        return conn

    def _migrate(self, migrations: Sequence[str]) -> None:
        """Bring the file to the last migration, all in one transaction.

        The version is read under the write lock: the processes of a node open
        the same files at the same moment, and exactly one of them migrates
        (the others wait, then find nothing left to do). A file migrated further
        than ``migrations`` goes, by a newer Heliograph, is refused
        (:class:`SchemaTooNew`): this code cannot know what those migrations
        changed.
        """
        conn = self._write_conn
        found = conn.execute("PRAGMA user_version").fetchone()[0]
        if found > len(migrations):
            raise SchemaTooNew(str(self.path), found, len(migrations))
        if found == len(migrations):
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = conn.execute("PRAGMA user_version").fetchone()[0]
            for version, script in enumerate(migrations, start=1):
                if version <= current:
                    continue
                logger.info("migrating %s to version %d", self.path.name, version)
                for statement in _statements(script):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # -- writes ----------------------------------------------------------

    def submit(self, task: Callable[[sqlite3.Connection], T]) -> Future[T]:
        """Queue a write task; the future resolves once its transaction commits."""
        future: Future[T] = Future()
        if self._closed:
            future.set_exception(StoreUnavailable(f"database {self.path.name} is closed"))
            return future
        self._tasks.put((task, future))
        return future

    def write(self, task: Callable[[sqlite3.Connection], T]) -> T:
        """Run a write task and wait for its commit (from any thread but the writer)."""
        return self.submit(task).result()

    async def write_async(self, task: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.wrap_future(self.submit(task))

    def _writer_loop(self) -> None:
        conn = self._write_conn
        while True:
            first = self._tasks.get()
            if first is _STOP:
                break
            batch = [first]
            stop_after = False
            while len(batch) < MAX_TASKS_PER_COMMIT:
                try:
                    item = self._tasks.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop_after = True
                    break
                batch.append(item)
            self._run_batch(conn, batch)
            if stop_after:
                break
        conn.close()
        os.close(self._write_lock)

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Hold the file's write lock among processes (see the module docstring)."""
        fcntl.flock(self._write_lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._write_lock, fcntl.LOCK_UN)

    def _run_batch(self, conn: sqlite3.Connection, batch: list[Any]) -> None:
        with self._writing():
            self._run_locked(conn, batch)

    def _run_locked(self, conn: sqlite3.Connection, batch: list[Any]) -> None:
        results: list[tuple[Future[Any], bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for task, future in batch:
                conn.execute("SAVEPOINT task")
                try:
                    value = task(conn)
                except BaseException as exc:
                    if isinstance(exc, sqlite3.Error) and not conn.in_transaction:
                        # SQLite rolled the whole transaction back itself (disk
                        # full, I/O error): nothing of this batch is committed,
                        # and every task fails with this cause (below).
                        raise
                    conn.execute("ROLLBACK TO task")
                    conn.execute("RELEASE task")
                    results.append((future, False, _unavailable(exc)))
                else:
                    conn.execute("RELEASE task")
                    results.append((future, True, value))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            logger.exception("commit failed on %s", self.path.name)
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            for _task, future in batch:
                future.set_exception(_unavailable(exc))
            return
        for future, ok, value in results:
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    # -- reads -----------------------------------------------------------

    def read(self, query: Callable[[sqlite3.Connection], T], *, timeout: float | None = None) -> T:
        """Run a read on this thread's read-only connection, under the time limit
        (``timeout`` seconds instead of the database's, when given)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect(readonly=True)
            self._local.conn = conn
        limit = self.read_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit

        def check_deadline() -> int:
            return 1 if time.monotonic() > deadline else 0

        conn.set_progress_handler(check_deadline, 10_000)
        try:
            return query(conn)
        except sqlite3.OperationalError as exc:
            if "interrupted" in str(exc):
                raise QueryTimeout(f"query exceeded {limit}s") from exc
            raise
        finally:
            conn.set_progress_handler(None, 0)

    def schema_version(self, timeout: float) -> int:
        """The migrations applied (``PRAGMA user_version``), read like any query:
        a trivial read that proves the file opens and answers."""
        version = self.read(
            lambda conn: conn.execute("PRAGMA user_version").fetchone()[0], timeout=timeout
        )
        return int(version)

    def close(self) -> None:
        """Finish queued writes, then stop the writer."""
        if self._closed:
            return
        self._closed = True
        self._tasks.put(_STOP)
        self._thread.join(timeout=30)


def _statements(script: str) -> list[str]:
    """A migration script cut into single statements (``execute`` runs one at a time).

    ``executescript`` would run it whole, but commits first: the migration
    would no longer be inside the transaction that read the version.
    """
    statements: list[str] = []
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \t\n;"):
                statements.append(pending)
            pending = ""
    if pending.strip(" \t\n;"):
        raise ValueError(f"incomplete SQL statement in a migration: {pending.strip()[:80]!r}")
    return statements
