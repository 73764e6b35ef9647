"""What the store keeps about evaluators' work: usage per day, and on-demand runs.

:class:`EvaluatorUsage` is one evaluator's day (UTC): generations scored,
passed, failed, skipped, errors, and the judge's spend, which the daily budget
is checked against before every judge call. It is added to (never
overwritten), so two job threads after a restart cannot lose each other's
spend. :class:`EvaluatorRun` is a "run now over a filter" request: queued by
the API or the page, executed by the job, with its own tally.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["RUN_STATES", "EvaluatorRun", "EvaluatorUsage", "day_of"]

RUN_STATES = ("queued", "running", "done", "failed")
MAX_RUN_LIMIT = 1000


def day_of(timestamp: float) -> int:
    """Days since the epoch (UTC): the budget's day."""
    return int(timestamp // 86400)


@dataclass(frozen=True, slots=True)
class EvaluatorUsage:
    """Counts and spend of one evaluator (one day, or one run)."""

    scored: int = 0
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    errors: int = 0
    cost_usd: float = 0.0

    def __add__(self, other: EvaluatorUsage) -> EvaluatorUsage:
        return EvaluatorUsage(
            self.scored + other.scored,
            self.passed + other.passed,
            self.failed + other.failed,
            self.skipped + other.skipped,
            self.errors + other.errors,
            self.cost_usd + other.cost_usd,
        )

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, slots=True)
class EvaluatorRun:
    """An on-demand run: the evaluator over the generations a filter picks, ``limit`` at most.

    ``filters``: ``since``, ``until`` (Unix seconds), ``model``,
    ``prompt_name``; the evaluator's own filter applies too.
    """

    id: int
    project_id: int
    evaluator_id: int
    filters: dict[str, Any]
    limit: int
    state: str
    requested_by: int | None
    created_at: float
    finished_at: float | None = None
    usage: EvaluatorUsage = field(default_factory=EvaluatorUsage)
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "evaluator_id": self.evaluator_id,
            "filters": self.filters,
            "limit": self.limit,
            "state": self.state,
            "requested_by": self.requested_by,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
            "usage": self.usage.to_json(),
            "message": self.message,
        }
