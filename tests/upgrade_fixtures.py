"""The data directories earlier releases wrote (``tests/fixtures/datadirs``), unpacked.

Each ``<name>.tar.gz`` was made by ``tests/fixtures/make_datadir.py`` running
that release's code; ``<name>.json`` beside it is what the old server's own
API said it held. A release adds its own with the same script.
"""

from __future__ import annotations

import json
import sqlite3
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATADIRS = Path(__file__).resolve().parent / "fixtures" / "datadirs"
# Rows that may go away on their own, whatever the migrations: one-time login links
# expire and are purged; the queue is drained by digest.
EPHEMERAL = {("heliograph.sqlite3", "login_links"), ("heliograph.sqlite3", "sessions")}


@dataclass(frozen=True)
class Fixture:
    name: str
    expected: dict[str, Any]

    @property
    def archive(self) -> Path:
        return DATADIRS / f"{self.name}.tar.gz"

    def unpack(self, into: Path) -> Path:
        """A fresh copy of the data directory in ``into``."""
        into.mkdir(parents=True, exist_ok=True)
        with tarfile.open(self.archive) as tar:
            tar.extractall(into, filter="data")
        return into


def fixtures() -> list[Fixture]:
    return [
        Fixture(path.name.removesuffix(".json"), json.loads(path.read_text()))
        for path in sorted(DATADIRS.glob("*.json"))
    ]


def user_version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def set_user_version(path: Path, version: int) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {int(version)}")


def table_rows(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {n: conn.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0] for n in names}


def lost_rows(data_dir: Path, expected: dict[str, dict[str, int]]) -> dict[str, str]:
    """Tables with fewer rows than the old version left (or gone), ephemeral ones aside."""
    lost = {}
    for file, tables in expected.items():
        now = table_rows(data_dir / file)
        for table, rows in tables.items():
            if (file, table) in EPHEMERAL or file.startswith("queue"):
                continue
            if now.get(table, -1) < rows:
                lost[f"{file}:{table}"] = f"{rows} before, {now.get(table, 'no table')} now"
    return lost
