"""The Datasets pages, in process: create, add and import items, add calls, compare runs.

Forms carry the CSRF token; a viewer reads and cannot change; "Add to dataset"
on the generations list makes items of the ticked calls; the comparison shows
each run's output and aggregate row.
"""

from __future__ import annotations

from heliograph.datasets.definition import RunItem
from heliograph.runtime import Runtime
from heliograph.store.base import DigestBatch
from tests.contract.builders import ai_event
from tests.unit.test_prompt_pages import csrf, runtime, signed_in

__all__ = ["runtime"]
PAGES = "/default/default/llm/datasets/"


def test_a_member_builds_a_dataset_and_compares_runs(runtime: Runtime) -> None:
    client = signed_in(runtime, "member")
    listing = client.get(PAGES)
    assert listing.status_code == 200 and "No datasets yet." in listing.text
    token = csrf(listing.text)
    made = client.post(PAGES, data={"csrf_token": token, "name": "qa", "description": "d"})
    assert made.status_code == 200 and "Run a prompt version" in made.text
    form = {"csrf_token": token, "action": "add_item"}
    added = client.post(
        PAGES + "qa/", data={**form, "input": '{"q": "2+2"}', "expected_output": "4"}
    )
    assert added.status_code == 200 and "2+2" in added.text
    form = {"csrf_token": token, "action": "import"}
    bad = client.post(PAGES + "qa/", data={**form, "format": "jsonl", "file": '{"input": 1}\nno'})
    assert bad.status_code == 400 and "line 2: not JSON" in bad.text
    imported = client.post(PAGES + "qa/", data={**form, "format": "csv", "file": "input\nhello\n"})
    assert imported.status_code == 200 and "hello" in imported.text

    project = runtime.store.get_project("default", "default")
    assert project is not None
    call = ai_event(project.id, trace="t-1", at=1_700_000_000.0)
    call.properties["$ai_input"] = [{"role": "user", "content": "from a call"}]
    call.properties["$ai_output_choices"] = [{"role": "assistant", "content": "ok"}]
    runtime.store.record(DigestBatch(analytics=[call]))
    generations = client.get("/default/default/llm/generations/")
    assert 'id="add-to-dataset"' in generations.text
    moved = client.post("/default/default/llm/add-to-dataset/", data={
        "csrf_token": token, "dataset": "qa", "generations": [call.event_id]})  # fmt: skip
    assert moved.status_code == 200 and "from a call" in moved.text

    dataset = runtime.store.get_dataset(project.id, "qa")
    assert dataset is not None and dataset.items == 3
    first = runtime.store.create_dataset_run(dataset.id, "a", kind="sdk", status="done")
    second = runtime.store.create_dataset_run(dataset.id, "b", kind="sdk", status="done")
    items, _ = runtime.store.dataset_items(dataset.id, limit=10)
    runtime.store.save_run_items(
        [
            RunItem(first.id, items[0].id, "x1", output="answer A"),
            RunItem(second.id, items[0].id, "x2", output="answer B"),
        ]
    )
    compared = client.get(PAGES + "qa/compare/?runs=a&runs=b")
    assert compared.status_code == 200
    assert "answer A" in compared.text and "answer B" in compared.text
    assert compared.text.count('data-run="') == 2


def test_a_viewer_reads_but_cannot_change(runtime: Runtime) -> None:
    project = runtime.store.get_project("default", "default")
    assert project is not None
    runtime.store.save_dataset(project.id, "qa", description="", metadata={})
    client = signed_in(runtime, "viewer")
    page = client.get(PAGES + "qa/")
    assert page.status_code == 200 and "Read-only" in page.text and "Start run" not in page.text
    refused = client.post(PAGES + "qa/", data={"csrf_token": csrf(page.text), "action": "add_item",
                                               "input": "x"})  # fmt: skip
    assert refused.status_code == 403
