"""The advisory lock of a project's persons on PostgreSQL.

``pg_advisory_xact_lock(key, project id)``: shared by digest batches that only
set properties, exclusive for one that merges (``store/people_store.py``) and
for a retention write that deletes persons, so that no merge, update or
deletion of one project's persons runs beside another, and their row locks
are never taken in two orders (a deadlock).
"""

from __future__ import annotations

from typing import Any

__all__ = ["PEOPLE_LOCK", "people_lock"]

PEOPLE_LOCK = 0x48504C  # "HPL"


def people_lock(conn: Any, project_id: int, exclusive: bool) -> None:
    """Take the project's people lock until the transaction ends."""
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    conn.execute(f"SELECT {function}(%s, %s)", (PEOPLE_LOCK, project_id & 0x7FFFFFFF))
