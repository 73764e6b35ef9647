"""Evaluators without a server: definitions, the deterministic checks, the judge's
prompt and answers, and ``evaluate`` as the plain function experiments call."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from heliograph.evals.definition import EvaluatorError, make_evaluator
from heliograph.evals.engine import JudgeReply, Sample, evaluate
from heliograph.evals.judge import JudgeAnswerError, parse_verdict, render_template
from heliograph.evals.regression import Group, RegressionWindows, regresses
from heliograph.evals.samples import generation_sample, matches
from heliograph.model import Event


def check(kind: str, config: dict[str, Any], output: str | None, **extra: Any) -> Any:
    evaluator = make_evaluator(1, {"name": "c", "kind": kind, "config": config, **extra})
    return evaluate(evaluator, Sample(input="question", output=output))


@pytest.mark.parametrize(
    ("config", "output", "passed"),
    [
        ({"pattern": r"order #\d+"}, "Your order #123 ships", True),
        ({"pattern": r"order #\d+"}, "no number here", False),
        ({"pattern": r"(?i)as an ai", "must_match": False}, "As an AI I cannot", False),
        ({"pattern": r"(?i)as an ai", "must_match": False}, "Sure, here it is", True),
    ],
)
def test_regex(config: dict[str, Any], output: str, passed: bool) -> None:
    verdict = check("regex", config, output)
    assert (verdict.outcome, verdict.passed, verdict.value) == ("scored", passed, float(passed))


def test_regex_refuses_patterns_re2_cannot_run() -> None:
    with pytest.raises(EvaluatorError, match="RE2"):
        make_evaluator(1, {"name": "r", "kind": "regex", "config": {"pattern": r"(a)\1"}})


SCHEMA = {
    "type": "object",
    "required": ["answer", "confidence"],
    "properties": {"answer": {"type": "string"}, "confidence": {"type": "number"}},
}


@pytest.mark.parametrize(
    ("output", "passed", "reason"),
    [
        ('{"answer": "yes", "confidence": 0.9}', True, "valid"),
        ('```json\n{"answer": "yes", "confidence": 1}\n```', True, "valid"),
        ('{"answer": "yes"}', False, "'confidence' is a required property"),
        ('{"answer": "yes", "confidence": "high"}', False, "$.confidence"),
        ("Sure! Here is the JSON: {", False, "not valid JSON"),
    ],
)
def test_json_schema(output: str, passed: bool, reason: str) -> None:
    verdict = check("json_schema", {"schema": SCHEMA}, output)
    assert verdict.passed is passed
    assert reason in verdict.reasoning


def test_json_schema_refuses_an_invalid_schema() -> None:
    with pytest.raises(EvaluatorError, match="JSON Schema"):
        make_evaluator(
            1, {"name": "j", "kind": "json_schema", "config": {"schema": {"type": "nope"}}}
        )


def test_length_and_contains() -> None:
    assert check("length", {"max": 10}, "short").passed is True
    too_long = check("length", {"max": 3, "unit": "words"}, "one two three four")
    assert too_long.passed is False and "more than 3" in too_long.reasoning
    assert check("length", {"min": 10}, "short").passed is False
    assert check("contains", {"values": ["Refund"]}, "your refund is on its way").passed
    assert not check("contains", {"values": ["refund", "days"], "mode": "all"}, "refund").passed
    banned = check("contains", {"values": ["password"], "mode": "none"}, "your PASSWORD is")
    assert banned.passed is False and "password" in banned.reasoning
    with pytest.raises(EvaluatorError):
        make_evaluator(1, {"name": "l", "kind": "length", "config": {}})


def test_a_check_without_text_is_skipped_with_its_reason() -> None:
    verdict = check("length", {"max": 10}, None)
    assert verdict.outcome == "skipped" and "payloads" in verdict.reasoning


def test_templates_fill_variables_and_metadata() -> None:
    text = render_template(
        "Q: {{ input }} A: {{output}} E: {{expected}} T: {{metadata.tier}} X: {{unknown}}",
        input="why?",
        output="because",
        expected=None,
        metadata={"tier": "gold"},
    )
    assert text == "Q: why? A: because E:  T: gold X: "


NUMERIC = {"type": "numeric", "min": 0.0, "max": 1.0}


@pytest.mark.parametrize(
    ("output", "text", "expected"),
    [
        (NUMERIC, '{"score": 0.8, "reasoning": "good"}', (0.8, None, "good")),
        (
            NUMERIC,
            'Sure!\n```json\n{"score": "0.25", "reasoning": "meh"}\n```',
            (0.25, None, "meh"),
        ),
        (NUMERIC, 'Verdict: {"score": 1, "reason": "ok"} done', (1.0, None, "ok")),
        ({"type": "boolean"}, '{"score": false, "reasoning": "wrong"}', (0.0, None, "wrong")),
        ({"type": "boolean"}, '{"score": "yes"}', (1.0, None, "")),
        (
            {"type": "categorical", "categories": ["good", "bad"], "passing": ["good"]},
            '{"score": "Bad", "reasoning": "rude"}',
            (0.0, "bad", "rude"),
        ),
    ],
)
def test_judge_answers_are_read_robustly(
    output: dict[str, Any], text: str, expected: tuple[Any, ...]
) -> None:
    assert parse_verdict(output, text) == expected


@pytest.mark.parametrize(
    ("output", "text"),
    [
        (NUMERIC, "I think it is pretty good"),
        (NUMERIC, '{"reasoning": "no score"}'),
        (NUMERIC, '{"score": 7}'),
        (NUMERIC, '{"score": "high"}'),
        ({"type": "boolean"}, '{"score": 0.5}'),
        ({"type": "categorical", "categories": ["a", "b"]}, '{"score": "c"}'),
    ],
)
def test_malformed_judge_answers_are_refused(output: dict[str, Any], text: str) -> None:
    with pytest.raises(JudgeAnswerError):
        parse_verdict(output, text)


class FakeJudge:
    def __init__(self, text: str, error: str | None = None) -> None:
        self.text, self.error = text, error
        self.calls: list[tuple[list[Mapping[str, str]], str, int]] = []

    def __call__(self, messages: Sequence[Mapping[str, str]], model: str, limit: int) -> JudgeReply:
        self.calls.append((list(messages), model, limit))
        return JudgeReply(self.text, model, "openai", 1000, 100, 0.1, self.error)


def judge_evaluator(**extra: Any) -> Any:
    return make_evaluator(
        1,
        {
            "name": "helpfulness",
            "kind": "llm_judge",
            "config": {
                "template": "Input: {{input}}\nOutput: {{output}}\nPlan: {{metadata.plan}}",
                "input_token_price": 0.000001,
                "output_token_price": 0.000002,
            },
            "threshold": 0.5,
            **extra,
        },
    )


def test_evaluate_with_a_judge_is_a_plain_function() -> None:
    judge = FakeJudge('{"score": 0.2, "reasoning": "ignores the question"}')
    sample = Sample(input="How do I reset?", output="Bananas.", metadata={"plan": "pro"})
    verdict = evaluate(judge_evaluator(model="judge-1"), sample, judge)
    assert (verdict.outcome, verdict.value, verdict.passed) == ("scored", 0.2, False)
    assert verdict.reasoning == "ignores the question"
    assert verdict.cost_usd == pytest.approx(1000 * 0.000001 + 100 * 0.000002)
    [(messages, model, _)] = judge.calls
    assert model == "judge-1"
    assert "Bananas." in messages[1]["content"] and "Plan: pro" in messages[1]["content"]
    assert '"score"' in messages[0]["content"] and "0 to 1" in messages[0]["content"]


def test_judge_failures_are_errors_never_crashes() -> None:
    sample = Sample(input="q", output="a")
    broken = evaluate(judge_evaluator(), sample, FakeJudge("I refuse"))
    assert broken.outcome == "error" and "no JSON" in broken.reasoning
    assert broken.cost_usd > 0  # the call was paid for all the same
    down = evaluate(judge_evaluator(), sample, FakeJudge("", error="HTTP 500"))
    assert down.outcome == "error" and down.reasoning == "HTTP 500"
    assert evaluate(judge_evaluator(), sample, None).outcome == "skipped"
    assert evaluate(judge_evaluator(), Sample(input="q", output=None), FakeJudge("")).outcome == (
        "skipped"
    )


def test_definitions_are_checked() -> None:
    for bad in (
        {"name": "x y", "kind": "regex", "config": {"pattern": "a"}},
        {"name": "x", "kind": "magic"},
        {"name": "x", "kind": "llm_judge", "sampling_rate": 2},
        {"name": "x", "kind": "llm_judge", "output": {"type": "numeric", "min": 1, "max": 0}},
        {"name": "x", "kind": "llm_judge", "output": {"type": "categorical", "categories": ["a"]}},
        {"name": "x", "kind": "llm_judge", "filter": {"property_key": "tier"}},
    ):
        with pytest.raises(EvaluatorError):
            make_evaluator(1, bad)
    defaults = make_evaluator(1, {"name": "x", "kind": "llm_judge"})
    assert (
        defaults.threshold is None
        and defaults.window == 5
        and "{{output}}" in (defaults.config["template"])
    )
    boolean = make_evaluator(1, {"name": "x", "kind": "contains", "config": {"values": ["a"]}})
    assert (boolean.threshold, boolean.window, boolean.output_type) == (0.5, 1, "boolean")


def generation(**props: Any) -> Event:
    return Event(project_id=1, event_id="e1", timestamp=0.0, kind="analytics",
                 name="$ai_generation", properties=props)  # fmt: skip


def test_a_generation_becomes_a_sample() -> None:
    event = generation(**{
        "$ai_input": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
        ],
        "$ai_output_choices": [{"role": "assistant", "content": "Hello!"}],
        "$ai_model": "gpt-4o-mini",
        "$ai_prompt_name": "greet",
        "tier": "gold",
    })  # fmt: skip
    sample = generation_sample(event)
    assert sample.input == "system: Be brief.\n\nuser: Hi"
    assert sample.output == "Hello!"
    assert sample.metadata["tier"] == "gold" and "$ai_input" not in sample.metadata
    assert generation_sample(generation(**{"$ai_model": "m"})).output is None
    filters = make_evaluator(1, {
        "name": "x", "kind": "llm_judge",
        "filter": {"prompt_name": "greet", "property_key": "tier", "property_value": "gold"},
    }).filter  # fmt: skip
    assert matches(filters, event.properties)
    assert not matches(filters, {**event.properties, "tier": "free"})


def test_a_group_regresses_only_once_its_window_mean_is_low() -> None:
    evaluator = judge_evaluator(window=3)
    windows = RegressionWindows()
    group = Group("support", "2", "gpt")
    low = evaluate(evaluator, Sample("q", "a"), FakeJudge('{"score": 0.1}'))
    high = evaluate(evaluator, Sample("q", "a"), FakeJudge('{"score": 0.9}'))
    # A full window is needed; then one low score among high ones opens nothing.
    assert windows.observe(evaluator, group, 0.1, seed=[0.9, 0.9]) == pytest.approx(1.9 / 3)
    assert not regresses(evaluator, low, 1.9 / 3)
    assert windows.observe(evaluator, group, 0.1) == pytest.approx(1.1 / 3)
    assert regresses(evaluator, low, 1.1 / 3)
    assert not regresses(evaluator, high, 0.1)  # a passing generation adds no event
    other = Group("support", "3", "gpt")
    assert windows.observe(evaluator, other, 0.1) is None


def test_the_ai_fix_sees_the_prompt_the_outputs_and_the_reasons() -> None:
    from heliograph.ai.describe import build_messages, describe_event
    from heliograph.evals.regression import regression_event

    evaluator = make_evaluator(1, {
        "name": "valid-json", "kind": "json_schema",
        "config": {"schema": {"type": "object", "required": ["answer"]}},
    })  # fmt: skip
    event = generation(**{
        "$ai_prompt_name": "support", "$ai_prompt_version": 3, "$ai_model": "gpt-4o-mini",
        "$ai_output_choices": [{"role": "assistant", "content": "Sorry " * 1000}],
    })  # fmt: skip
    sample = generation_sample(event)
    verdict = evaluate(evaluator, sample)
    payload = regression_event(
        evaluator, event, sample, verdict, mean=0.0, prompt="Answer as JSON: {{q}}",
        generation_url="/g/",
    )  # fmt: skip
    error = Event(project_id=1, event_id="x", timestamp=0.0, message=payload["message"],
                  contexts=payload["contexts"])  # fmt: skip
    description = describe_event(error, budget_tokens=2000)
    quality = description.data["llm_quality"]
    assert quality["prompt"] == "Answer as JSON: {{q}}" and quality["prompt_version"] == "3"
    assert "not valid JSON" in quality["reasoning"] and quality["output"].startswith("Sorry")
    assert description.tokens <= 2000
    system = build_messages(description)[0]["content"]
    assert '"llm_quality"' in system and "prompt" in system
    tiny = describe_event(error, budget_tokens=200)
    assert "llm_quality" in tiny.data  # clipped, never dropped
