"""A fresh SQLite store per test: the backend class itself, its tables in reach."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from heliograph.store.sqlite import SQLiteStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    found = SQLiteStore(tmp_path / "heliograph.sqlite3")
    yield found
    found.close()
