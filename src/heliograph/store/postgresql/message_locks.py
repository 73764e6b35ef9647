"""The advisory locks that make a span and its logged messages meet on PostgreSQL.

Several digest processes write at once. Were a span's batch and its
messages' batch to run side by side, each would look for the other, find
nothing yet (neither has committed), and the messages would wait for a span
already stored. So a batch first locks every generation it touches (its
OTLP generations, and those its messages belong to):
``pg_advisory_xact_lock(key, hash of project and event id)``, in one
statement, in hash order (two batches wait for each other, never deadlock;
a hash shared by two generations only makes one wait). The second to lock
sees what the first committed (:mod:`heliograph.store.held_messages`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

__all__ = ["MESSAGE_LOCK", "lock_generations"]

MESSAGE_LOCK = 0x484C4D  # "HLM"


def _hash(project_id: int, event_id: str) -> int:
    digest = hashlib.blake2b(f"{project_id}:{event_id}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


def lock_generations(conn: Any, keys: Iterable[tuple[int, str]]) -> None:
    """Lock the generations ``keys`` name until the transaction ends."""
    hashes = sorted({_hash(project_id, event_id) for project_id, event_id in keys})
    if hashes:
        conn.execute(
            "SELECT count(pg_advisory_xact_lock(%s, h)) "
            "FROM (SELECT h FROM unnest(%s::int[]) AS t(h) ORDER BY h) AS ordered",
            (MESSAGE_LOCK, hashes),
        )
