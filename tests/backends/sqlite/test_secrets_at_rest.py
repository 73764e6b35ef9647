"""Secrets the SQLite backend must never keep in the clear, checked in a dump of its file.

The contract (``tests/contract/test_accounts.py``) says what a token does; only the
backend can say what lies on disk.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from heliograph.store.sqlite import SQLiteStore


def test_api_tokens_are_stored_hashed(store: SQLiteStore, tmp_path: Path) -> None:
    user = store.create_user("t@x")
    raw = store.create_api_token(user.id, "ci", "write")
    assert store.user_for_api_token(raw) is not None
    [info] = store.list_api_tokens(user.id)
    time.sleep(0.05)  # the last-use stamp is written in the background
    with sqlite3.connect(tmp_path / "heliograph.sqlite3") as conn:
        dump = "\n".join(conn.iterdump())
    assert info.prefix == raw[:10]  # the listed prefix is all that is kept of it...
    assert raw not in dump and raw[10:] not in dump  # ...neither the token nor its secret part
