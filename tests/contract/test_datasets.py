"""Datasets: items upserted by id, runs unique by name, claimed once, compared by trace."""

from __future__ import annotations

import threading
import time

import pytest

from heliograph.datasets.comparison import compare_runs
from heliograph.datasets.definition import DatasetConflict, ItemDraft, RunItem
from heliograph.store.base import DigestBatch, Project
from heliograph.store.contract import Store
from heliograph.store.score_records import make_score
from tests.contract.builders import ai_event

T0 = time.time() - 600


def dataset(store: Store, project: Project, name: str = "questions") -> int:
    return store.save_dataset(project.id, name, description="", metadata={}).id


def test_a_dataset_is_saved_listed_and_updated_by_name(store: Store, project: Project) -> None:
    created = store.save_dataset(
        project.id, "questions", description="support", metadata={"owner": "ana"}
    )
    store.save_dataset(project.id, "answers", description="", metadata={})
    again = store.save_dataset(project.id, "questions", description="v2", metadata={})
    assert again.id == created.id and again.description == "v2"
    assert [d.name for d in store.list_datasets(project.id)] == ["answers", "questions"]
    found = store.get_dataset(project.id, "questions")
    assert found is not None and (found.items, found.runs, found.metadata) == (0, 0, {})
    assert store.get_dataset(project.id + 1000, "questions") is None


def test_items_are_upserted_by_id_and_paged_in_order(store: Store, project: Project) -> None:
    ds = dataset(store, project)
    drafts = [
        ItemDraft(input={"q": f"q{n}"}, expected_output=f"a{n}", id=f"i{n}") for n in range(5)
    ]
    assert store.save_dataset_items(ds, drafts) == 5
    edited = ItemDraft(input={"q": "q1!"}, expected_output=None, id="i1", status="archived",
                       source_trace_id="t-1", metadata={"k": [1, 2]})  # fmt: skip
    assert store.save_dataset_items(ds, [edited]) == 0
    first, cursor = store.dataset_items(ds, limit=3)
    assert [i.id for i in first] == ["i0", "i1", "i2"] and cursor is not None
    rest, end = store.dataset_items(ds, limit=3, cursor=cursor)
    assert [i.id for i in rest] == ["i3", "i4"] and end is None
    item = store.get_dataset_item(ds, "i1")
    assert item is not None
    assert (item.input, item.expected_output, item.status) == ({"q": "q1!"}, None, "archived")
    assert (item.source_trace_id, item.metadata) == ("t-1", {"k": [1, 2]})
    active, _ = store.dataset_items(ds, limit=10, status="active")
    assert "i1" not in [i.id for i in active]
    assert store.delete_dataset_item(ds, "i1") and not store.delete_dataset_item(ds, "i1")
    found = store.get_dataset(project.id, "questions")
    assert found is not None and found.items == 4


def test_run_names_are_unique_and_sdk_runs_are_reused(store: Store, project: Project) -> None:
    ds = dataset(store, project)
    run = store.create_dataset_run(ds, "v1", kind="prompt", status="queued",
                                   prompt_name="p", prompt_version=1,
                                   settings={"max_concurrency": 2})  # fmt: skip
    assert (run.status, run.prompt_version, run.settings) == ("queued", 1, {"max_concurrency": 2})
    with pytest.raises(DatasetConflict):
        store.create_dataset_run(ds, "v1", kind="prompt", status="queued")
    with pytest.raises(DatasetConflict):
        store.create_dataset_run(ds, "v1", kind="sdk", status="done", exist_ok=True)
    sdk = store.create_dataset_run(ds, "code", kind="sdk", status="done", exist_ok=True)
    assert store.create_dataset_run(ds, "code", kind="sdk", status="done", exist_ok=True) == sdk
    assert [r.name for r in store.list_dataset_runs(ds)] == ["code", "v1"]


def test_a_queued_run_is_claimed_once_and_resumed_when_abandoned(
    store: Store, project: Project
) -> None:
    ds = dataset(store, project)
    store.create_dataset_run(ds, "sdk", kind="sdk", status="done")
    queued = store.create_dataset_run(ds, "v1", kind="prompt", status="queued")
    now = time.time()
    claims: list[object] = []

    def claim() -> None:
        claims.append(store.claim_dataset_run(now, 600))

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    won = [c for c in claims if c is not None]
    assert len(won) == 1 and won[0].id == queued.id and won[0].status == "running"  # type: ignore[attr-defined]
    assert store.claim_dataset_run(now + 1, 600) is None
    assert store.claim_dataset_run(now + 3600, 600) is not None  # its runner stopped beating
    store.update_dataset_run(queued.id, status="failed", error="cost cap", cost_usd=0.5)
    done = store.get_dataset_run(ds, "v1")
    assert done is not None and (done.status, done.error, done.cost_usd) == (
        "failed",
        "cost cap",
        0.5,
    )
    assert done.finished_at is not None and done.started_at is not None
    assert store.claim_dataset_run(now + 7200, 600) is None


def test_runs_compare_item_by_item_with_trace_costs_and_scores(
    store: Store, project: Project
) -> None:
    ds = dataset(store, project)
    store.save_dataset_items(ds, [ItemDraft(input=f"q{n}", expected_output=f"a{n}", id=f"i{n}")
                                  for n in range(3)])  # fmt: skip
    cheap = store.create_dataset_run(ds, "cheap", kind="sdk", status="done")
    dear = store.create_dataset_run(ds, "dear", kind="sdk", status="done")
    events = []
    for n in range(3):
        events.append(ai_event(project.id, trace=f"c{n}", at=T0 + n, cost=0.01, latency=1.0 + n))
        events.append(ai_event(project.id, trace=f"d{n}", at=T0 + n, cost=0.05, latency=3.0))
    store.record(DigestBatch(analytics=events))
    store.save_run_items(
        [RunItem(cheap.id, f"i{n}", f"c{n}", output=f"cheap {n}") for n in range(3)]
        + [RunItem(dear.id, "i0", "d0", output="dear 0"),
           RunItem(dear.id, "i1", "d1", output=None, error="timeout"),
           RunItem(dear.id, "gone", "d2", output="dear 2", latency_s=9.0)]
    )  # fmt: skip
    store.save_scores(
        [make_score(project.id, name="correct", value=v, trace_id=t, source="api", timestamp=T0)
         for t, v in (("c0", 1), ("c1", 0), ("c2", 1), ("d0", 1), ("d0", 0))]
        + [make_score(project.id, name="tone", value="polite", trace_id="c0",
                      data_type="categorical", source="api", timestamp=T0)]
    )  # fmt: skip
    found = store.get_dataset(project.id, "questions")
    assert found is not None
    result = compare_runs(store, found, [cheap, dear])
    assert [i.item_id for i in result.items] == ["i0", "i1", "i2", "gone"]
    assert result.items[-1].removed and result.score_names == ("correct", "tone")
    first = result.items[0]
    assert (first.input, first.expected_output) == ("q0", "a0")
    cheap_cell, dear_cell = first.cells
    assert cheap_cell is not None and dear_cell is not None
    assert cheap_cell.scores == {"correct": 1.0, "tone": "polite"}
    assert dear_cell.scores == {"correct": 0.5} and dear_cell.output == "dear 0"
    assert cheap_cell.cost_usd == pytest.approx(0.01) and cheap_cell.digested
    assert result.items[2].cells[1] is None
    assert result.items[1].cells[1] is not None and result.items[1].cells[1].error == "timeout"
    cheap_row, dear_row = result.runs
    assert (cheap_row.items, cheap_row.errors) == (3, 0)
    assert cheap_row.cost_usd == pytest.approx(0.03) and dear_row.cost_usd == pytest.approx(0.15)
    assert cheap_row.p50_latency_s == pytest.approx(2.0)
    assert cheap_row.mean_scores == {"correct": pytest.approx(2 / 3)}
    assert dear_row.mean_scores == {"correct": 0.5} and dear_row.errors == 1


def test_deleting_a_dataset_takes_its_items_and_runs(store: Store, project: Project) -> None:
    ds = dataset(store, project)
    store.save_dataset_items(ds, [ItemDraft(input="q", id="i")])
    run = store.create_dataset_run(ds, "r", kind="sdk", status="done")
    store.save_run_items([RunItem(run.id, "i", "t")])
    assert store.delete_dataset_run(ds, "r") and store.run_items(run.id) == []
    run = store.create_dataset_run(ds, "r", kind="sdk", status="done")
    assert store.delete_dataset(project.id, "questions")
    assert store.get_dataset(project.id, "questions") is None
    assert store.run_items(run.id) == [] and not store.delete_dataset(project.id, "questions")
