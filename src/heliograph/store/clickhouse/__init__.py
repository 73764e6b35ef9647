"""Events in ClickHouse, everything else in PostgreSQL: the large-volume deployment."""

from heliograph.store.clickhouse.store import ClickHouseStore

__all__ = ["ClickHouseStore"]
