"""Migration 11 numbers the issues that existed before it, per project, in id order."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from heliograph.store.sqlite.database import Database
from heliograph.store.sqlite.schema import MIGRATIONS
from heliograph.store.sqlite.store import SQLiteStore
from tests.contract.builders import error, record_errors


def test_existing_issues_are_numbered_in_id_order_per_project(tmp_path: Path) -> None:
    path = tmp_path / "heliograph.sqlite3"
    Database(path, migrations=MIGRATIONS[:10]).close()
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO organizations (id, slug, name, created_at) VALUES (1, 'acme', 'Acme', 0)"
    )
    for project_id, slug in ((1, "web"), (2, "api")):
        conn.execute(
            "INSERT INTO projects (id, organization_id, slug, name, created_at) "
            "VALUES (?, 1, ?, ?, 0)",
            (project_id, slug, slug),
        )
    for issue_id, project_id in ((3, 1), (5, 2), (7, 1), (8, 1), (9, 2)):
        conn.execute(
            "INSERT INTO issues (id, project_id, group_hash, grouping_version, title, level, "
            "first_seen, last_seen, last_release) VALUES (?, ?, ?, 'v1', 't', 'error', 1, 2, 'r1')",
            (issue_id, project_id, f"h{issue_id}"),
        )
    conn.commit()
    conn.close()
    store = SQLiteStore(path)
    try:
        numbers = {i: store.get_issue(i).short_number for i in (3, 5, 7, 8, 9)}  # type: ignore[union-attr]
        assert numbers == {3: 1, 7: 2, 8: 3, 5: 1, 9: 2}
        # New issues continue from the backfilled numbers.
        record_errors(store, error(1, "new"))
        found = store.issue_by_number(1, 4)
        assert found is not None and found.group_hash == "new"
    finally:
        store.close()
