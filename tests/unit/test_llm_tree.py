"""Trace trees: nesting, orphans, cycles, pseudo-traces, timeline placement, rollups."""

from __future__ import annotations

from typing import Any

import pytest

from heliograph.query.llm_tree import MIN_BAR_PERCENT, build_tree
from heliograph.store.llm_records import LlmEventRecord

TRACE = "t" * 32
_BASE = LlmEventRecord(
    id=0,
    project_id=1,
    event_id="",
    name="$ai_span",
    timestamp=0.0,
    started_at=0.0,
    trace_id=TRACE,
    span_id=None,
    parent_id=None,
    session_id=None,
    distinct_id=None,
    model=None,
    provider=None,
    input_tokens=None,
    output_tokens=None,
    cache_read_tokens=None,
    cache_creation_tokens=None,
    reasoning_tokens=None,
    total_cost_usd=None,
    cost_source=None,
    latency_s=None,
    ttft_s=None,
    is_error=False,
    error=None,
    http_status=None,
    span_name=None,
    environment=None,
    release=None,
)


def rec(event_id: str, name: str = "$ai_span", **fields: Any) -> LlmEventRecord:
    return _BASE._replace(event_id=event_id, name=name, **fields)


def gen(event_id: str, **fields: Any) -> LlmEventRecord:
    defaults: dict[str, Any] = {"model": "gpt-4o-mini", "input_tokens": 10, "output_tokens": 5}
    return rec(event_id, "$ai_generation", **{**defaults, **fields})


def agent_trace() -> list[LlmEventRecord]:
    """trace -> agent span -> (generation, tool span -> generation), and a top-level generation."""
    return [
        rec("root", "$ai_trace", span_name="support", started_at=100.0, latency_s=10.0),
        rec(
            "agent",
            span_id="a",
            parent_id=TRACE,
            span_name="agent",
            started_at=100.5,
            latency_s=6.0,
        ),
        gen(
            "g1", span_id="g1", parent_id="a", started_at=101.0, latency_s=1.0, total_cost_usd=0.01
        ),
        rec(
            "tool",
            span_id="t",
            parent_id="a",
            span_name="tool: search",
            started_at=102.5,
            latency_s=3.0,
        ),
        gen(
            "g2", parent_id="t", started_at=103.0, latency_s=2.0, total_cost_usd=0.02, is_error=True
        ),
        gen("g3", parent_id=TRACE, started_at=107.0, latency_s=2.5, model="acme-7b"),  # unpriced
    ]


def test_events_nest_by_parent_id_in_start_order() -> None:
    tree = build_tree(TRACE, list(reversed(agent_trace())))
    assert [(n.key, n.depth) for n in tree.rows] == [
        ("root", 0),
        ("agent", 1),
        ("g1", 2),
        ("tool", 2),
        ("g2", 3),
        ("g3", 1),
    ]
    assert tree.root.label == "support" and tree.root.kind == "trace"
    assert tree.orphans == 0


def test_tokens_cost_and_errors_roll_up_per_subtree() -> None:
    tree = build_tree(TRACE, agent_trace())
    nodes = {n.key: n for n in tree.rows}
    assert (nodes["tool"].input_tokens, nodes["tool"].output_tokens) == (10, 5)
    assert nodes["tool"].cost_usd == pytest.approx(0.02) and nodes["tool"].errors == 1
    assert nodes["agent"].generations == 2 and nodes["agent"].cost_usd == pytest.approx(0.03)
    root = tree.root
    assert root.generations == 3 and root.input_tokens == 30 and root.errors == 1
    assert root.cost_usd == pytest.approx(0.03) and root.unpriced == 1 and root.priced
    assert not nodes["g3"].priced and nodes["g3"].cost_usd == 0.0  # shown as unknown, not $0


def test_timeline_offsets_and_bars() -> None:
    tree = build_tree(TRACE, agent_trace())
    nodes = {n.key: n for n in tree.rows}
    assert tree.start == 100.0 and tree.duration == 10.0
    assert nodes["tool"].offset == pytest.approx(2.5)
    assert nodes["tool"].bar_left == pytest.approx(25.0) and nodes[
        "tool"
    ].bar_width == pytest.approx(30.0)
    assert nodes["root"].bar_left == 0 and nodes["root"].bar_width == 100
    for node in tree.rows:
        assert node.bar_left >= 0 and node.bar_left + node.bar_width <= 100.0 + 1e-9


def test_instant_events_still_get_a_visible_bar() -> None:
    tree = build_tree(TRACE, [gen("a", started_at=5.0, latency_s=10.0), gen("b", started_at=15.0)])
    last = tree.rows[-1]
    assert last.bar_width == MIN_BAR_PERCENT
    assert last.bar_left + last.bar_width <= 100.0


def test_pseudo_trace_is_named_after_its_top_level_span_and_spans_its_children() -> None:
    events = [
        gen("g", span_id="g", parent_id="s", started_at=11.0, latency_s=1.0),
        rec("s", span_id="s", span_name="summarize", started_at=10.0, latency_s=3.0),
        gen("solo", started_at=14.0, latency_s=2.0, span_name="follow-up"),
    ]
    tree = build_tree(TRACE, events)
    assert tree.root.record is None and tree.root.label == "summarize"
    assert tree.start == 10.0 and tree.duration == pytest.approx(6.0)
    assert [n.key for n in tree.root.children] == ["s", "solo"]
    assert tree.root.generations == 2


def test_unknown_parent_goes_under_the_root_marked_orphan() -> None:
    events = [gen("lost", parent_id="never-sent", started_at=1.0), gen("top", parent_id=TRACE)]
    tree = build_tree(TRACE, events)
    nodes = {n.key: n for n in tree.rows}
    assert nodes["lost"].depth == 1 and nodes["lost"].orphan
    assert not nodes["top"].orphan
    assert tree.orphans == 1


def test_parent_cycles_are_cut_and_every_event_shows_once() -> None:
    events = [
        rec("a", span_id="a", parent_id="b", started_at=1.0),
        rec("b", span_id="b", parent_id="a", started_at=2.0),
        rec("self", span_id="x", parent_id="x", started_at=3.0),
    ]
    tree = build_tree(TRACE, events)
    keys = [n.key for n in tree.rows]
    assert sorted(keys) == sorted(["trace:" + TRACE, "a", "b", "self"])
    nodes = {n.key: n for n in tree.rows}
    assert nodes["self"].depth == 1
    assert {nodes["a"].depth, nodes["b"].depth} == {1, 2}


def test_deep_chains_do_not_recurse() -> None:
    events = [rec("n0", span_id="s0", started_at=0.0)]
    events += [
        rec(f"n{i}", span_id=f"s{i}", parent_id=f"s{i - 1}", started_at=float(i))
        for i in range(1, 3000)
    ]
    tree = build_tree(TRACE, events)
    assert tree.root.key == "n0"  # the one root span is the trace
    assert tree.rows[-1].depth == 2999


def test_an_otel_traces_root_span_is_its_root_not_a_child_of_one() -> None:
    events = [
        rec("req", span_id="r", span_name="POST /chat", started_at=0.0, latency_s=3.0),
        gen("call", span_id="c", parent_id="r", started_at=1.0, latency_s=1.0),
    ]
    tree = build_tree(TRACE, events)
    assert (tree.root.key, tree.root.label) == ("req", "POST /chat")
    assert [(n.key, n.depth) for n in tree.rows] == [("req", 0), ("call", 1)]
    assert tree.root.generations == 1 and tree.orphans == 0


def test_trace_event_span_id_counts_as_the_root() -> None:
    events = [
        rec("root", "$ai_trace", span_id="root-span", started_at=0.0, latency_s=1.0),
        gen("g", parent_id="root-span", started_at=0.1, latency_s=0.5),
    ]
    tree = build_tree(TRACE, events)
    assert tree.rows[1].depth == 1 and not tree.rows[1].orphan
