"""Disk use per project when the events are in ClickHouse (see :mod:`heliograph.store.disk_use`).

The documents and typed LLM rows are counted in ClickHouse (``length`` of a
String column reads its offsets, not its bytes); recordings stay in
PostgreSQL's ``replays`` table. Rows ClickHouse has not merged yet may be
counted twice for a moment: the figure is an estimate, as documented.
"""

from __future__ import annotations

from heliograph.store.clickhouse.client import ClickHouseClient

__all__ = ["ClickHouseDiskUse"]


class ClickHouseDiskUse:
    """Overrides the SQL backends' event and LLM figures; the class provides ``events``."""

    events: ClickHouseClient

    def _event_sizes(self) -> dict[int, tuple[int, int]]:
        rows = self.events.query(
            "SELECT project_id, sum(n), sum(b) FROM ("
            " SELECT project_id, count() AS n, sum(length(data)) AS b"
            " FROM error_events GROUP BY project_id"
            " UNION ALL"
            " SELECT project_id, count() AS n, sum(length(data)) AS b"
            " FROM analytics_events GROUP BY project_id"
            ") GROUP BY project_id"
        )
        return {int(row[0]): (int(row[1]), int(row[2] or 0)) for row in rows}

    def _llm_rows(self) -> dict[int, int]:
        rows = self.events.query("SELECT project_id, count() FROM llm_events GROUP BY project_id")
        return {int(row[0]): int(row[1]) for row in rows}
