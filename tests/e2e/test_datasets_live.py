"""Datasets and experiments against a live server and a scripted OpenAI-protocol model.

A real ``heliograph serve`` with ``HELIOGRAPH_AI_*`` pointing at a fake model on
loopback. A dataset is built from generations heliograph-sdk sent; two
versions of a prompt are run over it on the server (digest worker 0's
experiment job), the model answering each run differently (tokens, so cost;
a delay per chunk, so latency); the run items are scored through the scores
API and the two runs compared item by item. Then heliograph-sdk's
``run_experiment`` runs a function (calling the model through a wrapped
OpenAI client) with an evaluator, and its run joins the comparison.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import heliograph_sdk
import httpx
import pytest
from heliograph_sdk import _hub

from tests.conftest import LiveServer, launch
from tests.llm_servers import FakeOpenAIServer
from tests.stores import server_store

pytestmark = pytest.mark.e2e
LLM = "/api/0/projects/default/default/llm/"
DATASETS = LLM + "datasets/"
QUESTIONS = ["Capital of France?", "Capital of Italy?", "Capital of Spain?"]


@pytest.fixture(scope="module")
def model() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server  # type: ignore[misc]


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, model: FakeOpenAIServer
) -> Iterator[LiveServer]:
    found = launch(
        tmp_path_factory.mktemp("datasets"),
        env={
            "HELIOGRAPH_AI_PROVIDER": "openai",
            "HELIOGRAPH_AI_BASE_URL": model.base_url,
            "HELIOGRAPH_AI_API_KEY": "sk-test",
            "HELIOGRAPH_AI_MODEL": "gpt-4o-mini",
            "HELIOGRAPH_EXPERIMENT_INTERVAL": "1",
        },
    )
    with server_store(found) as store:
        store.update_project(found.project_id, keep_llm_payloads=True)
    assert heliograph_sdk.init(api_key=found.public_key, host=found.url,
                               prompts_token=found.api_token, install_hooks=False,
                               llm_payloads=True, flush_interval=0.05)  # fmt: skip
    yield found
    _hub.reset_for_tests()
    found.stop()


def _send_generations() -> None:
    for question, answer in zip(QUESTIONS, ["Paris", "Rome", "Madrid"], strict=True):
        with heliograph_sdk.trace_generation("openai", "gpt-4o-mini") as call:
            call.set_input([{"role": "user", "content": question}])
            call.set_output([{"role": "assistant", "content": answer}])
            call.set_tokens(20, 2)
    assert heliograph_sdk.flush(10)


def _wait_for_run(api: httpx.Client, name: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        run: dict[str, Any] = api.get(f"{DATASETS}capitals/runs/{name}/").json()
        if run["status"] in ("done", "failed"):
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {name} did not finish: {run}")


def test_two_prompt_versions_compared_item_by_item(
    server: LiveServer, model: FakeOpenAIServer
) -> None:
    _send_generations()
    server.wait_for_digest()
    with server.api() as api:
        generations = api.get(LLM + "generations/").json()
        assert len(generations) == 3
        assert api.post(DATASETS, json={"name": "capitals"}).status_code == 201
        added = api.post(DATASETS + "capitals/items/",
                         json={"generations": [g["id"] for g in generations]})  # fmt: skip
        assert added.status_code == 201 and added.json()["added"] == 3, added.text
        items = api.get(DATASETS + "capitals/items/").json()["results"]
        assert sorted(i["expectedOutput"] for i in items) == ["Madrid", "Paris", "Rome"]

        for text in ("Answer in one word: {{input}}", "Answer at length: {{input}}"):
            made = api.post("/api/0/projects/default/default/prompts/",
                            json={"name": "capital", "prompt": text})  # fmt: skip
            assert made.status_code == 201, made.text

        runs = {}
        for version, script in (
            (1, {"text": "Paris", "input_tokens": 50, "output_tokens": 5}),
            (2, {"text": "The capital is Paris, of course.", "input_tokens": 5000,
                 "output_tokens": 800, "chunk_size": 4, "chunk_delay": 0.03}),
        ):  # fmt: skip
            model.reply(**script)  # type: ignore[arg-type]
            started = api.post(DATASETS + "capitals/runs/", json={
                "name": f"v{version}", "promptName": "capital", "promptVersion": version,
                "maxConcurrency": 2,
            })  # fmt: skip
            assert started.status_code == 202 and started.json()["status"] == "queued"
            runs[version] = _wait_for_run(api, f"v{version}")
            assert runs[version]["status"] == "done", runs[version]
            assert len(runs[version]["datasetRunItems"]) == 3
        sent = [r.body["messages"][0]["content"] for r in model.requests if r.body]
        assert "Answer in one word: Capital of Spain?" in sent

        server.wait_for_digest()
        for version, value in ((1, 1), (2, 0)):
            for n, run_item in enumerate(runs[version]["datasetRunItems"]):
                scored = api.post(LLM + "scores/", json={
                    "name": "concise", "value": value if n else 1 - value,
                    "traceId": run_item["traceId"],
                })  # fmt: skip
                assert scored.status_code == 201, scored.text

        compared = api.get(DATASETS + "capitals/compare/", params={"runs": "v1,v2"}).json()
    first, second = compared["runs"]
    assert (first["name"], second["name"]) == ("v1", "v2")
    assert compared["scoreNames"] == ["concise"]
    assert first["aggregate"]["meanScores"]["concise"] == pytest.approx(2 / 3)
    assert second["aggregate"]["meanScores"]["concise"] == pytest.approx(1 / 3)
    assert 0 < first["aggregate"]["costUsd"] < second["aggregate"]["costUsd"]
    assert first["aggregate"]["p50LatencySeconds"] < second["aggregate"]["p50LatencySeconds"]
    assert first["aggregate"]["errors"] == second["aggregate"]["errors"] == 0
    for item in compared["items"]:
        short, long = item["runs"]
        assert short["output"] == "Paris" and long["output"].startswith("The capital is")
        assert short["digested"] and long["digested"]
        assert item["expectedOutput"] in ("Paris", "Rome", "Madrid")
    with server.api() as api:
        calls = api.get(LLM + "generations/", params={"limit": 20}).json()
    assert len(calls) == 9  # 3 sent + 3 per run, recorded in the project


def test_run_experiment_runs_a_function_and_joins_the_comparison(
    server: LiveServer, model: FakeOpenAIServer
) -> None:
    import openai

    model.reply("Paris", input_tokens=30, output_tokens=3)
    client = heliograph_sdk.wrap_openai(openai.OpenAI(base_url=model.base_url, api_key="sk-x"))

    def task(question: Any) -> str:
        text = question[-1]["content"] if isinstance(question, list) else str(question)
        answer = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": text}]
        )
        return answer.choices[0].message.content or ""

    def exact(input: Any, output: Any, expected: Any) -> bool:
        return bool(output == expected)

    result = heliograph_sdk.run_experiment(
        dataset="capitals", run="code-v1", task=task, evaluators=[exact]
    )
    assert len(result.items) == 3 and result.errors == 0
    assert all(r.linked for r in result.items)
    assert result.mean("exact") == pytest.approx(1 / 3)  # only Paris is right
    server.wait_for_digest()
    with server.api() as api:
        compared = api.get(DATASETS + "capitals/compare/",
                           params={"runs": ["v1", "code-v1"]}).json()  # fmt: skip
        missing = httpx.get(f"{server.url}/api/public/dataset-items?datasetName=capitals")
    assert missing.status_code == 401
    code = compared["runs"][1]
    assert code["kind"] == "sdk" and code["aggregate"]["items"] == 3
    assert code["aggregate"]["meanScores"]["exact"] == pytest.approx(1 / 3)
    assert code["aggregate"]["costUsd"] > 0  # the wrapped client's calls, priced by digest
    assert all(item["runs"][1]["output"] == "Paris" for item in compared["items"])
    assert all(item["runs"][1]["digested"] for item in compared["items"])
