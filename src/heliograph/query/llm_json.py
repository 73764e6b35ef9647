"""LLM analytics records as the JSON the API answers (and JSONL exports write).

One function per record, so that a generation looks the same in a list, in
an export, inside a trace and in the Sentry-shaped event endpoint. Keys are
camelCase like the rest of the API; times are ISO 8601 UTC with
milliseconds; durations are seconds; money is a float in USD at full
precision, and ``null`` (never 0) when no call of the group had a known
price (``unpriced`` counts those without one), as the pages show "unknown".
"""

from __future__ import annotations

from typing import Any

from heliograph.query.dates import iso
from heliograph.query.llm import LlmDashboard, SeriesPoint, Stats
from heliograph.query.llm_detail import GenerationPage, TracePage
from heliograph.query.llm_tree import TreeNode
from heliograph.store.llm_records import (
    FlagUsageRow,
    LlmEventRecord,
    SessionRecord,
    TraceError,
    TraceRecord,
)
from heliograph.store.score_records import Score
from heliograph.store.web_records import PersonLlmUsage

__all__ = [
    "dashboard_json",
    "generation_detail_json",
    "generation_json",
    "score_json",
    "session_json",
    "stats_json",
    "trace_detail_json",
    "trace_json",
    "user_usage_json",
]


def _known_cost(cost: float, priced: int) -> float | None:
    """The summed cost, or None when nothing in the sum had a price."""
    return cost if priced > 0 else None


def generation_json(record: LlmEventRecord) -> dict[str, Any]:
    """A generation (or embedding, span, trace event): what the store read from its
    properties, as lists, exports and the event endpoint show it."""
    return {
        "id": record.event_id,
        "name": record.name,
        "timestamp": iso(record.timestamp),
        "startedAt": iso(record.started_at),
        "traceId": record.trace_id,
        "spanId": record.span_id,
        "parentId": record.parent_id,
        "sessionId": record.session_id,
        "distinctId": record.distinct_id,
        "spanName": record.span_name,
        "model": record.model,
        "provider": record.provider,
        "inputTokens": record.input_tokens,
        "outputTokens": record.output_tokens,
        "cacheReadTokens": record.cache_read_tokens,
        "cacheCreationTokens": record.cache_creation_tokens,
        "reasoningTokens": record.reasoning_tokens,
        "totalCostUsd": record.total_cost_usd,
        "costSource": record.cost_source,
        "latency": record.latency_s,
        "timeToFirstToken": record.ttft_s,
        "isError": record.is_error,
        "error": record.error,
        "httpStatus": record.http_status,
        "environment": record.environment,
        "release": record.release,
    }


def generation_detail_json(page: GenerationPage) -> dict[str, Any]:
    """One generation with every property as stored: payloads included, unless the
    project keeps none (then ``payloadsDropped`` is true and they are absent)."""
    return {
        **generation_json(page.record),
        "inputCostUsd": page.input_cost_usd,
        "outputCostUsd": page.output_cost_usd,
        "costModel": page.cost_model,
        "payloadsDropped": page.payloads_dropped,
        "properties": page.event.properties if page.event is not None else {},
        "trace": trace_json(page.trace) if page.trace is not None else None,
    }


def trace_json(trace: TraceRecord) -> dict[str, Any]:
    """A trace's rollup: its calls' tokens and cost, and its extent in time."""
    return {
        "traceId": trace.trace_id,
        "name": trace.name,
        "startedAt": iso(trace.started_at),
        "endedAt": iso(trace.ended_at),
        "latency": trace.latency_s,
        "hasTraceEvent": trace.has_trace_event,
        "events": trace.events,
        "generations": trace.generations,
        "errors": trace.errors,
        "inputTokens": trace.input_tokens,
        "outputTokens": trace.output_tokens,
        "costUsd": _known_cost(trace.cost_usd, trace.generations - trace.unpriced),
        "unpriced": trace.unpriced,
        "sessionId": trace.session_id,
        "distinctId": trace.distinct_id,
        "environment": trace.environment,
        "release": trace.release,
    }


def _node_json(node: TreeNode, parent: TreeNode | None) -> dict[str, Any]:
    record = node.record
    return {
        "key": node.key,
        # The event behind the node; null for the made-up root of a trace without one.
        "eventId": record.event_id if record is not None else None,
        "parent": parent.key if parent is not None else None,
        "children": [child.key for child in node.children],
        "depth": node.depth,
        "kind": node.kind,
        "label": node.label,
        "orphan": node.orphan,
        "startedAt": iso(node.start),
        "offset": node.offset,
        "duration": node.duration,
        "isError": node.is_error,
        "error": record.error if record is not None else None,
        "model": record.model if record is not None else None,
        "provider": record.provider if record is not None else None,
        # Totals of the node and everything under it.
        "generations": node.generations,
        "errors": node.errors,
        "inputTokens": node.input_tokens,
        "outputTokens": node.output_tokens,
        "costUsd": _known_cost(node.cost_usd, node.generations - node.unpriced),
        "unpriced": node.unpriced,
    }


def _error_json(error: TraceError) -> dict[str, Any]:
    return {
        "eventId": error.event_id,
        "issueId": str(error.issue_id) if error.issue_id is not None else None,
        "timestamp": iso(error.timestamp),
        "title": error.title,
        "level": error.level,
    }


def trace_detail_json(page: TracePage) -> dict[str, Any]:
    """A trace with its tree as a flat list in display order (the root first).

    Flat, with ``parent`` and ``children`` keys, rather than nested: an agent
    loop may chain hundreds of spans, deeper than a JSON writer nests.
    """
    parents: dict[str, TreeNode] = {}
    for node in page.tree.rows:
        for child in node.children:
            parents[child.key] = node
    return {
        **trace_json(page.trace),
        "nodes": [_node_json(node, parents.get(node.key)) for node in page.tree.rows],
        "orphans": page.tree.orphans,
        "truncated": page.truncated,
        "linkedErrors": [_error_json(error) for error in page.errors],
        # Scores naming the trace or one of its calls (store/score_store.py).
        "scores": [score_json(score) for score in page.scores.scores],
    }


def session_json(session: SessionRecord) -> dict[str, Any]:
    return {
        "sessionId": session.session_id,
        "startedAt": iso(session.started_at),
        "endedAt": iso(session.ended_at),
        "distinctId": session.distinct_id,
        "traces": session.traces,
        "generations": session.generations,
        "errors": session.errors,
        "inputTokens": session.input_tokens,
        "outputTokens": session.output_tokens,
        "costUsd": _known_cost(session.cost_usd, session.generations - session.unpriced),
        "unpriced": session.unpriced,
    }


def stats_json(stats: Stats) -> dict[str, Any]:
    """A group of calls' usage, as the dashboard's tiles and charts show it."""
    return {
        "requests": stats.requests,
        "errors": stats.errors,
        "errorRate": stats.error_rate,
        "inputTokens": stats.input_tokens,
        "outputTokens": stats.output_tokens,
        "cacheReadTokens": stats.cache_read_tokens,
        "reasoningTokens": stats.reasoning_tokens,
        "costUsd": stats.cost_usd,
        "unpriced": stats.unpriced,
        "latencyP50": stats.p50,
        "latencyP95": stats.p95,
        "latencyAvg": stats.avg_latency,
        "timeToFirstTokenAvg": stats.avg_ttft,
    }


def _point_json(point: SeriesPoint) -> dict[str, Any]:
    return {"start": iso(point.start), **stats_json(point.stats)}


def _flag_row_json(row: FlagUsageRow) -> dict[str, Any]:
    return {
        "value": row.value,
        "requests": row.requests,
        "errors": row.errors,
        "errorRate": row.error_rate,
        "inputTokens": row.input_tokens,
        "outputTokens": row.output_tokens,
        "costUsd": _known_cost(row.cost_usd, row.priced),
        "unpriced": row.requests - row.priced,
        "latencyAvg": row.mean_latency,
    }


def dashboard_json(view: LlmDashboard) -> dict[str, Any]:
    """The dashboard's figures: totals, one point per hour or day, by model, top traces,
    and the feature flag comparison."""
    window = view.window
    return {
        "range": window.range_key,
        "bucket": window.unit,
        "since": iso(window.since),
        "until": iso(window.until),
        "totals": stats_json(view.totals),
        "series": [_point_json(point) for point in view.series],
        "models": [
            {
                "model": row.model or None,
                "provider": row.provider or None,
                "costShare": row.cost_share,
                **stats_json(row.stats),
            }
            for row in view.models
        ],
        "topTraces": [trace_json(trace) for trace in view.top_traces],
        "flags": view.flags,
        "flag": view.flag,
        "flagValues": [_flag_row_json(row) for row in view.flag_rows],
    }


def user_usage_json(distinct_id: str, since: float, usage: PersonLlmUsage) -> dict[str, Any]:
    """A distinct id's generations and embeddings since a time.

    Per model the cost sums known prices only: the store does not say which
    model's calls were the unpriced ones.
    """
    return {
        "distinctId": distinct_id,
        "since": iso(since),
        "requests": usage.requests,
        "errors": usage.errors,
        "inputTokens": usage.input_tokens,
        "outputTokens": usage.output_tokens,
        "costUsd": _known_cost(usage.cost_usd, usage.requests - usage.unpriced),
        "unpriced": usage.unpriced,
        "models": [
            {"model": model or None, "requests": requests, "knownCostUsd": cost}
            for model, requests, cost in usage.by_model
        ],
    }


def score_json(score: Score) -> dict[str, Any]:
    """A score as the API shows it (field names as Langfuse's, camelCase)."""
    context = score.context
    return {
        "id": score.id,
        "name": score.name,
        "dataType": score.data_type.upper(),
        "value": score.value,
        "stringValue": score.string_value,
        "comment": score.comment,
        "source": score.source,
        "traceId": score.trace_id,
        "observationId": score.observation_id,
        "sessionId": score.session_id,
        "authorUserId": score.author_id,
        "distinctId": score.distinct_id,
        "environment": score.environment,
        "timestamp": iso(score.timestamp),
        "model": context.model,
        "provider": context.provider,
        "promptName": context.prompt_name,
        "promptVersion": context.prompt_version,
        "flags": dict(context.flags),
    }
