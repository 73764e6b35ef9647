"""``score()``: an ``$ai_score`` event naming a trace, a generation or a session."""

from __future__ import annotations

import logging
from typing import Any

import pytest

import heliograph_sdk


def scores(server: Any) -> list[dict[str, Any]]:
    assert heliograph_sdk.flush(5)
    return [e["properties"] for e in server.events() if e["event"] == "$ai_score"]


def test_a_score_names_the_generation_and_the_current_trace(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    with heliograph_sdk.trace("answer", session_id="s-1") as span:
        with heliograph_sdk.trace_generation("openai", "gpt-4o") as gen:
            pass
        on_call = gen.score("correct", True, comment="checked")
        on_trace = heliograph_sdk.score("helpfulness", 0.8)
    labelled = heliograph_sdk.score("tone", "friendly", trace_id="t-2", id="mine")
    by_name = {p["$ai_score_name"]: p for p in scores(server)}
    call = by_name["correct"]
    assert call["$ai_score_id"] == on_call and call["$ai_score_value"] is True
    assert (call["$ai_trace_id"], call["$ai_span_id"]) == (span.trace_id, gen.span_id)
    assert call["$ai_score_comment"] == "checked" and call["$ai_score_source"] == "sdk"
    trace = by_name["helpfulness"]
    assert trace["$ai_score_id"] == on_trace and trace["$ai_trace_id"] == span.trace_id
    assert trace["$ai_session_id"] == "s-1" and "$ai_span_id" not in trace
    assert labelled == "mine" and by_name["tone"]["$ai_trace_id"] == "t-2"


@pytest.mark.parametrize(
    ("args", "kwargs", "reason"),
    [
        (("x", 1), {}, "needs a trace"),
        (("x", float("nan")), {"trace_id": "t"}, "finite"),
        (("x", [1]), {"trace_id": "t"}, "number, a bool or a label"),
        (("", 1), {"trace_id": "t"}, "needs a name"),
        (("x", 1), {"trace_id": "t", "data_type": "stars"}, "data_type"),
        (("x", 1), {"trace_id": "t", "source": "api"}, "source"),
    ],
)
def test_a_score_that_cannot_be_sent_is_logged_not_raised(
    sdk,
    caplog: pytest.LogCaptureFixture,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    reason: str,
) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    with caplog.at_level(logging.WARNING, logger="heliograph_sdk"):
        assert heliograph_sdk.score(*args, **kwargs) is None
    assert reason in caplog.text
    assert scores(server) == []


def test_score_is_a_no_op_when_off() -> None:
    heliograph_sdk.shutdown()
    assert heliograph_sdk.score("x", 1, trace_id="t") is None
