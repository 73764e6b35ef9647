"""AI-fix calls, tokens and cost for ``/metrics``: what the server itself spends.

Priced by the same table and rules as customers' LLM calls
(:func:`heliograph.digest.costs.compute_cost`, from the call's ``$ai_*``
properties), so the figure here and the one on the internal project's LLM
dashboard agree. A model without a known price adds its tokens and calls,
and nothing to the cost (never a made-up $0).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from heliograph.ai.fix import GenerationRecord
from heliograph.metrics import AI_FIX_CALLS, AI_FIX_COST, AI_FIX_TOKENS

__all__ = ["count_generation", "counting"]

logger = logging.getLogger(__name__)


def count_generation(record: GenerationRecord) -> None:
    """Count one upstream call (``FixService.on_generation``)."""
    provider, model = record.provider, record.model or "unknown"
    AI_FIX_CALLS.labels(provider, model, "error" if record.is_error else "ok").inc()
    AI_FIX_TOKENS.labels(provider, model, "input").inc(record.input_tokens)
    AI_FIX_TOKENS.labels(provider, model, "output").inc(record.output_tokens)
    # Imported on the first call: the pricing table is digest's, and most
    # acceptors never make an AI-fix call.
    from heliograph.digest.costs import compute_cost
    from heliograph.selfmon import generation_properties

    try:
        cost = compute_cost(generation_properties(record)).total_usd
    except Exception:
        logger.exception("could not price an AI-fix call; its cost is not counted")
        return
    if cost:
        AI_FIX_COST.labels(provider, model).inc(cost)


def counting(
    recorder: Callable[[GenerationRecord], None],
) -> Callable[[GenerationRecord], None]:
    """``recorder`` (the internal project's) and :func:`count_generation`, both."""

    def record(generation: GenerationRecord) -> None:
        count_generation(generation)
        recorder(generation)

    return record
