"""The official openai-v2 instrumentation, configured by environment, against a live server.

``opentelemetry-instrumentation-openai-v2`` logs a call's prompt and answer
as OTel log records, which the OTLP log exporter sends to ``/v1/logs`` apart
from the span: the stored generation must carry them all the same, whichever
request digest sees first, and carry none when the project keeps no payloads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from heliograph.llm_messages import span_event_id
from heliograph.model import Event
from tests.conftest import LiveServer
from tests.llm_servers import DEFAULT_TEXT, FakeOpenAIServer
from tests.stores import server_store

pytestmark = pytest.mark.e2e

SYSTEM = "You answer support tickets."


@contextmanager
def instrumented(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Any, Any, Callable[[], tuple[str, str]]]]:
    """The real instrumentation and exporters, set up as docs/llm-analytics.md says:
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` and headers, content capture on. Yields the
    tracer and logger providers and a function making one chat call (its trace
    and span ids)."""
    import openai
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.util.genai.utils import is_experimental_mode

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", server.url)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"Authorization=Bearer {server.public_key}")
    if is_experimental_mode():
        monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
        monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "EVENT_ONLY")
    else:
        monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, logger_provider=logger_provider)
    try:
        with FakeOpenAIServer() as fake:
            client = openai.OpenAI(base_url=fake.base_url, api_key="sk-test")

            def call() -> tuple[str, str]:
                from opentelemetry import trace

                tracer = tracer_provider.get_tracer("support")
                with tracer.start_as_current_span("ticket") as parent:
                    client.chat.completions.create(
                        model="gpt-4o-mini",
                        messages=[
                            {"role": "system", "content": SYSTEM},
                            {"role": "user", "content": "Where is my parcel?"},
                        ],
                    )
                    context = parent.get_span_context()
                assert context.trace_id != trace.INVALID_TRACE_ID
                return format(context.trace_id, "032x"), format(context.span_id, "016x")

            yield tracer_provider, logger_provider, call
    finally:
        instrumentor.uninstrument()
        tracer_provider.shutdown()
        logger_provider.shutdown()


def generation_of(server: LiveServer, trace_id: str) -> Event:
    with server_store(server) as store:
        [stored] = [
            s
            for s in store.events_by_trace(server.project_id, trace_id)
            if s.event.name == "$ai_generation"
        ]
        again = store.get_event(server.project_id, stored.event_id)
    assert again is not None
    assert again.event_id == span_event_id(trace_id, again.event.span_id or "")
    return again.event


def keep_payloads(server: LiveServer, keep: bool) -> None:
    with server_store(server) as store:
        store.update_project(server.project_id, keep_llm_payloads=keep)


def test_prompts_logged_by_openai_v2_join_their_generation(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    keep_payloads(live_server, True)
    with instrumented(live_server, monkeypatch) as (tracer_provider, logger_provider, call):
        # The span first, digested alone; its messages a request later.
        span_first, _ = call()
        assert tracer_provider.force_flush()
        live_server.wait_for_digest()
        assert "$ai_input" not in generation_of(live_server, span_first).properties
        assert logger_provider.force_flush()
        live_server.wait_for_digest()
        # The messages first, digested alone; the span after them.
        logs_first, _ = call()
        assert logger_provider.force_flush()
        live_server.wait_for_digest()
        assert tracer_provider.force_flush()
        live_server.wait_for_digest()
    for trace_id in (span_first, logs_first):
        properties = generation_of(live_server, trace_id).properties
        assert properties["$ai_model"] == "gpt-4o-mini"
        assert properties["$ai_input"] == [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": "Where is my parcel?"},
        ]
        [choice] = properties["$ai_output_choices"]
        assert (choice["role"], choice["content"]) == ("assistant", DEFAULT_TEXT)


def test_a_project_keeping_no_payloads_stores_no_logged_message(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    keep_payloads(live_server, False)
    with instrumented(live_server, monkeypatch) as (tracer_provider, logger_provider, call):
        span_first, _ = call()
        assert tracer_provider.force_flush()
        live_server.wait_for_digest()
        assert logger_provider.force_flush()
        logs_first, _ = call()
        assert logger_provider.force_flush()
        live_server.wait_for_digest()
        assert tracer_provider.force_flush()
        live_server.wait_for_digest()
    for trace_id in (span_first, logs_first):
        properties = generation_of(live_server, trace_id).properties
        assert properties["$ai_model"] == "gpt-4o-mini"
        assert "$ai_input" not in properties
        assert "$ai_output_choices" not in properties
