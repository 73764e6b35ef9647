"""Run one evaluator on one sample: the plain function every caller shares.

``evaluate(evaluator, sample, judge)`` is all there is: the background job
(:mod:`heliograph.evals.job`) calls it on sampled generations, on-demand runs
on filtered ones, and experiments can call it on their own results (a
:class:`Sample` is just input, output, expected and metadata). It never
raises for a bad sample or a bad judge answer: the :class:`Verdict` says
``scored``, ``skipped`` (nothing to judge, with the reason) or ``error``
(the judge failed or answered nonsense, with the reason).

A judge is any callable taking chat messages, a model and a token limit and
returning a :class:`JudgeReply`; :mod:`heliograph.evals.provider_judge`
makes one from the server's AI provider, tests pass a fake.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from heliograph.digest.costs import compute_cost
from heliograph.evals.checks import run_check
from heliograph.evals.definition import Evaluator
from heliograph.evals.judge import (
    JudgeAnswerError,
    build_judge_messages,
    parse_verdict,
    render_template,
)
from heliograph.llm_vocabulary import (
    AI_INPUT_TOKEN_PRICE,
    AI_INPUT_TOKENS,
    AI_MODEL,
    AI_OUTPUT_TOKEN_PRICE,
    AI_OUTPUT_TOKENS,
    AI_PROVIDER,
)

__all__ = ["Judge", "JudgeReply", "Sample", "Verdict", "evaluate", "judge_cost"]

Outcome = Literal["scored", "skipped", "error"]


@dataclass(frozen=True, slots=True)
class Sample:
    """What an evaluator judges: a generation's (or an experiment item's) text."""

    input: str | None
    output: str | None
    expected: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class JudgeReply:
    """One judge call: its answer (empty on error), usage and timing."""

    text: str
    model: str
    provider: str
    input_tokens: int = 0
    output_tokens: int = 0
    latency_s: float = 0.0
    error: str | None = None
    http_status: int | None = None
    base_url: str = ""


Judge = Callable[[Sequence[Mapping[str, str]], str, int], JudgeReply]


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one evaluator said about one sample.

    ``value``: the number (boolean: 1.0 or 0.0; categorical: 1.0 / 0.0 when
    the evaluator names passing categories, else None); ``label``: a
    categorical answer; ``passed``: against the evaluator's threshold (None:
    it has none); ``reasoning``: the judge's or the check's why, or why it
    was skipped or failed; ``reply``: the judge call, if one was made.
    """

    outcome: Outcome
    value: float | None = None
    label: str | None = None
    passed: bool | None = None
    reasoning: str = ""
    cost_usd: float = 0.0
    reply: JudgeReply | None = None


def judge_cost(evaluator: Evaluator, reply: JudgeReply) -> float:
    """What a judge call cost in USD: the evaluator's own token prices, else the price
    table (:func:`heliograph.digest.costs.compute_cost`); 0.0 when neither knows."""
    properties: dict[str, Any] = {
        AI_MODEL: reply.model,
        AI_PROVIDER: reply.provider,
        AI_INPUT_TOKENS: reply.input_tokens,
        AI_OUTPUT_TOKENS: reply.output_tokens,
    }
    for key, name in (
        ("input_token_price", AI_INPUT_TOKEN_PRICE),
        ("output_token_price", AI_OUTPUT_TOKEN_PRICE),
    ):
        if key in evaluator.config:
            properties[name] = evaluator.config[key]
    return compute_cost(properties).total_usd or 0.0


def _passed(evaluator: Evaluator, value: float | None) -> bool | None:
    if evaluator.threshold is not None and value is not None:
        return value >= evaluator.threshold
    return None


def evaluate(
    evaluator: Evaluator, sample: Sample, judge: Judge | None = None, *, model: str = ""
) -> Verdict:
    """Score ``sample`` with ``evaluator`` (``judge`` for ``llm_judge``; ``model`` is the
    judge model when the evaluator names none)."""
    if evaluator.deterministic:
        target = evaluator.config.get("target", "output")
        text = sample.input if target == "input" else sample.output
        if text is None:
            return Verdict("skipped", reasoning=f"no {target} text (payloads not kept?)")
        ok, why = run_check(evaluator.kind, evaluator.config, text)
        value = 1.0 if ok else 0.0
        return Verdict("scored", value, None, _passed(evaluator, value), why)
    if not sample.output:
        return Verdict("skipped", reasoning="no output text (payloads not kept?)")
    if judge is None:
        return Verdict("skipped", reasoning="no AI provider is configured for the judge")
    rendered = render_template(
        evaluator.config["template"],
        input=sample.input,
        output=sample.output,
        expected=sample.expected,
        metadata=sample.metadata,
    )
    messages = build_judge_messages(evaluator, rendered)
    reply = judge(messages, evaluator.model or model, int(evaluator.config.get("max_tokens", 512)))
    cost = judge_cost(evaluator, reply)
    if reply.error:
        return Verdict("error", reasoning=reply.error, cost_usd=cost, reply=reply)
    try:
        number, label, reasoning = parse_verdict(evaluator.output, reply.text)
    except JudgeAnswerError as exc:
        return Verdict("error", reasoning=str(exc), cost_usd=cost, reply=reply)
    passed = _passed(evaluator, number)
    return Verdict("scored", number, label, passed, reasoning, cost, reply)
