"""A trace's events as a tree on a timeline, with tokens and cost rolled up per subtree.

Pure functions over :class:`~heliograph.store.llm_records.LlmEventRecord`
(no store, no web), so the rules are unit-tested directly:

* The root is the trace itself: its ``$ai_trace`` event when one was sent,
  else its one root span (an OpenTelemetry trace's: a span with no parent),
  else a synthetic node (a *pseudo-trace*, PostHog's term, whose totals come
  from its children alone).
* Every other event hangs under the event whose ``$ai_span_id`` equals its
  ``$ai_parent_id``. No parent id, a parent id equal to the trace id (what
  PostHog clients send for top-level calls) or to the trace event's span id
  means "under the root". A parent id that matches nothing (its span was
  never sent, or not yet) also goes under the root, marked ``orphan`` so the
  page can say so. Parent links that form a cycle are cut the same way: bad
  input must still draw.
* Children are ordered by start time. Each node has its offset from the
  trace start and its duration, and the percentages the page uses to place
  its bar.
* Tokens and cost are counted on generations and embeddings only (a span's
  own numbers, if a client sent any, would count the same calls twice) and
  summed per subtree; unpriced calls are counted apart, never as $0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from heliograph.llm_vocabulary import (
    AI_EMBEDDING,
    AI_GENERATION,
    AI_PREFIX,
    AI_SPAN,
    AI_TRACE,
)
from heliograph.store.llm_records import LlmEventRecord

__all__ = ["NodeKind", "TraceTree", "TreeNode", "build_tree"]

NodeKind = Literal["trace", "generation", "embedding", "span", "other"]
_KINDS: dict[str, NodeKind] = {
    AI_TRACE: "trace",
    AI_GENERATION: "generation",
    AI_EMBEDDING: "embedding",
    AI_SPAN: "span",
}
MIN_BAR_PERCENT = 0.4  # an instant event still shows as a sliver


@dataclass(slots=True)
class TreeNode:
    """One row of the trace page (the root included)."""

    key: str
    record: LlmEventRecord | None  # None: the synthetic root of a pseudo-trace
    kind: NodeKind
    label: str
    start: float
    duration: float
    is_error: bool
    orphan: bool = False
    depth: int = 0
    children: list[TreeNode] = field(default_factory=list)
    # Totals of this node and everything under it.
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    unpriced: int = 0
    generations: int = 0
    errors: int = 0
    # Position on the timeline, relative to the trace.
    offset: float = 0.0
    bar_left: float = 0.0  # percent of the trace's duration
    bar_width: float = 0.0

    @property
    def end(self) -> float:
        return self.start + self.duration

    @property
    def priced(self) -> bool:
        """Whether any cost is known in this subtree."""
        return self.generations > self.unpriced


@dataclass(frozen=True, slots=True)
class TraceTree:
    root: TreeNode
    rows: list[TreeNode]  # the tree in display order (pre-order), root first
    start: float
    duration: float
    orphans: int


def build_tree(trace_id: str, events: Sequence[LlmEventRecord]) -> TraceTree:
    """The tree of one trace's events (see the module docstring for the rules)."""
    trace_events = [e for e in events if e.name == AI_TRACE]
    if not trace_events:
        # An OpenTelemetry trace has no $ai_trace event, but one root span (no
        # parent): that span is the trace, not a child of a made-up root.
        tops = [e for e in events if e.parent_id in (None, "", trace_id)]
        trace_events = tops if len(tops) == 1 and tops[0].name == AI_SPAN else []
    root_record = trace_events[0] if trace_events else None
    nodes = [_node(e) for e in events if e is not root_record and e.name != AI_TRACE]
    root = _root(trace_id, root_record, nodes)

    root_ids = {trace_id}
    if root_record is not None and root_record.span_id:
        root_ids.add(root_record.span_id)
    by_span: dict[str, TreeNode] = {}
    for node in nodes:
        span_id = node.record.span_id if node.record else None
        if span_id and span_id not in by_span and span_id not in root_ids:
            by_span[span_id] = node

    children: dict[str, list[TreeNode]] = {}
    for node in nodes:
        parent_id = node.record.parent_id if node.record else None
        parent = by_span.get(parent_id) if parent_id else None
        if parent is node:
            parent = None
        if parent is None and parent_id and parent_id not in root_ids:
            node.orphan = True
        children.setdefault(parent.key if parent else root.key, []).append(node)
    for siblings in children.values():
        siblings.sort(key=lambda n: (n.start, n.key))
    if not root.label:
        root.label = _root_label(children.get(root.key, [])) or "Trace"

    rows = _attach(root, nodes, children)
    _roll_up(rows)
    _place(rows, root)
    return TraceTree(
        root=root,
        rows=rows,
        start=root.start,
        duration=root.duration,
        orphans=sum(1 for n in rows if n.orphan),
    )


def _node(record: LlmEventRecord) -> TreeNode:
    kind = _KINDS.get(record.name, "other")
    if kind in ("generation", "embedding"):
        label = record.span_name or record.model or kind
    else:
        label = record.span_name or record.name.removeprefix(AI_PREFIX)
    return TreeNode(
        key=record.event_id,
        record=record,
        kind=kind,
        label=label,
        start=record.started_at,
        duration=max(record.latency_s or 0.0, 0.0),
        is_error=record.is_error,
    )


def _root(trace_id: str, record: LlmEventRecord | None, nodes: list[TreeNode]) -> TreeNode:
    starts = [n.start for n in nodes]
    ends = [n.end for n in nodes]
    if record is not None:
        starts.append(record.started_at)
        ends.append(record.started_at + max(record.latency_s or 0.0, 0.0))
    start = min(starts, default=0.0)
    end = max(ends, default=start)
    return TreeNode(
        key=record.event_id if record else f"trace:{trace_id}",
        record=record,
        kind="trace",
        label=(record.span_name or "") if record else "",
        start=start,
        duration=end - start,
        is_error=bool(record and record.is_error),
    )


def _root_label(tops: list[TreeNode]) -> str | None:
    """A trace with no name is named after its first top-level span, else its first call."""
    for node in sorted(tops, key=lambda n: (n.kind != "span", n.start)):
        return node.label
    return None


def _attach(
    root: TreeNode, nodes: list[TreeNode], children: dict[str, list[TreeNode]]
) -> list[TreeNode]:
    """Link children depth-first from the root; nodes caught in a cycle join the root."""
    rows: list[TreeNode] = []
    visited: set[int] = set()

    def walk(start: TreeNode, depth: int) -> None:
        stack = [(start, depth)]
        while stack:
            node, level = stack.pop()
            node.depth = level
            rows.append(node)
            visited.add(id(node))
            kids = [c for c in children.get(node.key, []) if id(c) not in visited]
            for kid in kids:
                visited.add(id(kid))
            node.children = kids
            stack.extend((kid, level + 1) for kid in reversed(kids))

    walk(root, 0)
    for node in nodes:
        if id(node) not in visited:  # part of a parent cycle: cut it here
            node.orphan = True
            root.children.append(node)
            visited.add(id(node))
            walk(node, 1)
    return rows


def _roll_up(rows: list[TreeNode]) -> None:
    """Own numbers first, then children into parents (reverse pre-order is post-order)."""
    for node in rows:
        record = node.record
        node.errors = int(node.is_error)
        if record is not None and node.kind in ("generation", "embedding"):
            node.generations = 1
            node.input_tokens = record.input_tokens or 0
            node.output_tokens = record.output_tokens or 0
            if record.total_cost_usd is None:
                node.unpriced = 1
            else:
                node.cost_usd = record.total_cost_usd
    for node in reversed(rows):
        for child in node.children:
            node.input_tokens += child.input_tokens
            node.output_tokens += child.output_tokens
            node.cost_usd += child.cost_usd
            node.unpriced += child.unpriced
            node.generations += child.generations
            node.errors += child.errors


def _place(rows: list[TreeNode], root: TreeNode) -> None:
    start = min((n.start for n in rows), default=root.start)
    end = max((n.end for n in rows), default=root.end)
    if start < root.start or end > root.end:  # children outside the trace's own span
        root.start, root.duration = start, end - start
    total = root.duration if root.duration > 0 else 1.0
    for node in rows:
        node.offset = node.start - root.start
        left = min(max(node.offset / total * 100.0, 0.0), 100.0)
        width = max(node.duration / total * 100.0, MIN_BAR_PERCENT)
        node.bar_left = round(min(left, 100.0 - MIN_BAR_PERCENT), 3)
        node.bar_width = round(min(width, 100.0 - node.bar_left), 3)
