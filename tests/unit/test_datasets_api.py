"""The dataset APIs and the experiment job, in process.

Datasets made over the API, from recorded calls and from files (hostile ones
answered 400 with the line, never 500); a prompt run queued, then executed by
:class:`ExperimentJob` with a scripted provider, each call queued as an
``$ai_generation``; the SDK endpoints' Basic credentials.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from heliograph.ai.errors import UpstreamRateLimited
from heliograph.ai.providers import Message, StreamPart, TextDelta, Usage
from heliograph.app import create_app
from heliograph.bootstrap import ensure_defaults
from heliograph.config import Settings
from heliograph.datasets.experiment import ExperimentJob, ExperimentLimits
from heliograph.datasets.importer import MAX_BYTES
from heliograph.runtime import Runtime
from heliograph.store.base import DigestBatch, Project
from tests.contract.builders import ai_event

BASE = "/api/0/projects/default/default/llm/datasets/"


@dataclass
class Api:
    client: TestClient
    runtime: Runtime
    project: Project
    public_key: str
    token: str

    def basic(self) -> dict[str, str]:
        raw = f"{self.public_key}:{self.token}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    settings = Settings(data_dir=tmp_path / "data")
    runtime = Runtime(settings)
    try:
        welcome = ensure_defaults(runtime.store, settings.base_url)
        assert welcome.api_token is not None
        runtime.keys.changed()
        client = TestClient(create_app(settings, runtime), base_url="http://testserver")
        client.headers["Authorization"] = f"Bearer {welcome.api_token}"
        yield Api(client, runtime, welcome.project, welcome.public_key, welcome.api_token)
    finally:
        runtime.close()


def make_dataset(api: Api, name: str = "qa") -> None:
    response = api.client.post(BASE, json={"name": name, "description": "questions"})
    assert response.status_code == 201, response.text


def test_items_added_listed_edited_and_deleted(api: Api) -> None:
    make_dataset(api)
    items = [{"id": "a", "input": {"q": "2+2"}, "expectedOutput": "4"}, {"input": "hello"}]
    added = api.client.post(BASE + "qa/items/", json={"items": items})
    assert added.status_code == 201 and added.json()["added"] == 2
    page = api.client.get(BASE + "qa/items/?limit=1")
    assert [i["id"] for i in page.json()["results"]] == ["a"]
    assert 'results="true"' in page.headers["Link"]
    patched = api.client.patch(BASE + "qa/items/a/", json={"expectedOutput": "four",
                                                          "status": "ARCHIVED"})  # fmt: skip
    assert patched.json()["expectedOutput"] == "four" and patched.json()["status"] == "ARCHIVED"
    assert patched.json()["input"] == {"q": "2+2"}
    assert api.client.get(BASE + "qa/items/?status=active").json()["results"][0]["input"] == "hello"
    assert api.client.delete(BASE + "qa/items/a/").status_code == 204
    assert api.client.get(BASE + "qa/items/a/").status_code == 404
    assert api.client.get(BASE + "qa/").json()["items"] == 1
    assert api.client.get(BASE + "nope/items/").status_code == 404


def test_items_from_recorded_generations(api: Api) -> None:
    make_dataset(api)
    call = ai_event(api.project.id, trace="t-1", at=1_700_000_000.0)
    call.properties["$ai_input"] = [{"role": "user", "content": "Capital of France?"}]
    call.properties["$ai_output_choices"] = [{"role": "assistant", "content": "Paris"}]
    bare = ai_event(api.project.id, trace="t-2", at=1_700_000_001.0)
    api.runtime.store.record(DigestBatch(analytics=[call, bare]))
    answer = api.client.post(
        BASE + "qa/items/", json={"generations": [call.event_id, bare.event_id, "missing"]}
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["added"] == 1
    assert answer.json()["missing"] == [bare.event_id, "missing"]
    [item] = api.client.get(BASE + "qa/items/").json()["results"]
    assert item["input"] == [{"role": "user", "content": "Capital of France?"}]
    assert item["expectedOutput"] == "Paris" and item["sourceTraceId"] == "t-1"
    by_trace = api.client.post(BASE + "qa/items/", json={"traces": ["t-1"]})
    assert by_trace.json()["added"] == 1


def test_files_import_as_jsonl_and_csv(api: Api) -> None:
    make_dataset(api)
    jsonl = b'{"input": {"city": "Paris"}, "expected_output": "France", "id": "p"}\n\n' + (
        b'{"input": "Rome", "expectedOutput": "Italy", "metadata": {"src": "x"}}\n'
    )
    answer = api.client.post(BASE + "qa/import/?format=jsonl", content=jsonl)
    assert answer.status_code == 201 and answer.json() == {"added": 2, "updated": 0}
    again = api.client.post(BASE + "qa/import/", content=jsonl.split(b"\n")[0])
    assert again.json() == {"added": 0, "updated": 1}  # same id: replaced
    csv = '\ufeffcity,country,expected_output\nOslo,"Norway, north",Norway\n'.encode()
    answer = api.client.post(BASE + "qa/import/", content=csv, headers={"content-type": "text/csv"})
    assert answer.status_code == 201, answer.text
    last = api.client.get(BASE + "qa/items/").json()["results"][-1]
    assert last["input"] == {"city": "Oslo", "country": "Norway, north"}
    assert last["expectedOutput"] == "Norway"


@pytest.mark.parametrize(
    ("body", "file_format", "reason"),
    [
        (b'{"input": 1}\nnot json\n', "jsonl", "line 2: not JSON"),
        (b'{"input": 1}\n[1, 2]\n', "jsonl", "line 2: each line must be a JSON object"),
        (b'{"expected_output": 1}\n', "jsonl", "line 1: an item needs an 'input'"),
        (b'{"input": 1, "id": "bad id!"}\n', "jsonl", "line 1: an item id"),
        (b'{"input": 1, "metadata": [1]}\n', "jsonl", "line 1: metadata must be"),
        (b'{"input": "' + b"x" * 70_000 + b'"}\n', "jsonl", "line 1: input is at most"),
        (b'{"input": 1}\n\xff\xfe\n', "jsonl", "line 2: the file is not UTF-8"),
        (b"\n\n", "jsonl", "no items"),
        (b"", "csv", "header row"),
        (b"input,input\n1,2\n", "csv", "distinct"),
        (b"input,expected_output\nq,a\nq2\n", "csv", "line 3: 1 columns"),
        (b'input,metadata\nq,"{nope"\n', "csv", "line 2: column 'metadata' is not JSON"),
        (b'input\n"unterminated\n', "csv", "not valid CSV"),
        (b"input\nq\x00\n", "csv", "line 2"),
        (b"id,metadata\n1,{}\n", "csv", "no 'input' column"),
    ],
)
def test_bad_files_are_refused_with_the_line(
    api: Api, body: bytes, file_format: str, reason: str
) -> None:
    make_dataset(api)
    answer = api.client.post(BASE + f"qa/import/?format={file_format}", content=body)
    assert answer.status_code == 400, answer.text
    assert reason in answer.json()["detail"]
    assert api.client.get(BASE + "qa/").json()["items"] == 0


def test_a_file_too_large_is_refused(api: Api) -> None:
    make_dataset(api)
    answer = api.client.post(BASE + "qa/import/", content=b"x" * (MAX_BYTES + 1))
    assert answer.status_code == 413


def test_runs_are_refused_without_a_provider_or_a_prompt(api: Api) -> None:
    make_dataset(api)
    body = {"name": "r1", "promptName": "answer", "promptVersion": 1}
    assert api.client.post(BASE + "qa/runs/", json=body).status_code == 404  # no prompt
    api.client.post("/api/0/projects/default/default/prompts/",
                    json={"name": "answer", "prompt": "Answer: {{q}}"})  # fmt: skip
    refused = api.client.post(BASE + "qa/runs/", json=body)
    assert refused.status_code == 409 and "HELIOGRAPH_AI_PROVIDER" in refused.json()["detail"]
    bad = api.client.post(BASE + "qa/runs/", json={**body, "maxConcurrency": 9})
    assert bad.status_code == 400 and "maxConcurrency" in bad.json()["detail"]


# -- the experiment job --------------------------------------------------------------


@dataclass
class ScriptedProvider:
    """Answers each prompt with a reply chosen by its text; fails on ``FAIL``."""

    name: str = "openai"
    base_url: str = "http://fake"
    seen: list[list[Message]] = field(default_factory=list)

    async def stream(
        self, messages: Sequence[Message], *, model: str, max_tokens: int, timeout: float
    ) -> AsyncIterator[StreamPart]:
        self.seen.append(list(messages))
        text = messages[-1]["content"]
        if "FAIL" in text:
            raise UpstreamRateLimited("rate limited", retry_after=None)
        yield TextDelta(f"answer to {text}")
        yield Usage(1000, 100, model)

    async def aclose(self) -> None:
        pass


@dataclass
class FakeQueue:
    events: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    def append_nowait(self, project_id: int, kind: str, received_at: float, body: bytes) -> None:
        assert kind == "posthog"
        self.events += [(project_id, event) for event in orjson.loads(body)]

    def close(self) -> None:
        pass


def test_the_job_runs_a_queued_prompt_run(api: Api) -> None:
    store = api.runtime.store
    make_dataset(api)
    items = [{"id": f"i{n}", "input": {"q": f"question {n}"}} for n in range(3)]
    items.append({"id": "i3", "input": {"q": "FAIL please"}})
    api.client.post(BASE + "qa/items/", json={"items": items})
    api.client.post("/api/0/projects/default/default/prompts/",
                    json={"name": "answer", "prompt": "Answer: {{q}}"})  # fmt: skip
    dataset = store.get_dataset(api.project.id, "qa")
    assert dataset is not None
    store.create_dataset_run(dataset.id, "v1", kind="prompt", status="queued",
                             prompt_name="answer", prompt_version=1,
                             settings={"max_concurrency": 2})  # fmt: skip
    provider, queue = ScriptedProvider(), FakeQueue()
    job = ExperimentJob(store, queue, lambda: provider, ExperimentLimits(model="gpt-4o-mini"))
    assert job.run_once(1e10) is not None and job.run_once(1e10) is None
    run = store.get_dataset_run(dataset.id, "v1")
    assert run is not None and run.status == "done" and run.items == 4
    assert run.cost_usd > 0
    results = {ri.item_id: ri for ri in store.run_items(run.id)}
    assert results["i0"].output == "answer to Answer: question 0"
    assert results["i3"].error is not None and "rate limited" in results["i3"].error
    assert sorted(m[0]["content"] for m in provider.seen)[0] == "Answer: FAIL please"
    assert len(queue.events) == 4
    project_id, event = next(e for e in queue.events if e[1]["properties"]["$ai_span_id"]
                             == results["i0"].observation_id)  # fmt: skip
    props = event["properties"]
    assert project_id == api.project.id and event["event"] == "$ai_generation"
    assert props["$ai_trace_id"] == results["i0"].trace_id
    assert (props["$ai_prompt_name"], props["$ai_prompt_version"]) == ("answer", 1)
    assert (props["heliograph_dataset"], props["heliograph_dataset_run"]) == ("qa", "v1")
    assert props["$ai_model"] == "gpt-4o-mini" and props["$ai_input_tokens"] == 1000


def test_the_job_stops_at_the_cost_cap_and_without_a_provider(api: Api) -> None:
    store = api.runtime.store
    make_dataset(api)
    api.client.post(BASE + "qa/items/", json={"items": [{"input": f"q{n}"} for n in range(5)]})
    api.client.post("/api/0/projects/default/default/prompts/",
                    json={"name": "answer", "prompt": "{{input}}"})  # fmt: skip
    dataset = store.get_dataset(api.project.id, "qa")
    assert dataset is not None
    store.create_dataset_run(dataset.id, "capped", kind="prompt", status="queued",
                             prompt_name="answer", prompt_version=1,
                             settings={"cost_cap_usd": 0.0001})  # fmt: skip
    job = ExperimentJob(store, FakeQueue(), ScriptedProvider, ExperimentLimits(model="gpt-4o"))
    job.run_once(1e10)
    capped = store.get_dataset_run(dataset.id, "capped")
    assert capped is not None and capped.status == "failed" and capped.items == 1
    assert capped.error is not None and "cost cap" in capped.error
    store.create_dataset_run(dataset.id, "off", kind="prompt", status="queued",
                             prompt_name="answer", prompt_version=1)  # fmt: skip
    ExperimentJob(store, FakeQueue(), lambda: None, ExperimentLimits()).run_once(1e10)
    off = store.get_dataset_run(dataset.id, "off")
    assert off is not None and off.status == "failed" and "no AI provider" in (off.error or "")


# -- the SDK endpoints ---------------------------------------------------------------


def test_sdk_endpoints_read_items_and_link_run_items(api: Api) -> None:
    make_dataset(api)
    api.client.post(BASE + "qa/items/", json={"items": [{"id": f"i{n}", "input": n}
                                                        for n in range(3)]})  # fmt: skip
    anonymous = TestClient(api.client.app, base_url="http://testserver")
    assert anonymous.get("/api/public/v2/datasets/qa").status_code == 401
    key_only = {
        "Authorization": "Basic " + base64.b64encode(f"{api.public_key}:".encode()).decode()
    }
    assert anonymous.get("/api/public/v2/datasets/qa", headers=key_only).status_code == 401
    assert anonymous.get("/api/public/v2/datasets/qa", headers=api.basic()).json()["items"] == 3
    first = anonymous.get(
        "/api/public/dataset-items?datasetName=qa&limit=2", headers=api.basic()
    ).json()
    assert [i["id"] for i in first["data"]] == ["i0", "i1"] and first["meta"]["nextCursor"]
    second = anonymous.get(
        f"/api/public/dataset-items?datasetName=qa&limit=2&cursor={first['meta']['nextCursor']}",
        headers=api.basic(),
    ).json()
    assert [i["id"] for i in second["data"]] == ["i2"] and second["meta"]["nextCursor"] is None
    page2 = anonymous.get(
        "/api/public/dataset-items?datasetName=qa&limit=2&page=2", headers=api.basic()
    ).json()
    assert [i["id"] for i in page2["data"]] == ["i2"]
    page3 = anonymous.get(
        "/api/public/dataset-items?datasetName=qa&limit=2&page=3", headers=api.basic()
    ).json()
    assert page3["data"] == []
    linked = anonymous.post(
        "/api/public/dataset-run-items",
        headers=api.basic(),
        json={"runName": "code-v1", "datasetItemId": "i1", "traceId": "t-9",
              "output": {"answer": 1}, "latencySeconds": 0.5},
    )  # fmt: skip
    assert linked.status_code == 200, linked.text
    run = api.client.get(BASE + "qa/runs/code-v1/").json()
    assert run["kind"] == "sdk" and run["status"] == "done"
    assert run["datasetRunItems"][0]["output"] == {"answer": 1}
    unknown = {"runName": "x", "datasetItemId": "nope", "traceId": "t"}
    bad = anonymous.post("/api/public/dataset-run-items", headers=api.basic(), json=unknown)
    assert bad.status_code == 404
