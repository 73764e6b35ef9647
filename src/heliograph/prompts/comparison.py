"""A prompt's versions side by side: calls, cost, latency and error rate of each.

The LLM calls an SDK linked to the prompt carry ``$ai_prompt_name`` and
``$ai_prompt_version`` (:mod:`heliograph.llm_vocabulary`). The figures are
the store's :meth:`~heliograph.store.contract.LlmReads.llm_breakdown` by the
version property, narrowed to the prompt's name: one aggregation for every
backend (ClickHouse groups natively; SQLite and PostgreSQL read the range's
calls, up to their scan limit, and say when they stopped short).

Calls linked to the prompt's name without a version used the application's
fallback (the fetch failed and nothing was cached): they are counted apart,
so that a fallback rate shows. Each version's scores (from the SDK, the
API, feedback events, annotation and evaluators) are the means of its
numeric and boolean scores in the window: a score carries the prompt name and
version of the call it judged (:mod:`heliograph.store.score_store`), so the
store's score summary grouped by prompt gives them on every backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from heliograph.llm_vocabulary import AI_PROMPT_NAME, AI_PROMPT_VERSION
from heliograph.store.contract import LlmReads, Scores
from heliograph.store.llm_breakdown import LlmBreakdownQuery, LlmBreakdownRow, merge_into
from heliograph.store.score_records import ScoreQuery
from heliograph.store.web_records import PropertyFilter

__all__ = ["PromptComparison", "VersionFigures", "compare_versions"]

# More versions than a page compares are summed into none of the rows shown.
MAX_VERSIONS = 200


class PromptReads(LlmReads, Scores, Protocol):
    """What a comparison reads: the calls' breakdown and the scores' summary."""


@dataclass(frozen=True, slots=True)
class VersionFigures:
    """One version's calls in the window (``version`` None: calls that used the fallback),
    and the mean of each numeric or boolean score name its calls got."""

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
    store: PromptReads, project_id: int, name: str, since: float, until: float
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
    scores = _version_scores(store, project_id, name, since, until)
    return PromptComparison(
        [VersionFigures(number, row, scores.get(number, {})) for number, row in ordered],
        found.complete,
        found.scanned,
    )


def _version_scores(
    store: Scores, project_id: int, name: str, since: float, until: float
) -> dict[int | None, dict[str, float]]:
    """Version -> score name -> mean, for the scores of this prompt's calls.

    A categorical score has no mean; its labels are on the scores page.
    """
    means: dict[int | None, dict[str, float]] = {}
    summary = store.score_summary(ScoreQuery(project_id, since, until, group_by="prompt"))
    for row in summary:
        if row.group.key != name or row.mean is None:
            continue
        version = _version_number(row.group.version) if row.group.version else None
        means.setdefault(version, {})[row.name] = row.mean
    return means
