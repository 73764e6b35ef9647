"""What a store says when asked whether it is usable: its schemas' versions.

``Store.ping`` answers with one :class:`SchemaState` per database the store
uses (SQLite alone; PostgreSQL, and ClickHouse beside it for the events).
Readiness (:mod:`heliograph.health`) compares ``applied`` with ``expected``:
fewer means migrations are pending, more means the database was upgraded by
a newer Heliograph than this one.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PING_TIMEOUT = 2.0


@dataclass(frozen=True, slots=True)
class SchemaState:
    """One database's schema: the migrations it has and the ones this binary ships."""

    database: str  # "sqlite", "postgresql" or "clickhouse": never a URL
    applied: int
    expected: int

    @property
    def pending(self) -> int:
        """Migrations this binary has that the database lacks (0 when up to date)."""
        return max(0, self.expected - self.applied)

    @property
    def too_new(self) -> bool:
        """The database was migrated by a newer Heliograph than this one."""
        return self.applied > self.expected
