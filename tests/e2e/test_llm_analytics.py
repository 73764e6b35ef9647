"""LLM analytics end to end: the real posthog OpenAI wrapper and the real OTLP exporter.

The OpenAI API is a local server speaking its wire protocol (streaming and
not); posthog-python wraps the real ``openai`` client around it and sends
its events to a live Heliograph, whose pages are then read over HTTP.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from posthog import Posthog
from posthog.ai.openai import OpenAI

from heliograph.store.llm_records import LlmEventFilter, LlmEventRecord
from tests.conftest import LiveServer
from tests.llm_servers import FakeOpenAIServer
from tests.stores import server_store

pytestmark = pytest.mark.e2e

LLM = "/default/default/llm/"


@dataclass
class Seeded:
    server: LiveServer
    web: httpx.Client
    chat_trace: str
    otlp_trace: str


def trace_events(server: LiveServer, trace_id: str) -> list[LlmEventRecord]:
    with server_store(server) as store:
        return store.llm_trace_events(server.project_id, trace_id)


def send_openai_calls(server: LiveServer, fake: FakeOpenAIServer, trace_id: str) -> None:
    posthog = Posthog(server.public_key, host=server.url, sync_mode=True)
    client = OpenAI(
        api_key="sk-test", base_url=fake.base_url, posthog_client=posthog, max_retries=0
    )
    context = {
        "posthog_distinct_id": "user-42",
        "posthog_trace_id": trace_id,
        "posthog_properties": {"$ai_session_id": "sess-1", "environment": "production"},
    }
    fake.reply("Paris is the capital of France.", input_tokens=321, output_tokens=9)
    client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Capital of France?"}], **context
    )
    fake.reply(
        "A streamed answer, chunk by chunk.", chunk_size=6, chunk_delay=0.02, input_tokens=500
    )
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Stream please"}],
        stream=True,
        stream_options={"include_usage": True},
        **context,
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    fake.fail(500, "upstream exploded")
    try:
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "fail"}], **context
        )
    except Exception as exc:  # the wrapper re-raises after recording the failure
        posthog.capture_exception(exc, distinct_id="user-42", properties={"$trace_id": trace_id})
    else:
        raise AssertionError("the scripted failure did not raise")
    posthog.flush()
    posthog.shutdown()


def send_otlp_agent(server: LiveServer) -> str:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    exporter = OTLPSpanExporter(
        endpoint=f"{server.url}/v1/traces",
        headers={"Authorization": f"Bearer {server.public_key}"},
    )
    provider = TracerProvider(resource=Resource.create({"service.name": "planner"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("e2e")
    with tracer.start_as_current_span("invoke_agent planner") as agent:
        agent.set_attribute("gen_ai.operation.name", "invoke_agent")
        trace_id = f"{agent.get_span_context().trace_id:032x}"
        with tracer.start_as_current_span("execute_tool search") as tool:
            tool.set_attribute("gen_ai.operation.name", "execute_tool")
            with tracer.start_as_current_span("chat claude") as chat:
                chat.set_attribute("gen_ai.operation.name", "chat")
                chat.set_attribute("gen_ai.provider.name", "anthropic")
                chat.set_attribute("gen_ai.request.model", "claude-sonnet-4-20250514")
                chat.set_attribute("gen_ai.usage.input_tokens", 800)
                chat.set_attribute("gen_ai.usage.output_tokens", 80)
                time.sleep(0.02)
    provider.shutdown()
    return trace_id


@pytest.fixture(scope="module")
def seeded(live_server: LiveServer) -> Iterator[Seeded]:
    chat_trace = uuid.uuid4().hex
    with FakeOpenAIServer() as fake:
        assert isinstance(fake, FakeOpenAIServer)
        send_openai_calls(live_server, fake, chat_trace)
    otlp_trace = send_otlp_agent(live_server)
    live_server.wait_for_digest()
    web = httpx.Client(base_url=live_server.url, timeout=10)
    assert web.get(live_server.login_url).status_code == 303
    yield Seeded(live_server, web, chat_trace, otlp_trace)
    web.close()


def test_wrapper_calls_are_stored_with_model_tokens_latency_and_cost(seeded: Seeded) -> None:
    rows = trace_events(seeded.server, seeded.chat_trace)
    plain, streamed, failed = sorted(rows, key=lambda r: r.timestamp)
    for row in (plain, streamed):
        assert row.name == "$ai_generation" and row.model == "gpt-4o-mini"
        assert row.provider == "openai" and row.distinct_id == "user-42"
        assert row.session_id == "sess-1" and not row.is_error
        assert row.total_cost_usd is not None and row.total_cost_usd > 0
        assert row.cost_source == "price_table"
    assert (plain.input_tokens, plain.output_tokens) == (321, 9)
    assert (streamed.input_tokens, streamed.output_tokens) == (500, 6)
    chunks = 6  # 34 characters in chunks of 6, 20 ms apart
    assert streamed.latency_s is not None and streamed.latency_s >= chunks * 0.02
    assert plain.latency_s is not None and 0 < plain.latency_s < streamed.latency_s
    assert (
        failed.is_error
        and failed.http_status == 500
        and "upstream exploded" in (failed.error or "")
    )


def test_dashboard_and_generations_pages_show_the_calls(seeded: Seeded) -> None:
    dashboard = seeded.web.get(LLM)
    assert dashboard.status_code == 200
    assert 'data-model="gpt-4o-mini"' in dashboard.text
    assert re.search(r'data-kpi="requests">\s*4<', dashboard.text)  # 3 OpenAI calls + 1 OTLP chat
    listing = seeded.web.get(LLM + "generations/", params={"trace": seeded.chat_trace})
    assert listing.status_code == 200
    assert listing.text.count('class="generation-row') == 3
    assert listing.text.count("generation-row is-error") == 1
    errors_only = seeded.web.get(LLM + "generations/", params={"errors": "1"})
    assert errors_only.text.count('class="generation-row') == 1


def test_generation_page_without_payloads(seeded: Seeded) -> None:
    row = next(r for r in trace_events(seeded.server, seeded.chat_trace) if r.input_tokens == 321)
    page = seeded.web.get(f"{LLM}generations/{row.event_id}/")
    assert page.status_code == 200
    assert "Not stored: this project keeps no prompts" in page.text
    assert "Capital of France" not in page.text
    assert seeded.web.get(f"{LLM}generations/{'0' * 32}/").status_code == 404


def test_otlp_trace_page_draws_the_nesting(seeded: Seeded) -> None:
    page = seeded.web.get(f"{LLM}traces/{seeded.otlp_trace}/")
    assert page.status_code == 200
    rows = re.findall(r'data-depth="(\d+)" data-kind="(\w+)"', page.text)
    # The OTel root span is the trace's root, not a child of a made-up one.
    assert rows == [("0", "trace"), ("1", "span"), ("2", "generation")]
    assert "invoke_agent planner" in page.text and "pseudo-trace" in page.text
    assert page.text.count("invoke_agent planner</") <= 2  # the heading and the root row


def test_error_and_trace_link_both_ways(seeded: Seeded) -> None:
    page = seeded.web.get(f"{LLM}traces/{seeded.chat_trace}/")
    assert page.status_code == 200
    issue = re.search(r'href="/issues/(\d+)/\?event=', page.text)
    assert issue, "the trace page lists the error recorded in the trace"
    issue_page = seeded.web.get(f"/issues/{issue.group(1)}/")
    assert issue_page.status_code == 200
    assert f'href="{LLM}traces/{seeded.chat_trace}/"' in issue_page.text


def test_other_projects_llm_pages_are_404(seeded: Seeded) -> None:
    for path in ("/default/nope/llm/", "/other/default/llm/traces/", "/default/nope/llm/sessions/"):
        assert seeded.web.get(path).status_code == 404
    assert seeded.web.get(f"{LLM}traces/{uuid.uuid4().hex}/").status_code == 404
    anonymous = httpx.get(seeded.server.url + LLM, follow_redirects=False)
    assert anonymous.status_code == 303 and "/login" in anonymous.headers["location"]


def test_payloads_are_stored_once_the_project_allows_it(seeded: Seeded) -> None:
    server = seeded.server
    with server_store(server) as store:
        store.update_project(server.project_id, keep_llm_payloads=1)
    trace_id = uuid.uuid4().hex
    posthog = Posthog(server.public_key, host=server.url, sync_mode=True)
    posthog.capture(
        "$ai_generation",
        distinct_id="user-42",
        properties={
            "$ai_trace_id": trace_id,
            "$ai_model": "gpt-4o-mini",
            "$ai_input": [{"role": "user", "content": '<script>alert("x")</script> hi'}],
            "$ai_output_choices": [{"role": "assistant", "content": "hello"}],
        },
    )
    posthog.shutdown()
    server.wait_for_digest()
    with server_store(server) as store:
        [row], _ = store.llm_events(LlmEventFilter(server.project_id, trace_id=trace_id), limit=5)
    page = seeded.web.get(f"{LLM}generations/{row.event_id}/")
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; hi" in page.text
    assert "<script>alert" not in page.text
    assert "Not stored" not in page.text


def test_feedback_metrics_the_traces_input_and_output_and_the_span_panel(seeded: Seeded) -> None:
    server = seeded.server
    with server_store(server) as store:
        store.update_project(server.project_id, keep_llm_payloads=True)
    try:
        trace = uuid.uuid4().hex
        posthog = Posthog(server.public_key, host=server.url, sync_mode=True)
        user = "user-7"
        posthog.capture(
            distinct_id=user,
            event="$ai_trace",
            properties={
                "$ai_trace_id": trace,
                "$ai_span_name": "support",
                "$ai_input_state": {"question": "Where is my parcel?"},
                "$ai_output_state": "It left the depot.",
            },
        )
        posthog.capture(
            distinct_id=user,
            event="$ai_generation",
            properties={
                "$ai_trace_id": trace,
                "$ai_span_id": "gen-1",
                "$ai_parent_id": trace,
                "$ai_model": "gpt-4o-mini",
                "$ai_provider": "openai",
                "$ai_input_tokens": 10,
                "$ai_output_tokens": 5,
                "$ai_input": [{"role": "user", "content": "Where is my parcel?"}],
                "$ai_output_choices": [{"role": "assistant", "content": "Tracking says: depot"}],
            },
        )
        for name, value, span in (("helpfulness", 0.8, None), ("grounded", 1, "gen-1")):
            properties = {"$ai_trace_id": trace, "$ai_metric_name": name, "$ai_metric_value": value}
            if span:
                properties["$ai_span_id"] = span
            posthog.capture(distinct_id=user, event="$ai_metric", properties=properties)
        posthog.capture(
            distinct_id=user,
            event="$ai_feedback",
            properties={"$ai_trace_id": trace, "$ai_feedback_text": "Great, thanks!"},
        )
        posthog.flush()
        posthog.shutdown()
        server.wait_for_digest()
    finally:
        with server_store(server) as store:
            store.update_project(server.project_id, keep_llm_payloads=False)

    page = seeded.web.get(f"{LLM}traces/{trace}/")
    assert page.status_code == 200
    trace_io = page.text.split('id="trace-io"', 1)[1].split("</section>", 1)[0]
    assert "Where is my parcel?" in trace_io and "It left the depot." in trace_io
    scores = page.text.split('id="scores"', 1)[1].split("</section>", 1)[0]
    assert 'data-score="helpfulness"' in scores and "Great, thanks!" in scores
    assert 'id="span-panel"' not in page.text
    [generation] = [r for r in trace_events(server, trace) if r.name == "$ai_generation"]
    panel_page = seeded.web.get(f"{LLM}traces/{trace}/", params={"span": generation.event_id})
    panel = panel_page.text.split('id="span-panel"', 1)[1]
    assert "Tracking says: depot" in panel
    assert 'data-score="grounded"' in panel and 'data-score="helpfulness"' not in panel
    # Not one of this trace's events: no panel.
    other = seeded.web.get(f"{LLM}traces/{trace}/", params={"span": "0" * 32})
    assert other.status_code == 200 and 'id="span-panel"' not in other.text
    dashboard = seeded.web.get(LLM).text
    summary = dashboard.split('id="scores"', 1)[1].split("</table>", 1)[0]
    assert re.search(
        r'data-score="helpfulness">.*?<td class="num">1</td>\s*<td class="num">0\.8<',
        summary,
        re.S,
    )
    # Feedback without a value: a categorical score labelled "comment" (digest/scores.py).
    assert re.search(r'data-score="feedback">.*?<code>comment</code> 1', summary, re.S)


def test_generations_list_sorts_and_filters_by_environment(seeded: Seeded) -> None:
    costliest = seeded.web.get(f"{LLM}generations/", params={"sort": "cost", "range": "all"})
    assert costliest.status_code == 200
    assert '<option value="cost" selected>' in costliest.text
    ids = re.findall(r'href="/default/default/llm/generations/([0-9a-f-]+)/"', costliest.text)
    rows = {r.event_id: r for r in trace_events(seeded.server, seeded.chat_trace)}
    costs = [rows[i].total_cost_usd for i in ids if i in rows]
    known = [c for c in costs if c is not None]
    assert len(known) >= 2 and known == sorted(known, reverse=True)
    production = seeded.web.get(f"{LLM}generations/", params={"environment": "nowhere"})
    assert "No generations match these filters." in production.text


def test_generations_are_found_by_the_words_of_their_prompts(seeded: Seeded) -> None:
    """Payloads are off for this project: the words of the prompts are not searchable,
    the model's name is."""
    by_model = seeded.web.get(f"{LLM}generations/", params={"q": "gpt 4o mini", "range": "all"})
    assert by_model.status_code == 200
    assert len(re.findall(r'class="generation-row', by_model.text)) >= 3
    prompt = seeded.web.get(f"{LLM}generations/", params={"q": "Capital of France"})
    assert "No generations match these filters." in prompt.text
    # The call stored while the project kept payloads (the feedback test's) is found
    # by the words of its completion.
    kept = seeded.web.get(f"{LLM}generations/", params={"q": "tracking depot"})
    assert len(re.findall(r'class="generation-row', kept.text)) == 1


def test_the_dashboard_narrows_to_an_environment_or_a_user(seeded: Seeded) -> None:
    """The OpenAI calls were sent with environment production and user user-42."""
    everything = seeded.web.get(LLM, params={"range": "24h"}).text
    total = int(re.search(r'data-kpi="requests">\s*([\d,]+)<', everything)[1].replace(",", ""))
    production = seeded.web.get(LLM, params={"range": "24h", "environment": "production"})
    assert production.status_code == 200 and 'id="filtered-notice"' in production.text
    narrowed = re.search(r'data-kpi="requests">\s*([\d,]+)<', production.text)
    assert narrowed and int(narrowed[1]) == 3 < total  # the three OpenAI calls, not the OTLP one
    assert 'data-model="gpt-4o-mini"' in production.text
    assert 'data-model="claude-sonnet-4-20250514"' not in production.text
    user = seeded.web.get(LLM, params={"range": "24h", "user": "user-42"}).text
    with server_store(seeded.server) as store:
        theirs, _ = store.llm_events(
            LlmEventFilter(seeded.server.project_id, distinct_id="user-42"), limit=100
        )
    assert int(re.search(r'data-kpi="requests">\s*([\d,]+)<', user)[1]) == len(theirs) >= 3
    nobody = seeded.web.get(LLM, params={"range": "24h", "release": "never-released"}).text
    assert re.search(r'data-kpi="requests">\s*0<', nobody)


def test_generations_and_dashboard_filter_by_a_property(seeded: Seeded) -> None:
    """The wrapper's calls carried posthog_properties {"environment": "production"}."""
    listed = seeded.web.get(
        f"{LLM}generations/", params={"where": "environment=production", "range": "all"}
    )
    assert len(re.findall(r'class="generation-row', listed.text)) == 3
    none = seeded.web.get(f"{LLM}generations/", params={"where": "environment!=production"})
    assert len(re.findall(r'class="generation-row', none.text)) >= 1  # the OTLP call
    dashboard = seeded.web.get(LLM, params={"range": "24h", "where": "environment=production"})
    assert re.search(r'data-kpi="requests">\s*3<', dashboard.text)


def test_sessions_page_narrows_to_a_user(seeded: Seeded) -> None:
    theirs = seeded.web.get(f"{LLM}sessions/", params={"user": "user-42"})
    assert theirs.status_code == 200 and "sess-1" in theirs.text
    nobody = seeded.web.get(f"{LLM}sessions/", params={"user": "nobody", "range": "30d"})
    assert nobody.status_code == 200 and "sess-1" not in nobody.text
