"""Where digest's transaction puts each event in PostgreSQL: the whole event, or its key.

With PostgreSQL alone, an event is one ``events`` row: its indexed fields and
its JSON document, and every read of events is SQL on that table. With the
events in ClickHouse (:mod:`heliograph.store.clickhouse`), PostgreSQL keeps
only an ``event_keys`` row per event: enough to deduplicate a replay inside
the same transaction that counts the event into its issue, and to number it.
Everything else about writing a batch is the same in both cases, so the
write code (``store.py``) takes one of these two and never asks which.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from heliograph.model import Event
from heliograph.store.issue_rows import EVENT_ROW_COLUMNS, event_row

__all__ = ["EVENT_KEYS", "WHOLE_EVENTS", "EventRows"]


@dataclass(frozen=True, slots=True)
class EventRows:
    """One table of events, keyed on (project_id, event_id), and how a row is made."""

    table: str
    columns: str
    # The ``unnest`` argument list that turns one array per column back into rows.
    arrays: str
    row: Callable[[Event, int | None, bytes], tuple[Any, ...]]
    # Whether the typed ``llm_events`` rows are PostgreSQL's to keep too.
    keeps_llm_rows: bool

    @property
    def width(self) -> int:
        return len(self.columns.split(","))

    def stored(self, with_id: bool = False) -> str:
        """Which of a list of (project_id, event_id) keys are stored (and their row ids)."""
        extra = ", e.id" if with_id else ""
        return (
            f"SELECT e.project_id, e.event_id{extra} FROM {self.table} e "
            "JOIN unnest(%s::bigint[], %s::text[]) AS k(project_id, event_id) "
            "ON e.project_id = k.project_id AND e.event_id = k.event_id"
        )

    def insert_many(self) -> str:
        """One insert of many rows, in the order given; returns the keys that were new."""
        return (
            f"INSERT INTO {self.table} ({self.columns}) SELECT {self.columns} "
            f"FROM unnest({self.arrays}) WITH ORDINALITY AS v({self.columns}, n) "
            "ORDER BY n ON CONFLICT (project_id, event_id) DO NOTHING "
            "RETURNING project_id, event_id"
        )

    def insert_one(self) -> str:
        """One row's insert; returns its id, or nothing when the key was stored."""
        values = ", ".join(["%s"] * self.width)
        return (
            f"INSERT INTO {self.table} ({self.columns}) VALUES ({values}) "
            "ON CONFLICT (project_id, event_id) DO NOTHING RETURNING id"
        )

    def exists_one(self) -> str:
        return f"SELECT 1 FROM {self.table} WHERE project_id = %s AND event_id = %s"


def _key_row(event: Event, issue_id: int | None, document: bytes) -> tuple[Any, ...]:
    return (event.project_id, event.event_id, issue_id, event.kind, event.timestamp)


WHOLE_EVENTS = EventRows(
    table="events",
    columns=EVENT_ROW_COLUMNS,
    arrays=(
        "%s::bigint[], %s::text[], %s::bigint[], %s::text[], %s::text[], %s::float8[], "
        "%s::float8[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %b::bytea[]"
    ),
    row=event_row,
    keeps_llm_rows=True,
)
EVENT_KEYS = EventRows(
    table="event_keys",
    columns="project_id, event_id, issue_id, kind, timestamp",
    arrays="%s::bigint[], %s::text[], %s::bigint[], %s::text[], %s::float8[]",
    row=_key_row,
    keeps_llm_rows=False,
)
