"""The AI-fix cache (PostgreSQL)."""

from __future__ import annotations

from heliograph.store.postgresql.database import PgDatabase


class PgFixCache:
    def __init__(self, db: PgDatabase) -> None:
        self.db = db
