"""LLM tracing: generations, spans, traces, nesting across tasks and threads."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from typing import Any

import pytest

import heliograph_sdk
from heliograph_sdk._clip import clip_payload, clip_text


def by_name(server: Any) -> dict[str, list[dict[str, Any]]]:
    assert heliograph_sdk.flush(5)
    out: dict[str, list[dict[str, Any]]] = {}
    for event in server.events():
        out.setdefault(event["event"], []).append(event["properties"])
    return out


def test_generation_properties_without_payloads(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    with heliograph_sdk.trace_generation(
        "openai",
        "gpt-4o-mini",
        input=[{"role": "user", "content": "secret prompt"}],
        model_parameters={"temperature": 0.2, "max_tokens": 50},
        customer="acme",
    ) as gen:
        gen.set_output([{"role": "assistant", "content": "secret answer"}])
        gen.set_tokens(10, 5, cache_read=2, cache_creation=1, reasoning=3)
        gen.set_http_status(200)
        gen.set_model("gpt-4o-mini-2024-07-18")
        gen.set_cost(total=0.001)
        gen.set_stop_reason("stop")
    (props,) = by_name(server)["$ai_generation"]
    assert props["$ai_provider"] == "openai"
    assert props["$ai_model"] == "gpt-4o-mini-2024-07-18"
    assert props["$ai_input"] is None and props["$ai_output_choices"] is None  # privacy default
    assert props["$ai_input_tokens"] == 10
    assert props["$ai_output_tokens"] == 5
    assert props["$ai_cache_read_input_tokens"] == 2
    assert props["$ai_cache_creation_input_tokens"] == 1
    assert props["$ai_reasoning_tokens"] == 3
    assert props["$ai_http_status"] == 200
    assert props["$ai_is_error"] is False
    assert props["$ai_temperature"] == 0.2
    assert props["$ai_max_tokens"] == 50
    assert props["$ai_model_parameters"] == {"temperature": 0.2, "max_tokens": 50}
    assert props["$ai_total_cost_usd"] == 0.001
    assert props["$ai_stop_reason"] == "stop"
    assert isinstance(props["$ai_latency"], float) and props["$ai_latency"] >= 0
    assert props["customer"] == "acme"
    assert len(props["$ai_trace_id"]) == 32
    assert "$ai_parent_id" not in props


def test_generation_error_variant_reraises(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk()

    class RateLimited(Exception):
        status_code = 429

    with pytest.raises(RateLimited), heliograph_sdk.trace_generation("openai", "m"):
        raise RateLimited("slow down")
    with pytest.raises(ValueError), heliograph_sdk.trace_generation("openai", "m"):
        raise ValueError("bad")
    limited, local = by_name(server)["$ai_generation"]
    assert limited["$ai_is_error"] is True
    assert limited["$ai_error"] == "RateLimited: slow down"
    assert limited["$ai_http_status"] == 429
    assert local["$ai_http_status"] == 0


def test_payloads_clipped_with_marker(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk(llm_payloads=True, llm_payload_max_chars=100)
    long_text = "a" * 250
    with heliograph_sdk.trace_generation(
        "anthropic", "claude", input=[{"role": "user", "content": long_text}]
    ) as gen:
        gen.set_output([{"role": "assistant", "content": "short"}])
    (props,) = by_name(server)["$ai_generation"]
    content = props["$ai_input"][0]["content"]
    assert content == "a" * 100 + "…[truncated 150 chars]"
    assert props["$ai_input"][0]["role"] == "user"
    assert props["$ai_output_choices"] == [{"role": "assistant", "content": "short"}]


def test_payload_env_flags(server, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HELIOGRAPH_API_KEY", "k")
    monkeypatch.setenv("HELIOGRAPH_HOST", server.url)
    monkeypatch.setenv("HELIOGRAPH_LLM_PAYLOADS", "on")
    monkeypatch.setenv("HELIOGRAPH_LLM_PAYLOAD_MAX_CHARS", "10")
    heliograph_sdk.capture("boot")  # configures from the environment
    with heliograph_sdk.trace_generation("openai", "m", input="0123456789ABC"):
        pass
    (props,) = by_name(server)["$ai_generation"]
    assert props["$ai_input"] == "0123456789…[truncated 3 chars]"


def test_clip_budget_is_shared() -> None:
    assert clip_text("abc", 5) == "abc"
    clipped = clip_payload([{"role": "user", "content": "x" * 8}] * 3, 10)
    assert [m["content"] for m in clipped] == [
        "x" * 8,
        "xx…[truncated 6 chars]",
        "…[truncated 8 chars]",
    ]
    assert all(m["role"] == "user" for m in clipped)


def test_trace_with_spans_and_totals(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    with heliograph_sdk.trace("nightly-eval", suite="smoke") as t:
        with (
            heliograph_sdk.trace("retrieve") as span,
            heliograph_sdk.trace_generation("openai", "m1") as gen,
        ):
            gen.set_tokens(100, 20)
            gen.set_cost(total=0.5)
        with heliograph_sdk.trace_generation("anthropic", "m2") as gen2:
            gen2.set_tokens(7, 3)
        t.set(verdict="pass")
    events = by_name(server)
    (root,) = events["$ai_trace"]
    (child,) = events["$ai_span"]
    first, second = events["$ai_generation"]
    assert root["$ai_trace_id"] == t.trace_id == root["$ai_span_id"]
    assert root["$ai_trace_name"] == "nightly-eval"
    assert root["verdict"] == "pass"
    assert root["suite"] == "smoke"
    assert root["$ai_input_tokens"] == 107
    assert root["$ai_output_tokens"] == 23
    assert root["$ai_total_cost_usd"] == 0.5
    assert root["$ai_generation_count"] == 2
    assert root["$ai_is_error"] is False
    assert "$ai_parent_id" not in root
    assert child["$ai_parent_id"] == t.trace_id
    assert child["$ai_span_name"] == "retrieve"
    assert child["$ai_span_id"] == span.span_id
    assert first["$ai_parent_id"] == span.span_id
    assert second["$ai_parent_id"] == t.trace_id
    assert {p["$ai_trace_id"] for p in (child, first, second)} == {t.trace_id}


def test_trace_error_is_recorded_and_reraised(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    with pytest.raises(ZeroDivisionError), heliograph_sdk.trace("failing"):
        _ = 1 / 0
    (root,) = by_name(server)["$ai_trace"]
    assert root["$ai_is_error"] is True
    assert root["$ai_error"] == "ZeroDivisionError: division by zero"


def test_observe_sync_and_async_nesting_across_tasks(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk(llm_payloads=True)

    @heliograph_sdk.observe
    def tokenize(text: str) -> list[str]:
        return text.split()

    @heliograph_sdk.observe(name="answer", kind="llm")
    async def answer(question: str) -> str:
        await asyncio.sleep(0)
        with heliograph_sdk.trace_generation("openai", "m") as gen:
            gen.set_tokens(1, 1)
        return f"answer to {question}"

    @heliograph_sdk.observe(name="pipeline")
    async def pipeline() -> list[str]:
        tokenize("a b")
        return list(await asyncio.gather(answer("q1"), answer("q2")))

    assert asyncio.run(pipeline()) == ["answer to q1", "answer to q2"]
    events = by_name(server)
    (root,) = events["$ai_trace"]
    spans = {(s["$ai_span_name"], s["$ai_parent_id"]) for s in events["$ai_span"]}
    trace_id = root["$ai_trace_id"]
    assert spans == {
        ("test_observe_sync_and_async_nesting_across_tasks.<locals>.tokenize", trace_id),
        ("answer", trace_id),
    }
    answer_spans = [s for s in events["$ai_span"] if s["$ai_span_name"] == "answer"]
    assert len(answer_spans) == 2 and all(s["kind"] == "llm" for s in answer_spans)
    parents = {g["$ai_parent_id"] for g in events["$ai_generation"]}
    assert parents == {s["$ai_span_id"] for s in answer_spans}
    assert root["$ai_generation_count"] == 2
    assert root["$ai_output_state"] == ["answer to q1", "answer to q2"]
    assert answer_spans[0]["$ai_input_state"]["args"][0] in ("q1", "q2")


def test_nesting_across_threads_with_copied_context(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    with heliograph_sdk.trace("fan-out") as t:
        threads = []
        for i in range(3):
            context = contextvars.copy_context()

            def work(i: int = i) -> None:
                with (
                    heliograph_sdk.trace(f"worker-{i}"),
                    heliograph_sdk.trace_generation("p", "m") as g,
                ):
                    g.set_tokens(i, 0)

            threads.append(threading.Thread(target=context.run, args=(work,)))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    events = by_name(server)
    assert {s["$ai_parent_id"] for s in events["$ai_span"]} == {t.trace_id}
    assert {g["$ai_trace_id"] for g in events["$ai_generation"]} == {t.trace_id}
    (root,) = events["$ai_trace"]
    assert root["$ai_input_tokens"] == 0 + 1 + 2


def test_threads_without_copied_context_start_their_own_trace(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    with heliograph_sdk.trace("outer") as t:
        thread = threading.Thread(target=lambda: heliograph_sdk.trace("alone").__enter__().finish())
        thread.start()
        thread.join()
    traces = by_name(server)["$ai_trace"]
    assert {p["$ai_trace_name"] for p in traces} == {"outer", "alone"}
    assert len({p["$ai_trace_id"] for p in traces}) == 2
    assert t.trace_id in {p["$ai_trace_id"] for p in traces}


def test_current_span_outside_is_none() -> None:
    assert heliograph_sdk.current_span() is None
    with heliograph_sdk.trace("x") as t:
        assert heliograph_sdk.current_span() is t
    assert heliograph_sdk.current_span() is None


def test_callback_driven_spans_take_explicit_parent_scope_and_times(sdk) -> None:  # type: ignore[no-untyped-def]
    """What the agent integrations rely on: a tree built from callbacks, not the context."""
    import time
    from datetime import datetime

    from heliograph_sdk._agent_common import open_root
    from heliograph_sdk._generation import Generation
    from heliograph_sdk._tracing import Span

    server = sdk()
    heliograph_sdk.set_user("owner")
    began = time.perf_counter()
    root = open_root("run", "test", start_time=began - 2.0)
    assert heliograph_sdk.current_span() is None  # start() leaves the context alone
    child = Span("tool", parent=root).start()
    gen = Generation("openai", "m", parent=child, start_time=began - 1.0)
    gen.set_tokens(3, 4)
    heliograph_sdk.set_user("someone-else")  # a later change must not reach this tree
    ended = time.perf_counter() - 0.5
    gen.finish(end=ended)
    child.finish()
    root.finish()
    assert heliograph_sdk.flush(5)
    events = {e["event"]: e for e in server.events()}
    trace, span, generation = events["$ai_trace"], events["$ai_span"], events["$ai_generation"]
    assert {trace["distinct_id"], span["distinct_id"], generation["distinct_id"]} == {"owner"}
    assert span["properties"]["$ai_parent_id"] == trace["properties"]["$ai_span_id"]
    assert generation["properties"]["$ai_parent_id"] == span["properties"]["$ai_span_id"]
    assert trace["properties"]["$ai_generation_count"] == 1
    assert trace["properties"]["$ai_latency"] >= 2.0
    assert generation["properties"]["$ai_latency"] == pytest.approx(0.5, abs=0.05)
    # Sent after the fact, stamped when it ended: half a second before the span.
    stamp = datetime.fromisoformat(generation["timestamp"]).timestamp()
    assert datetime.fromisoformat(span["timestamp"]).timestamp() - stamp >= 0.45
