"""How the LLM pages write money, durations, rates and tokens, as Jinja filters.

``install`` adds them (and the ``llm_trace_url`` global the issue page's
"LLM trace" link uses, and ``priced_events``, the event names that have a
cost) to the shared Jinja environment once, when the LLM pages are imported;
the other pages are not affected by it.

Money: a missing cost is written "unknown", never "$0": an unpriced model
is the case where a wrong zero misleads the most.
"""

from __future__ import annotations

import math
from typing import Any

import jinja2

from heliograph.llm_vocabulary import PRICED_EVENTS
from heliograph.web.llm_links import trace_url_if_recorded

__all__ = ["install", "percent", "seconds", "usd"]


def usd(value: float | None) -> str:
    """``$1,234``, ``$12.34``, ``$0.00421``, ``$0.0000015`` (three significant digits
    under a dollar, so two cheap calls can be told apart), ``<$0.0000000001``;
    ``unknown`` when no price is known."""
    if value is None:
        return "unknown"
    if value == 0:
        return "$0"
    if abs(value) >= 100:
        return f"${value:,.0f}"
    if abs(value) >= 1:
        return f"${value:,.2f}"
    if abs(value) < 1e-10:
        return "<$0.0000000001"
    decimals = min(2 - math.floor(math.log10(abs(value))), 12)
    text = f"{value:.{max(decimals, 2)}f}".rstrip("0")
    if len(text.partition(".")[2]) < 2:
        text = f"{value:.2f}"
    return f"${text}"


def seconds(value: float | None) -> str:
    """``850 ms``, ``1.25 s``, ``2 min 05 s``; an en dash when unknown."""
    if value is None or value != value:
        return "–"
    if value < 0.001:
        return "0 ms" if value <= 0 else "<1 ms"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 10:
        return f"{value:.2f} s"
    if value < 60:
        return f"{value:.1f} s"
    minutes, rest = divmod(round(value), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def percent(value: float | None, digits: int = 1) -> str:
    """A 0-1 ratio as ``12.5%``; an en dash when there is nothing to divide."""
    if value is None:
        return "–"
    if 0 < value < 0.001:
        return "<0.1%"
    return f"{value * 100:.{digits}f}%"


def short_id(value: str | None, length: int = 12) -> str:
    """The first characters of a long id (the full id goes in a title attribute)."""
    if not value:
        return ""
    return value if len(value) <= length + 1 else value[:length] + "…"


@jinja2.pass_context
def llm_trace_url(context: jinja2.runtime.Context, project: Any, trace_id: str | None) -> str:
    """The LLM trace page of ``trace_id`` if the project has LLM events in it, else ``""``.

    Used by the issue page: an error raised inside an instrumented LLM call
    carries the trace id the calls were recorded under.
    """
    request = context.get("request")
    if not trace_id or project is None or request is None:
        return ""
    return trace_url_if_recorded(request.app.state.runtime.store, project, trace_id) or ""


def install(env: jinja2.Environment) -> None:
    """Add the filters and the globals to ``env`` (idempotent)."""
    env.filters.update(usd=usd, seconds=seconds, percent=percent, short_id=short_id)
    env.globals["llm_trace_url"] = llm_trace_url
    env.globals["priced_events"] = PRICED_EVENTS
