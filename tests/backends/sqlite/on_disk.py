"""What the SQLite backend keeps on disk, read straight from its files.

The one place a test outside ``tests/backends/sqlite`` may look at SQLite
itself: an end-to-end test whose check has no read in the storage contract
(and would lose its end-to-end meaning if it moved here) asks through these
helpers instead of opening the backend or the file on its own. Everything
else reads through :func:`heliograph.store.open_store` and the contract.

Read-only: opened with ``mode=ro``, so a running server's writes go on.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

DATABASE = "heliograph.sqlite3"


def _connect(data_dir: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{data_dir / DATABASE}?mode=ro", uri=True, timeout=10)


def sql_scalar(data_dir: Path, sql: str, *params: object) -> object:
    """The first column of the first row ``sql`` finds (None when it finds none)."""
    conn = _connect(data_dir)
    try:
        row = conn.execute(sql, params).fetchone()
    finally:
        conn.close()
    return None if row is None else row[0]


def every_value(data_dir: Path) -> str:
    """Every cell of every table as text (BLOBs, such as event JSON, decoded)."""
    values: list[str] = []
    conn = _connect(data_dir)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                for cell in row:
                    text = cell.decode(errors="replace") if isinstance(cell, bytes) else str(cell)
                    values.append(text)
    finally:
        conn.close()
    return "\n".join(values)


def file_bytes(data_dir: Path) -> bytes:
    """The database's files as they lie on disk: the main file, its WAL and shared memory."""
    return b"".join(path.read_bytes() for path in sorted(data_dir.glob(DATABASE + "*")))
