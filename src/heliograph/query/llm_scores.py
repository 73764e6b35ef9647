"""Feedback and metrics on LLM traces: ``$ai_feedback`` and ``$ai_metric`` events.

What a user said about an answer (``$ai_feedback_text``) and what an app or
an evaluator measured (``$ai_metric_name`` = ``$ai_metric_value``: a thumbs
up as 1, a relevance score, a latency budget kept) arrive as their own
events, naming the trace (``$ai_trace_id``) and, optionally, the call
(``$ai_span_id`` or ``$ai_parent_id``: its span id). They are shown on
their trace and call, and summed per metric name on the dashboard.

They are ordinary analytics events, found through the events explorer's
reads (:meth:`~heliograph.store.contract.WebAnalytics.find_events`): by
name, newest first, at most :data:`SUMMARY_EVENTS` for a summary, which
says when it stopped there.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from heliograph.llm_vocabulary import AI_PARENT_ID, AI_SPAN_ID, AI_TRACE_ID
from heliograph.model import Event
from heliograph.store.base import Project
from heliograph.store.web_records import EventQuery, PropertyFilter

if TYPE_CHECKING:
    from heliograph.store.contract import Store

__all__ = [
    "AI_FEEDBACK",
    "AI_METRIC",
    "Feedback",
    "Metric",
    "MetricSummary",
    "ScoreSummary",
    "TraceScores",
    "score_summary",
    "trace_scores",
]

AI_METRIC = "$ai_metric"
AI_FEEDBACK = "$ai_feedback"
AI_METRIC_NAME = "$ai_metric_name"
AI_METRIC_VALUE = "$ai_metric_value"
AI_FEEDBACK_TEXT = "$ai_feedback_text"
# Feedback and metrics come after their trace, often much later (a user's rating).
_LATE = 30 * 86400.0
TRACE_SCORES = 200
SUMMARY_EVENTS = 5_000
RECENT_FEEDBACK = 5


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    value: float | None  # None: not a number (kept as text)
    text: str
    timestamp: float
    span_id: str | None
    distinct_id: str | None


@dataclass(frozen=True, slots=True)
class Feedback:
    text: str
    timestamp: float
    span_id: str | None
    distinct_id: str | None


@dataclass(frozen=True, slots=True)
class TraceScores:
    metrics: list[Metric] = field(default_factory=list)
    feedback: list[Feedback] = field(default_factory=list)

    def for_span(self, span_id: str | None) -> TraceScores:
        """Those naming one call of the trace."""
        if not span_id:
            return TraceScores()
        return TraceScores(
            [m for m in self.metrics if m.span_id == span_id],
            [f for f in self.feedback if f.span_id == span_id],
        )

    def __bool__(self) -> bool:
        return bool(self.metrics or self.feedback)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _span(event: Event) -> str | None:
    found = event.properties.get(AI_SPAN_ID) or event.properties.get(AI_PARENT_ID)
    return str(found) if found else None


def metric_of(event: Event) -> Metric:
    raw = event.properties.get(AI_METRIC_VALUE)
    return Metric(
        name=_text(event.properties.get(AI_METRIC_NAME)) or "metric",
        value=_number(raw),
        text=_text(raw)[:200],
        timestamp=event.timestamp,
        span_id=_span(event),
        distinct_id=event.distinct_id,
    )


def feedback_of(event: Event) -> Feedback:
    return Feedback(
        text=_text(event.properties.get(AI_FEEDBACK_TEXT))[:2000],
        timestamp=event.timestamp,
        span_id=_span(event),
        distinct_id=event.distinct_id,
    )


def trace_scores(store: Store, project: Project, trace_id: str, started_at: float) -> TraceScores:
    """The feedback and metrics naming one trace, oldest first."""
    found: dict[str, list[Event]] = {}
    for name in (AI_METRIC, AI_FEEDBACK):
        query = EventQuery(
            project.id,
            started_at - 3600.0,
            max(started_at + _LATE, time.time() + 1.0),
            name=name,
            filters=(PropertyFilter(AI_TRACE_ID, "eq", trace_id),),
        )
        events, _ = store.find_events(query, limit=TRACE_SCORES)
        found[name] = sorted((s.event for s in events), key=lambda e: e.timestamp)
    return TraceScores(
        [metric_of(e) for e in found[AI_METRIC]], [feedback_of(e) for e in found[AI_FEEDBACK]]
    )


@dataclass(slots=True)
class MetricSummary:
    name: str
    count: int = 0
    numbers: int = 0
    total: float = 0.0
    low: float | None = None
    high: float | None = None

    @property
    def mean(self) -> float | None:
        return self.total / self.numbers if self.numbers else None

    def add(self, value: float | None) -> None:
        self.count += 1
        if value is None:
            return
        self.numbers += 1
        self.total += value
        self.low = value if self.low is None else min(self.low, value)
        self.high = value if self.high is None else max(self.high, value)


@dataclass(frozen=True, slots=True)
class ScoreSummary:
    metrics: list[MetricSummary]
    feedback_count: int
    recent_feedback: list[tuple[Feedback, str | None]]  # with the trace it names
    complete: bool

    def __bool__(self) -> bool:
        return bool(self.metrics or self.feedback_count)


def score_summary(store: Store, project: Project, since: float, until: float) -> ScoreSummary:
    """Metrics per name (count, mean, range) and feedback of ``[since, until)``."""
    metric_events, more_metrics = store.find_events(
        EventQuery(project.id, since, until, name=AI_METRIC), limit=SUMMARY_EVENTS
    )
    by_name: dict[str, MetricSummary] = {}
    for stored in metric_events:
        metric = metric_of(stored.event)
        by_name.setdefault(metric.name, MetricSummary(metric.name)).add(metric.value)
    feedback_events, more_feedback = store.find_events(
        EventQuery(project.id, since, until, name=AI_FEEDBACK), limit=SUMMARY_EVENTS
    )
    recent = [
        (feedback_of(s.event), _text(s.event.properties.get(AI_TRACE_ID)) or None)
        for s in feedback_events[:RECENT_FEEDBACK]
    ]
    return ScoreSummary(
        sorted(by_name.values(), key=lambda m: (-m.count, m.name)),
        len(feedback_events),
        recent,
        complete=more_metrics is None and more_feedback is None,
    )
