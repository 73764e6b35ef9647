"""The unmodified Langfuse SDK and PostHog's AI OTel path, pointed at a running server."""

from __future__ import annotations

import pytest

from tests.conftest import LiveServer
from tests.e2e.test_posthog_otlp import llm_events

pytestmark = pytest.mark.e2e


def test_the_langfuse_sdk_exports_to_heliograph(live_server: LiveServer) -> None:
    """Langfuse's SDK sends Basic <public key>:<secret key> to /api/public/otel/v1/traces;
    its observations arrive as generations and spans with model, usage, cost and errors."""
    from langfuse import Langfuse, propagate_attributes
    from opentelemetry.sdk.trace import TracerProvider

    client = Langfuse(
        public_key=live_server.public_key,
        secret_key="sk-lf-not-checked",
        base_url=live_server.url,
        environment="staging",
        release="4.2.0",
        flush_at=1,
        # Its own provider: the global one would go on exporting other tests' spans
        # to this test's server after it stopped.
        tracer_provider=TracerProvider(),
    )
    with (
        client.start_as_current_observation(name="answer-ticket", as_type="agent") as agent,
        propagate_attributes(user_id="cust-42", session_id="ticket-7", trace_name="support"),
    ):
        with client.start_as_current_observation(
            name="draft reply",
            as_type="generation",
            model="gpt-4o-mini",
            model_parameters={"temperature": 0.2},
            input=[{"role": "user", "content": "Where is my parcel?"}],
        ) as generation:
            generation.update(
                output={"role": "assistant", "content": "On its way."},
                usage_details={"input": 1200, "output": 80},
            )
        with client.start_as_current_observation(
            name="lookup order", as_type="tool", level="ERROR", status_message="order API 503"
        ):
            pass
        agent.update(output="escalated")
    client.flush()
    client.shutdown()
    live_server.wait_for_digest()

    stored = {
        e.properties.get("$ai_span_name"): e
        for e in llm_events(live_server, "$ai_generation", "$ai_span")
        if e.properties.get("$otel_scope") == "langfuse-sdk"
    }
    call = stored["draft reply"]
    assert call.name == "$ai_generation"
    props = call.properties
    assert (props["$ai_model"], props["$ai_input_tokens"], props["$ai_output_tokens"]) == (
        "gpt-4o-mini",
        1200,
        80,
    )
    assert props["$ai_total_cost_usd"] > 0  # priced from the model, as any generation
    assert props["$ai_temperature"] == 0.2
    assert call.distinct_id == "cust-42" and props["$ai_session_id"] == "ticket-7"
    assert (call.environment, call.release) == ("staging", "4.2.0")
    tool = stored["lookup order"]
    assert tool.name == "$ai_span"
    assert tool.properties["$ai_is_error"] is True
    assert tool.properties["$ai_error"] == "order API 503"
    assert stored["answer-ticket"].name == "$ai_span"


def test_posthogs_ai_otel_path_takes_a_token_in_the_url(live_server: LiveServer) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    for path in ("/i/v0/ai/otel", "/i/v0/ai/otel/v1/traces"):
        exporter = OTLPSpanExporter(
            endpoint=f"{live_server.url}{path}?token={live_server.public_key}"
        )
        provider = TracerProvider(resource=Resource.create({"service.name": f"ph{path}"}))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        with provider.get_tracer("test").start_as_current_span("chat") as span:
            span.set_attribute("gen_ai.operation.name", "chat")
            span.set_attribute("gen_ai.request.model", "gpt-4o-mini")
            span.set_attribute("gen_ai.usage.input_tokens", 10)
        provider.shutdown()
    live_server.wait_for_digest()
    services = {
        e.properties.get("$service_name") for e in llm_events(live_server, "$ai_generation")
    }
    assert {"ph/i/v0/ai/otel", "ph/i/v0/ai/otel/v1/traces"} <= services
