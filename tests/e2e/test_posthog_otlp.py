"""The real posthog client and the real OTLP exporter against a live server."""

from __future__ import annotations

import time

import httpx
import pytest
from posthog import Posthog

from heliograph.model import Event
from tests.backends.sqlite.on_disk import sql_scalar
from tests.conftest import LiveServer
from tests.stores import llm_analytics, server_store

pytestmark = pytest.mark.e2e


def llm_events(server: LiveServer, *names: str) -> list[Event]:
    """The stored LLM analytics events of the server's project, through the contract."""
    with server_store(server) as store:
        return llm_analytics(store, server.project_id, *names)


def stored_event(server: LiveServer, name: str) -> Event:
    """The one stored analytics event called ``name`` (not an LLM event: found by name on disk)."""
    event_id = sql_scalar(server.data_dir, "SELECT event_id FROM events WHERE name = ?", name)
    assert isinstance(event_id, str), f"no {name} event stored"
    with server_store(server) as store:
        stored = store.get_event(server.project_id, event_id)
    assert stored is not None
    return stored.event


def test_posthog_client_generation_and_exception(live_server: LiveServer) -> None:
    client = Posthog(live_server.public_key, host=live_server.url, sync_mode=True)
    client.capture(
        "$ai_generation",
        distinct_id="user-7",
        properties={
            "$ai_trace_id": "trace-abc",
            "$ai_model": "gpt-4o-mini",
            "$ai_provider": "openai",
            "$ai_input_tokens": 1000,
            "$ai_output_tokens": 200,
            "$ai_latency": 1.25,
            "$ai_input": [{"role": "user", "content": "hello"}],
            "environment": "production",
        },
    )
    client.capture("$pageview", distinct_id="user-7", properties={"$current_url": "https://x.io/"})
    try:
        {}["missing"]
    except KeyError as exc:
        client.capture_exception(exc, distinct_id="user-7")
    client.flush()
    client.shutdown()
    live_server.wait_for_digest()
    generation = llm_events(live_server, "$ai_generation")[0]  # the newest
    assert generation.trace_id == "trace-abc"
    assert generation.properties["$ai_total_cost_usd"] > 0
    assert "$ai_input" not in generation.properties  # payloads are off by default
    assert stored_event(live_server, "$pageview").distinct_id == "user-7"
    with live_server.api() as api:
        issues = api.get(
            "/api/0/projects/default/default/issues/", params={"query": "KeyError"}
        ).json()
    assert len(issues) == 1


def test_flags_endpoints_answer_no_flags(live_server: LiveServer) -> None:
    body = {"token": live_server.public_key, "distinct_id": "user-1"}
    v2 = httpx.post(f"{live_server.url}/flags/?v=2", json=body)
    assert v2.status_code == 200
    assert v2.json()["flags"] == {}
    assert v2.json()["errorsWhileComputingFlags"] is False
    legacy = httpx.post(f"{live_server.url}/decide/?v=3", json=body)
    assert legacy.json()["featureFlags"] == {}
    # The real client reads that answer as "no flags", not as an error.
    client = Posthog(live_server.public_key, host=live_server.url)
    assert client.get_feature_flag("new-checkout", "user-1") is None
    assert client.feature_enabled("new-checkout", "user-1") in (False, None)


def test_capture_with_unknown_key_is_401(live_server: LiveServer) -> None:
    response = httpx.post(
        f"{live_server.url}/batch/",
        json={"api_key": "nope", "batch": [{"event": "x", "distinct_id": "a"}]},
    )
    assert response.status_code == 401


def test_otlp_exporter_genai_spans(live_server: LiveServer) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    exporter = OTLPSpanExporter(
        endpoint=f"{live_server.url}/v1/traces",
        headers={"Authorization": f"Bearer {live_server.public_key}"},
    )
    provider = TracerProvider(resource=Resource.create({"service.name": "agent"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("invoke_agent planner") as agent:
        agent.set_attribute("gen_ai.operation.name", "invoke_agent")
        with tracer.start_as_current_span("chat claude-sonnet-4") as span:
            span.set_attribute("gen_ai.operation.name", "chat")
            span.set_attribute("gen_ai.provider.name", "anthropic")
            span.set_attribute("gen_ai.request.model", "claude-sonnet-4-20250514")
            span.set_attribute("gen_ai.usage.input_tokens", 500)
            span.set_attribute("gen_ai.usage.output_tokens", 50)
            time.sleep(0.01)
    provider.shutdown()
    live_server.wait_for_digest()
    stored = llm_events(live_server, "$ai_generation", "$ai_span", "$ai_trace")
    spans = [e for e in stored if e.properties.get("$service_name") == "agent"]
    by_name = {e.name: e for e in spans}
    generation = by_name["$ai_generation"]
    assert generation.properties["$ai_input_tokens"] == 500
    assert generation.properties["$ai_total_cost_usd"] > 0
    assert generation.properties["$ai_parent_id"] == by_name["$ai_span"].span_id
