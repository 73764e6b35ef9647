"""The demo's LLM traces: five agent scenarios, sent as PostHog LLM analytics events.

Each scenario lays its calls out on a clock: a child starts when its
previous sibling ends, a span lasts as long as what it contains, and every
event is stamped at its end with its ``$ai_latency``, as the PostHog SDK's
wrappers capture them. Parents are linked with ``$ai_parent_id`` (the trace
id for top-level calls, as PostHog clients do).
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from heliograph.demo.catalog import (
    ANSWERS,
    CHAT_MODELS,
    EMBEDDING_MODEL,
    QUESTIONS,
    UNPRICED_MODEL,
)
from heliograph.llm_vocabulary import (
    AI_BASE_URL,
    AI_CACHE_READ_INPUT_TOKENS,
    AI_EMBEDDING,
    AI_ERROR,
    AI_GENERATION,
    AI_HTTP_STATUS,
    AI_INPUT,
    AI_INPUT_STATE,
    AI_INPUT_TOKENS,
    AI_IS_ERROR,
    AI_LATENCY,
    AI_MODEL,
    AI_OUTPUT_CHOICES,
    AI_OUTPUT_STATE,
    AI_OUTPUT_TOKENS,
    AI_PARENT_ID,
    AI_PROVIDER,
    AI_SESSION_ID,
    AI_SPAN,
    AI_SPAN_ID,
    AI_SPAN_NAME,
    AI_STREAM,
    AI_TIME_TO_FIRST_TOKEN,
    AI_TRACE,
    AI_TRACE_ID,
)

__all__ = ["PaymentFailure", "TraceBuilder", "build_trace"]

Model = tuple[str, str, float, bool]


@dataclass(frozen=True, slots=True)
class PaymentFailure:
    moment: float
    span_id: str


@dataclass
class TraceBuilder:
    """One trace's events, built call by call."""

    rng: random.Random
    start: float
    user: str
    session: str
    release: str
    events: list[dict[str, Any]] = field(default_factory=list)
    failed_payment: PaymentFailure | None = None

    def __post_init__(self) -> None:
        self.trace_id = self.hex(16)
        self.end = self.start
        self.order = self.rng.randint(10000, 99999)

    def hex(self, nbytes: int) -> str:
        return f"{self.rng.getrandbits(nbytes * 8):0{nbytes * 2}x}"

    def _event(self, name: str, end: float, properties: dict[str, Any]) -> None:
        self.end = max(self.end, end)
        self.events.append(
            {
                "event": name,
                "distinct_id": self.user,
                "uuid": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
                "timestamp": datetime.fromtimestamp(end, tz=timezone.utc).isoformat(),
                "properties": {
                    AI_TRACE_ID: self.trace_id,
                    AI_SESSION_ID: self.session,
                    "$lib": "posthog-python",
                    "environment": "production",
                    "release": self.release,
                    **properties,
                },
            }
        )

    def span(
        self,
        name: str,
        parent: str,
        start: float,
        end: float,
        *,
        span_id: str | None = None,
        error: str | None = None,
        state: dict[str, Any] | None = None,
    ) -> str:
        span_id = span_id or self.hex(8)
        properties: dict[str, Any] = {
            AI_SPAN_ID: span_id,
            AI_PARENT_ID: parent,
            AI_SPAN_NAME: name,
            AI_LATENCY: round(end - start, 4),
        }
        if state:
            properties[AI_INPUT_STATE] = state
        if error:
            properties[AI_IS_ERROR] = True
            properties[AI_ERROR] = error
        self._event(AI_SPAN, end, properties)
        return span_id

    def generation(
        self,
        model: Model,
        parent: str,
        start: float,
        *,
        name: str | None = None,
        tokens_in: tuple[int, int] = (400, 2500),
        fail_status: int | None = None,
    ) -> float:
        """One model call starting at ``start``; returns when it ended."""
        rng = self.rng
        model_name, provider, median, streams = model
        latency = median * math.exp(rng.gauss(0, 0.45))
        question = rng.choice(QUESTIONS).format(n=self.order)
        answer = rng.choice(ANSWERS).format(n=self.order)
        properties: dict[str, Any] = {
            AI_SPAN_ID: self.hex(8),
            AI_PARENT_ID: parent,
            AI_MODEL: model_name,
            AI_PROVIDER: provider,
            AI_LATENCY: round(latency, 4),
            AI_HTTP_STATUS: fail_status or 200,
            AI_BASE_URL: f"https://api.{provider}.com/v1",
            AI_INPUT: [
                {"role": "system", "content": "You are Acme's support assistant. Be brief."},
                {"role": "user", "content": question},
            ],
            AI_INPUT_TOKENS: 0 if fail_status else rng.randint(*tokens_in),
        }
        if name:
            properties[AI_SPAN_NAME] = name
        if fail_status:
            latency = min(latency, 0.4)
            properties[AI_LATENCY] = round(latency, 4)
            properties[AI_IS_ERROR] = True
            properties[AI_ERROR] = (
                f"Error code: {fail_status} - Rate limit reached for {model_name}"
            )
            properties[AI_OUTPUT_TOKENS] = 0
        else:
            properties[AI_OUTPUT_CHOICES] = [{"role": "assistant", "content": answer}]
            properties[AI_OUTPUT_TOKENS] = rng.randint(40, 600)
            if streams:
                properties[AI_STREAM] = True
                properties[AI_TIME_TO_FIRST_TOKEN] = round(latency * rng.uniform(0.12, 0.3), 4)
            if provider == "anthropic" and rng.random() < 0.6:
                properties[AI_CACHE_READ_INPUT_TOKENS] = rng.randint(500, 2000)
        self._event(AI_GENERATION, start + latency, properties)
        return start + latency

    def embedding(self, parent: str, start: float) -> float:
        model_name, provider, median, _ = EMBEDDING_MODEL
        latency = median * math.exp(self.rng.gauss(0, 0.3))
        properties = {
            AI_SPAN_ID: self.hex(8),
            AI_PARENT_ID: parent,
            AI_MODEL: model_name,
            AI_PROVIDER: provider,
            AI_LATENCY: round(latency, 4),
            AI_INPUT_TOKENS: self.rng.randint(8, 60),
            AI_HTTP_STATUS: 200,
        }
        self._event(AI_EMBEDDING, start + latency, properties)
        return start + latency

    def trace(self, name: str, question: str, answer: str | None) -> None:
        """The ``$ai_trace`` event closing the trace (sent last, like the SDKs do)."""
        properties: dict[str, Any] = {
            AI_SPAN_NAME: name,
            AI_LATENCY: round(self.end - self.start, 4),
            AI_INPUT_STATE: {"question": question},
        }
        if answer is not None:
            properties[AI_OUTPUT_STATE] = {"answer": answer}
        self._event(AI_TRACE, self.end, properties)


def _gap(rng: random.Random) -> float:
    return rng.uniform(0.005, 0.06)


def _tool(b: TraceBuilder, name: str, parent: str, start: float, median: float) -> float:
    end = start + median * math.exp(b.rng.gauss(0, 0.5))
    b.span(f"tool: {name}", parent, start, end, state={"order_id": b.order})
    return end


def support_agent(b: TraceBuilder) -> None:
    rng, root = b.rng, b.trace_id
    classify = b.hex(8)
    t = b.start
    end = b.generation(
        CHAT_MODELS[0], classify, t + 0.01, name="classify intent", tokens_in=(200, 600)
    )
    b.span("classify", root, t, end + 0.005, span_id=classify)
    t = _tool(b, "lookup_order", root, end + _gap(rng), 0.12)
    b.generation(rng.choice(CHAT_MODELS[1:4]), root, t + _gap(rng), name="answer")
    b.trace(
        "support-agent",
        rng.choice(QUESTIONS).format(n=b.order),
        rng.choice(ANSWERS).format(n=b.order),
    )


def docs_qa(b: TraceBuilder) -> None:
    rng, root = b.rng, b.trace_id
    retrieve = b.hex(8)
    t = b.embedding(retrieve, b.start + 0.005)
    t += 0.02 + rng.uniform(0.01, 0.12)  # the vector search itself
    b.span("retrieve", root, b.start, t, span_id=retrieve, state={"top_k": 8})
    b.generation(
        rng.choice((CHAT_MODELS[0], CHAT_MODELS[4])),
        root,
        t + _gap(rng),
        name="answer with sources",
        tokens_in=(1500, 6000),
    )
    b.trace(
        "docs-qa", rng.choice(QUESTIONS).format(n=b.order), rng.choice(ANSWERS).format(n=b.order)
    )


def research_agent(b: TraceBuilder) -> None:
    """An agent loop: steps of think-then-act, the first call sometimes rate limited."""
    rng, root = b.rng, b.trace_id
    loop = b.hex(8)
    t = b.start + 0.01
    for step in range(1, rng.randint(2, 4) + 1):
        span_id, step_start = b.hex(8), t
        if rng.random() < 0.2:
            t = b.generation(CHAT_MODELS[1], span_id, t, name="plan", fail_status=429)
            t += rng.uniform(0.5, 2.0)  # back off, then retry
            t = b.generation(CHAT_MODELS[1], span_id, t, name="plan (retry 1)")
        else:
            t = b.generation(CHAT_MODELS[1], span_id, t, name="plan")
        t = _tool(
            b, rng.choice(("web_search", "fetch_url", "read_docs")), span_id, t + _gap(rng), 0.6
        )
        b.span(f"step {step}", loop, step_start, t + 0.005, span_id=span_id)
        t += _gap(rng)
    t = b.generation(CHAT_MODELS[2], loop, t, name="write report", tokens_in=(3000, 9000))
    b.span("agent loop", root, b.start, t + 0.01, span_id=loop)
    b.trace(
        "research-agent",
        "Summarise this week's refund complaints",
        "Report: three recurring causes...",
    )


def checkout_assistant(b: TraceBuilder) -> None:
    """A purchase flow whose payment tool fails about a third of the time."""
    rng, root = b.rng, b.trace_id
    t = b.generation(CHAT_MODELS[3], root, b.start, name="confirm basket")
    start = t + _gap(rng)
    end = start + 0.3 * math.exp(rng.gauss(0, 0.4))
    failed = rng.random() < 0.35
    error = "PaymentGatewayError: card declined by issuer (code 51: insufficient funds)"
    span_id = b.span(
        "tool: charge_card",
        root,
        start,
        end,
        error=error if failed else None,
        state={"amount_eur": rng.randint(12, 240)},
    )
    if failed:
        b.failed_payment = _failure(end, span_id)
    b.generation(
        CHAT_MODELS[3], root, end + _gap(rng), name="apologise" if failed else "confirm order"
    )
    b.trace("checkout-assistant", "Buy the items in my basket", None if failed else "Order placed.")


def _failure(moment: float, span_id: str) -> PaymentFailure:
    return PaymentFailure(moment, span_id)


def batch_summarizer(b: TraceBuilder) -> None:
    """A self-hosted model, no ``$ai_trace`` event: a pseudo-trace with an unknown cost."""
    t = b.start
    for chunk in range(1, b.rng.randint(2, 4) + 1):
        t = b.generation(UNPRICED_MODEL, b.trace_id, t, name=f"summarize chunk {chunk}") + _gap(
            b.rng
        )


SCENARIOS = (
    (support_agent, 40),
    (docs_qa, 25),
    (research_agent, 15),
    (checkout_assistant, 10),
    (batch_summarizer, 10),
)


def build_trace(builder: TraceBuilder) -> None:
    """Fill ``builder`` with one trace of a scenario picked at random (by weight)."""
    scenario = builder.rng.choices([s for s, _ in SCENARIOS], weights=[w for _, w in SCENARIOS])[0]
    scenario(builder)
