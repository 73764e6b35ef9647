"""A throwaway PostgreSQL cluster for the tests: initdb, pg_ctl, one database per test.

The Debian ``postgresql`` package provides the server (``.ci/run`` installs
it). ``initdb`` refuses to run as root, so as root the cluster belongs to the
``postgres`` user the package creates. The cluster listens on a free loopback
port with fsync off (tests need speed, not durability) and is stopped when
the session ends. Without a PostgreSQL installation the tests that need one
are skipped, saying why.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg

__all__ = ["PostgresCluster", "find_bindir"]

USER = "heliograph"


def find_bindir() -> Path | None:
    """The newest installed PostgreSQL's bin directory (Debian layout), or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: p.parts)
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresCluster:
    """A running cluster; :meth:`new_database` hands out empty databases."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="heliograph-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self._as_postgres: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            self._as_postgres = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", USER, "-E", "UTF8",
                  "--no-sync")  # fmt: skip
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        self._run("pg_ctl", "-D", str(self.data), "-w", "-l", str(self.root / "log"),
                  "-o", options, "start")  # fmt: skip
        self._numbers = itertools.count(1)

    def _run(self, program: str, *args: str) -> None:
        subprocess.run(
            [*self._as_postgres, str(self.bindir / program), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """The URL of a new, empty database."""
        name = f"test_{next(self._numbers)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def cluster() -> Iterator[PostgresCluster | None]:
    """For a session fixture: a cluster, or None when PostgreSQL is not installed."""
    bindir = find_bindir()
    if bindir is None:
        yield None
        return
    running = PostgresCluster(bindir)
    try:
        yield running
    finally:
        running.stop()
