"""The Sentry-shaped event endpoint on analytics events: an LLM call answered as one.

Before, a generation came back as an error without a message: titled
``<unlabeled event>``, level ``error``, and none of its model, tokens, cost
or properties.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from heliograph.app import create_app
from heliograph.bootstrap import ensure_defaults
from heliograph.config import Settings
from heliograph.model import Event
from heliograph.runtime import Runtime
from heliograph.store.base import DigestBatch
from tests.contract.builders import ai_event

NOW = time.time()
ODD_COST = 0.1 + 0.2 + 1.2345678901234567e-07  # no decimal rounding survives it


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, Runtime, int]]:
    settings = Settings(data_dir=tmp_path / "data")
    runtime = Runtime(settings)
    try:
        welcome = ensure_defaults(runtime.store, settings.base_url)
        client = TestClient(create_app(settings, runtime), base_url="http://testserver")
        client.headers["Authorization"] = f"Bearer {welcome.api_token}"
        project = runtime.store.get_project("default", "default")
        assert project is not None
        yield client, runtime, project.id
    finally:
        runtime.close()


def test_the_event_endpoint_answers_an_llm_call_as_one(
    api: tuple[TestClient, Runtime, int],
) -> None:
    client, runtime, project_id = api
    call = ai_event(project_id, trace="t", at=NOW - 5, span_name="summarize", cost=ODD_COST,
                    environment="prod")  # fmt: skip
    call.properties["$ai_input"] = [{"role": "user", "content": "secret plan"}]
    view = Event(
        project_id=project_id, event_id="ab" * 16, timestamp=NOW, received_at=NOW,
        kind="analytics", name="$pageview", properties={"$current_url": "https://x.example/"},
    )  # fmt: skip
    assert runtime.store.record(DigestBatch(analytics=[call, view])).rejected == ()
    found = client.get(f"/api/0/projects/default/default/events/{call.event_id}/").json()
    assert found["title"] == "$ai_generation: summarize (gpt-4o-mini)"
    assert found["level"] == "info" and found["type"] == "default"
    assert {"key": "level", "value": "error"} not in found["tags"]
    assert {"key": "environment", "value": "prod"} in found["tags"]
    assert found["name"] == "$ai_generation"
    assert found["properties"]["$ai_input"] == [{"role": "user", "content": "secret plan"}]
    llm = found["llm"]
    assert (llm["model"], llm["provider"], llm["inputTokens"], llm["outputTokens"]) == (
        "gpt-4o-mini",
        "openai",
        1000,
        100,
    )
    assert (llm["totalCostUsd"], llm["latency"], llm["traceId"]) == (ODD_COST, 2.0, "t")
    page = client.get(f"/api/0/projects/default/default/events/{view.event_id}/").json()
    assert (page["title"], page["level"], page["llm"]) == ("$pageview", "info", None)
    assert page["properties"] == {"$current_url": "https://x.example/"}


def test_an_llm_event_is_titled_by_what_it_names(api: tuple[TestClient, Runtime, int]) -> None:
    client, runtime, project_id = api
    span = ai_event(project_id, "$ai_span", trace="t", at=NOW, span_name="retrieve", model=None)
    bare = ai_event(project_id, "$ai_embedding", trace="t", at=NOW, model=None, is_error=True)
    runtime.store.record(DigestBatch(analytics=[span, bare]))
    answers = {
        event.event_id: client.get(f"/api/0/projects/default/default/events/{event.event_id}/")
        for event in (span, bare)
    }
    assert answers[span.event_id].json()["title"] == "$ai_span: retrieve"
    failed = answers[bare.event_id].json()
    assert (failed["title"], failed["level"]) == ("$ai_embedding", "info")
    assert failed["llm"]["isError"] is True and failed["llm"]["error"] == "rate limited"
