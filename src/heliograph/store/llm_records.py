"""What the LLM analytics read methods return: small frozen records, never bare tuples.

They mirror the ``llm_*`` tables (see migration 2 in ``schema.py``); the
query layer (:mod:`heliograph.query.llm`) turns them into page view models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from heliograph.llm_vocabulary import PRICED_EVENTS
from heliograph.store.web_records import PropertyFilter

__all__ = [
    "LlmEventFilter",
    "LlmEventRecord",
    "SessionRecord",
    "TraceError",
    "TraceFilter",
    "TraceRecord",
    "UsageRow",
]


GenerationSort = Literal["newest", "cost", "latency"]
GENERATION_SORTS: tuple[GenerationSort, ...] = ("newest", "cost", "latency")
# The column each order reads, unknown values sorting last.
SORT_EXPRESSIONS = {
    "cost": "COALESCE(total_cost_usd, -1.0)",
    "latency": "COALESCE(latency_s, -1.0)",
}


@dataclass(frozen=True, slots=True)
class FlagUsageRow:
    """Generations (and embeddings) that carried one value of a feature flag, summed.

    ``value`` is the flag's value as text: ``true``, ``false`` or a variant key.
    """

    value: str
    requests: int
    errors: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    priced: int
    latency_sum: float
    latency_count: int

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    @property
    def mean_latency(self) -> float | None:
        return self.latency_sum / self.latency_count if self.latency_count else None


@dataclass(frozen=True, slots=True)
class UsageRow:
    """Summed generations (and embeddings) of one time slot or one model/provider.

    ``slot`` is the bucket's index in hours or days since the epoch (None
    when grouped by model). ``cost_usd`` sums known costs only; ``priced``
    says how many requests had one, so ``requests - priced`` were unpriced.
    """

    slot: int | None
    model: str
    provider: str
    requests: int
    errors: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_creation_tokens: int
    reasoning_tokens: int
    cost_usd: float
    priced: int
    latency_sum: float
    latency_count: int
    ttft_sum: float
    ttft_count: int


class LlmEventRecord(NamedTuple):
    """One ``llm_events`` row (a generation, embedding, span or trace event).

    A named tuple in column order: digest binds it to the INSERT as is, and
    reads build it from the row as is.

    ``id`` is the event's row id in ``events``: one id for both rows, so that
    a replayed event is recognised by its primary key (no second index on
    random event ids to maintain) and rows are appended in arrival order.
    """

    id: int
    project_id: int
    event_id: str
    name: str
    timestamp: float
    started_at: float
    trace_id: str | None
    span_id: str | None
    parent_id: str | None
    session_id: str | None
    distinct_id: str | None
    model: str | None
    provider: str | None
    input_tokens: int | None
    output_tokens: int | None
    cache_read_tokens: int | None
    cache_creation_tokens: int | None
    reasoning_tokens: int | None
    total_cost_usd: float | None
    cost_source: str | None
    latency_s: float | None
    ttft_s: float | None
    is_error: bool
    error: str | None
    http_status: int | None
    span_name: str | None
    environment: str | None
    release: str | None


@dataclass(frozen=True, slots=True)
class TraceRecord:
    """One trace's rollup (``llm_traces``), real or pseudo (``has_trace_event`` false)."""

    id: int
    project_id: int
    trace_id: str
    started_at: float
    ended_at: float
    name: str | None
    has_trace_event: bool
    trace_latency_s: float | None
    events: int
    generations: int
    errors: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    unpriced: int
    session_id: str | None
    distinct_id: str | None
    environment: str | None
    release: str | None

    @property
    def latency_s(self) -> float:
        """The trace event's own latency when it sent one, else first start to last end."""
        if self.trace_latency_s is not None:
            return self.trace_latency_s
        return max(self.ended_at - self.started_at, 0.0)


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """Traces sharing a ``$ai_session_id``, summed."""

    session_id: str
    traces: int
    generations: int
    errors: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    unpriced: int
    started_at: float
    ended_at: float
    distinct_id: str | None


@dataclass(frozen=True, slots=True)
class TraceError:
    """An error event recorded with the same trace id, and its issue."""

    event_id: str
    issue_id: int | None
    timestamp: float
    title: str
    level: str


@dataclass(frozen=True, slots=True)
class LlmEventFilter:
    """Filters of the generations list; None means "any".

    ``session_id``, ``environment`` and ``release`` have no index of their own:
    the list walks its time index and skips other rows, as for ``provider``.
    """

    project_id: int
    since: float | None = None
    until: float | None = None
    model: str | None = None
    provider: str | None = None
    distinct_id: str | None = None
    trace_id: str | None = None
    session_id: str | None = None
    environment: str | None = None
    release: str | None = None
    errors_only: bool = False
    names: tuple[str, ...] = field(default=tuple(sorted(PRICED_EVENTS)))
    # Newest first, or the costliest / slowest first (unknown costs and
    # latencies last); the cursor continues in the same order.
    sort: GenerationSort = "newest"
    # Words every match's text holds: prompts, completions, names, properties
    # (store/llm_search.py); None or no words: no text condition.
    text: str | None = None
    # Conditions on the events' own properties (customer_tier = gold), as the
    # events explorer writes them; read from the documents (store/llm_reads.py).
    properties: tuple[PropertyFilter, ...] = ()


@dataclass(frozen=True, slots=True)
class TraceFilter:
    """Filters of the trace list; None means "any"."""

    project_id: int
    since: float | None = None
    until: float | None = None
    session_id: str | None = None
    distinct_id: str | None = None
    environment: str | None = None
    release: str | None = None
    errors_only: bool = False
    # Traces with a call of this model, or whose calls meet these property
    # conditions (read through the calls, store/llm_reads.py).
    model: str | None = None
    properties: tuple[PropertyFilter, ...] = ()
