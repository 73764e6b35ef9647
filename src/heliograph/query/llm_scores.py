"""Scores for the LLM pages: those of a trace or a call, and a range's summary.

Scores are rows of the store (:mod:`heliograph.store.score_store`): the
SDK's ``score()``, ``$ai_metric`` and ``$ai_feedback`` events (turned into
scores at digest), the API and annotations. The trace and generation pages
list theirs; the dashboard summarises the range's per score name (count,
mean, labels), optionally grouped by model, prompt version, a flag's
variant or source, with each name's mean per slot for a chart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from heliograph.store.base import Project, TimeUnit
from heliograph.store.score_records import (
    GROUP_BYS,
    Score,
    ScoreBucket,
    ScoreFilter,
    ScoreGroupBy,
    ScoreQuery,
    ScoreSummary,
)

if TYPE_CHECKING:
    from heliograph.store.contract import Scores

__all__ = [
    "GROUP_CHOICES",
    "ScoreSeries",
    "ScoresView",
    "TraceScores",
    "build_scores_view",
    "call_scores",
    "trace_scores",
]

# The most scores a trace or call page lists.
TRACE_SCORES = 200
# The most score names charted over time (the most frequent).
CHARTED_NAMES = 4
GROUP_CHOICES: dict[str, str] = {
    "": "No grouping",
    "model": "Model",
    "prompt": "Prompt version",
    "flag": "Feature flag variant",
    "source": "Source",
}


@dataclass(frozen=True, slots=True)
class TraceScores:
    """Scores of a trace (or of one of its calls), newest first."""

    scores: list[Score] = field(default_factory=list)

    def for_span(self, span_id: str | None) -> TraceScores:
        """Those naming one call of the trace."""
        if not span_id:
            return TraceScores()
        return TraceScores([s for s in self.scores if s.observation_id == span_id])

    def __bool__(self) -> bool:
        return bool(self.scores)

    def __len__(self) -> int:
        return len(self.scores)


def trace_scores(store: Scores, project: Project, trace_id: str) -> TraceScores:
    """The scores naming a trace or any of its calls."""
    found, _ = store.list_scores(ScoreFilter(project.id, trace_id=trace_id), limit=TRACE_SCORES)
    return TraceScores(found)


def call_scores(store: Scores, project: Project, span_id: str | None) -> TraceScores:
    """The scores naming one call (by its span id)."""
    if not span_id:
        return TraceScores()
    found, _ = store.list_scores(
        ScoreFilter(project.id, observation_id=span_id), limit=TRACE_SCORES
    )
    return TraceScores(found)


@dataclass(frozen=True, slots=True)
class ScoreSeries:
    """One score name's mean (and count) per slot of the range; None: no score there."""

    name: str
    means: list[float | None]
    counts: list[int]


@dataclass(frozen=True, slots=True)
class ScoresView:
    """A range's scores: summaries (grouped as asked) and the top names over time."""

    summaries: list[ScoreSummary]
    series: list[ScoreSeries]
    group_by: str  # "" or one of GROUP_BYS
    flag: str | None

    def __bool__(self) -> bool:
        return bool(self.summaries)

    def names(self) -> list[str]:
        """Score names in the order the summaries came (most scores first)."""
        return list(dict.fromkeys(s.name for s in self.summaries))


def _series(
    buckets: Sequence[ScoreBucket], slots: Sequence[int], names: Sequence[str]
) -> list[ScoreSeries]:
    by_name: dict[str, dict[int, ScoreBucket]] = {}
    for bucket in buckets:
        by_name.setdefault(bucket.name, {})[bucket.bucket] = bucket
    found = []
    for name in names:
        slotted = by_name.get(name, {})
        found.append(
            ScoreSeries(
                name,
                [slotted[s].mean if s in slotted else None for s in slots],
                [slotted[s].count if s in slotted else 0 for s in slots],
            )
        )
    return found


def build_scores_view(
    store: Scores,
    project: Project,
    since: float,
    until: float,
    *,
    unit: TimeUnit,
    slots: Sequence[int],
    params: Mapping[str, str],
) -> ScoresView:
    """The range's summaries, grouped by ``params["score_by"]`` (``flag``: the flag
    ``params["score_flag"]``), and the most frequent names' means per slot."""
    chosen = params.get("score_by", "")
    group_by: ScoreGroupBy | None = next((g for g in GROUP_BYS if g == chosen), None)
    flag = (params.get("score_flag") or "").strip()[:200] or None
    if group_by == "flag" and flag is None:
        group_by = None
    name = (params.get("score_name") or "").strip()[:200] or None
    query = ScoreQuery(project.id, since, until, name=name, group_by=group_by, flag=flag)
    summaries = store.score_summary(query)
    names = list(dict.fromkeys(s.name for s in summaries))[:CHARTED_NAMES]
    buckets = store.score_series(ScoreQuery(project.id, since, until, name=name), unit)
    return ScoresView(summaries, _series(buckets, slots, names), group_by or "", flag)
