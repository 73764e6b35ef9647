"""A prompt's versions side by side: calls, cost, latency and error rate of each.

The LLM calls an SDK linked to the prompt carry ``$ai_prompt_name`` and
``$ai_prompt_version`` (:mod:`heliograph.llm_vocabulary`). The figures are
the store's :meth:`~heliograph.store.contract.LlmReads.llm_breakdown` by the
version property, narrowed to the prompt's name: one aggregation for every
backend (ClickHouse groups natively; SQLite and PostgreSQL read the range's
calls, up to their scan limit, and say when they stopped short).

Calls linked to the prompt's name without a version used the application's
fallback (the fetch failed and nothing was cached): they are counted apart,
so that a fallback rate shows. Scores of the versions (``$ai_metric`` and
``$ai_feedback``, evaluators) belong in :attr:`VersionFigures.scores` once
evaluations link them to calls; until then it stays empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from heliograph.llm_vocabulary import AI_PROMPT_NAME, AI_PROMPT_VERSION
from heliograph.store.contract import LlmReads
from heliograph.store.llm_breakdown import LlmBreakdownQuery, LlmBreakdownRow, merge_into
from heliograph.store.web_records import PropertyFilter

__all__ = ["PromptComparison", "VersionFigures", "compare_versions"]

# More versions than a page compares are summed into none of the rows shown.
MAX_VERSIONS = 200


@dataclass(frozen=True, slots=True)
class VersionFigures:
    """One version's calls in the window (``version`` None: calls that used the fallback)."""

    version: int | None
    figures: LlmBreakdownRow
    scores: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PromptComparison:
    """Versions newest first, then the fallback's calls; ``complete`` False: the
    backend read only the newest ``scanned`` calls of the window."""

    versions: list[VersionFigures]
    complete: bool
    scanned: int

    def of(self, version: int | None) -> VersionFigures | None:
        return next((v for v in self.versions if v.version == version), None)


def _version_number(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value))
    except ValueError:
        return None


def compare_versions(
    store: LlmReads, project_id: int, name: str, since: float, until: float
) -> PromptComparison:
    """Each version's calls of ``[since, until)`` linked to prompt ``name``."""
    query = LlmBreakdownQuery(
        project_id,
        since,
        until,
        prop=AI_PROMPT_VERSION,
        properties=(PropertyFilter(AI_PROMPT_NAME, "eq", name),),
        limit=MAX_VERSIONS,
    )
    found = store.llm_breakdown(query)
    merged: dict[int | None, LlmBreakdownRow] = {}
    for row in found.rows:
        number = _version_number(row.value)
        if number in merged:  # "3" and "3.0" from different SDKs: one version
            merge_into(merged[number], row)
        else:
            merged[number] = row
    ordered = sorted(merged.items(), key=lambda item: (item[0] is None, -(item[0] or 0)))
    return PromptComparison(
        [VersionFigures(number, row) for number, row in ordered], found.complete, found.scanned
    )
