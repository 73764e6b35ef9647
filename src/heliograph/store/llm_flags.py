"""LLM usage by feature-flag variant: which flag values generations carried, summed per hour.

PostHog's SDKs attach the flags a person has to the events they send, as
``$feature/<key>`` properties (posthog-python with ``send_feature_flags``,
posthog-js always, heliograph-sdk from its scope). For each new generation
or embedding, digest adds its requests, errors, tokens, cost and latency to
``llm_flag_hourly`` under every (flag, value) it carried, so the dashboard
can compare variants (cost, latency, error rate) without reading raw rows.
The sums, the table and its one upsert are the same on every backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from heliograph.llm_vocabulary import PRICED_EVENTS
from heliograph.model import Event
from heliograph.store.llm_records import LlmEventRecord
from heliograph.store.sql_dialect import SqlDialect

__all__ = ["FlagRollups", "event_flags", "flush_flag_rollups"]

_PREFIX = "$feature/"
# Flags counted per event: the rollup rows one event adds stay bounded.
MAX_FLAGS_PER_EVENT = 20
_MAX_TEXT = 200

FlagValues = Sequence[tuple[str, str]]


def event_flags(event: Event) -> list[tuple[str, str]]:
    """The (flag, value) pairs ``event`` carried; values as text (true, false, a variant)."""
    found = []
    for name, value in event.properties.items():
        if not name.startswith(_PREFIX) or len(name) == len(_PREFIX):
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, str) and value:
            text = value[:_MAX_TEXT]
        else:
            continue
        found.append((name[len(_PREFIX) :][:_MAX_TEXT], text))
    return sorted(found)[:MAX_FLAGS_PER_EVENT]


@dataclass(slots=True)
class FlagAcc:
    """One (hour, flag, value)'s additions from a batch, in ``llm_flag_hourly`` column order."""

    requests: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    priced: int = 0
    latency_sum: float = 0.0
    latency_count: int = 0

    def add(self, row: LlmEventRecord) -> None:
        self.requests += 1
        self.errors += row.is_error
        self.input_tokens += row.input_tokens or 0
        self.output_tokens += row.output_tokens or 0
        if row.total_cost_usd is not None:
            self.cost_usd += row.total_cost_usd
            self.priced += 1
        if row.latency_s is not None:
            self.latency_sum += row.latency_s
            self.latency_count += 1

    def values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)


@dataclass(slots=True)
class FlagRollups:
    """A batch's additions, by (project_id, hour, flag, value)."""

    hourly: dict[tuple[int, int, str, str], FlagAcc] = field(default_factory=dict)

    def add(self, row: LlmEventRecord, flags: FlagValues) -> None:
        """Count a new row under each of its flags (generations and embeddings only)."""
        if row.name not in PRICED_EVENTS:
            return
        hour = int(row.timestamp // 3600)
        for flag, value in flags:
            key = (row.project_id, hour, flag, value)
            acc = self.hourly.get(key)
            if acc is None:
                acc = self.hourly[key] = FlagAcc()
            acc.add(row)

    def add_all(self, rows: Sequence[LlmEventRecord], flags: Mapping[int, FlagValues]) -> None:
        for row in rows:
            found = flags.get(row.id)
            if found:
                self.add(row, found)


_UPSERT = """
INSERT INTO llm_flag_hourly (project_id, hour, flag, value, requests, errors, input_tokens,
    output_tokens, cost_usd, priced, latency_sum, latency_count)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (project_id, hour, flag, value) DO UPDATE SET
    requests = llm_flag_hourly.requests + excluded.requests,
    errors = llm_flag_hourly.errors + excluded.errors,
    input_tokens = llm_flag_hourly.input_tokens + excluded.input_tokens,
    output_tokens = llm_flag_hourly.output_tokens + excluded.output_tokens,
    cost_usd = llm_flag_hourly.cost_usd + excluded.cost_usd,
    priced = llm_flag_hourly.priced + excluded.priced,
    latency_sum = llm_flag_hourly.latency_sum + excluded.latency_sum,
    latency_count = llm_flag_hourly.latency_count + excluded.latency_count
"""


def flush_flag_rollups(conn: Any, dialect: SqlDialect, rollups: FlagRollups) -> None:
    """Add a batch's sums to ``llm_flag_hourly``, in key order (one lock order on every node)."""
    if not rollups.hourly:
        return
    rows = [(*key, *acc.values()) for key, acc in sorted(rollups.hourly.items())]
    cursor = conn.cursor()
    try:
        cursor.executemany(dialect.sql(_UPSERT), rows)
    finally:
        cursor.close()
