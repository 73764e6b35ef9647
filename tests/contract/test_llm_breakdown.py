"""Who and what LLM spend went to: calls grouped by a column or by any property."""

from __future__ import annotations

import pytest

from heliograph.store.base import DigestBatch, Project
from heliograph.store.contract import Store
from heliograph.store.llm_breakdown import LlmBreakdownQuery
from heliograph.store.web_records import PropertyFilter
from tests.contract.builders import ai_event
from tests.contract.test_llm import T0


@pytest.fixture
def spend(store: Store, project: Project, other_project: Project) -> Project:
    """Three customers' calls: two gold (one failing, one unpriced model), one free."""
    calls = [
        ("ann", "gold", "gpt-4o-mini", 0.30, False, "production"),
        ("ann", "gold", "gpt-4o-mini", 0.20, True, "production"),
        ("bob", "gold", "acme-7b", None, False, "staging"),
        ("cid", "free", "gpt-4o-mini", 0.01, False, "production"),
    ]
    events = []
    for n, (user, tier, model, cost, failed, environment) in enumerate(calls):
        event = ai_event(
            project.id,
            trace=f"t{n}",
            at=T0 + n,
            model=model,
            cost=cost,
            latency=1.0 + n,
            is_error=failed,
            distinct_id=user,
            environment=environment,
        )
        event.properties["customer_tier"] = tier
        events.append(event)
    events.append(ai_event(other_project.id, trace="x", at=T0, distinct_id="ann", cost=9.0))
    events.append(ai_event(project.id, "$ai_span", trace="t0", at=T0, distinct_id="ann"))
    assert store.record(DigestBatch(analytics=events)).rejected == ()
    return project


def _query(project: Project, **fields: object) -> LlmBreakdownQuery:
    return LlmBreakdownQuery(project.id, T0 - 60, T0 + 60, **fields)  # type: ignore[arg-type]


def test_spend_per_user_costliest_first(store: Store, spend: Project) -> None:
    found = store.llm_breakdown(_query(spend, dimension="user"))
    assert found.complete
    rows = [(r.value, r.calls, r.errors, round(r.cost_usd, 6), r.unpriced) for r in found.rows]
    assert rows == [("ann", 2, 1, 0.5, 0), ("cid", 1, 0, 0.01, 0), ("bob", 1, 0, 0.0, 1)]
    ann = found.rows[0]
    assert (ann.input_tokens, ann.output_tokens) == (2000, 200)
    assert ann.mean_latency == pytest.approx(1.5)
    assert (found.totals.calls, round(found.totals.cost_usd, 6)) == (4, 0.51)


def test_spend_by_any_property_with_filters(store: Store, spend: Project) -> None:
    tiers = store.llm_breakdown(_query(spend, prop="customer_tier"))
    assert [(r.value, r.calls, round(r.cost_usd, 6)) for r in tiers.rows] == [
        ("gold", 3, 0.5),
        ("free", 1, 0.01),
    ]
    production = store.llm_breakdown(_query(spend, prop="customer_tier", environment="production"))
    assert [(r.value, r.calls) for r in production.rows] == [("gold", 2), ("free", 1)]
    gold = (PropertyFilter("customer_tier", "eq", "gold"),)
    models = store.llm_breakdown(_query(spend, dimension="model", properties=gold))
    assert [(r.value, r.calls) for r in models.rows] == [("gpt-4o-mini", 2), ("acme-7b", 1)]
    missing = store.llm_breakdown(_query(spend, prop="nobody_sets_this"))
    assert [(r.value, r.calls) for r in missing.rows] == [(None, 4)]


def test_a_query_names_one_grouping() -> None:
    with pytest.raises(ValueError):
        LlmBreakdownQuery(1, 0.0, 1.0)
    with pytest.raises(ValueError):
        LlmBreakdownQuery(1, 0.0, 1.0, dimension="user", prop="tier")
    with pytest.raises(ValueError):
        LlmBreakdownQuery(1, 0.0, 1.0, dimension="password")


def test_generations_filtered_by_a_property_page_through_every_match(
    store: Store, spend: Project
) -> None:
    from heliograph.store.llm_records import LlmEventFilter

    def walk(*conditions: PropertyFilter, sort: str = "newest") -> list[tuple[str | None, int]]:
        found: list[tuple[str | None, int]] = []
        cursor: str | None = None
        for _ in range(20):
            query = LlmEventFilter(spend.id, properties=conditions, sort=sort)  # type: ignore[arg-type]
            page, cursor = store.llm_events(query, limit=1, cursor=cursor)
            found += [(row.distinct_id, int(row.timestamp - T0)) for row in page]
            if cursor is None:
                return found
        raise AssertionError("the cursor never ended")

    gold = PropertyFilter("customer_tier", "eq", "gold")
    assert walk(gold) == [("bob", 2), ("ann", 1), ("ann", 0)]
    assert walk(gold, sort="cost") == [("ann", 0), ("ann", 1), ("bob", 2)]
    assert walk(PropertyFilter("customer_tier", "neq", "gold")) == [("cid", 3)]
    assert walk(PropertyFilter("nobody_sets_this", "is_set")) == []


def test_traces_with_a_call_of_a_model_or_a_property(store: Store, spend: Project) -> None:
    from heliograph.store.llm_records import TraceFilter

    def traces(**fields: object) -> list[str]:
        found, _ = store.llm_traces(TraceFilter(spend.id, **fields), limit=50)  # type: ignore[arg-type]
        return sorted(t.trace_id for t in found)

    assert traces(model="acme-7b") == ["t2"]
    assert traces(properties=(PropertyFilter("customer_tier", "eq", "free"),)) == ["t3"]
    assert traces(
        model="gpt-4o-mini", properties=(PropertyFilter("customer_tier", "eq", "gold"),)
    ) == [
        "t0",
        "t1",
    ]
    assert traces(model="no-such-model") == []
