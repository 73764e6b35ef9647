"""The demo's fixed material: pages, questions and answers, models, recurring errors.

Plain data and one builder of Sentry-shaped error payloads (what sentry-sdk
puts in an event), kept apart from the trace scenarios in ``traces.py``.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from heliograph.demo.traces import PaymentFailure, TraceBuilder

PAGES = (
    "/",
    "/help",
    "/help/orders",
    "/help/refunds",
    "/account",
    "/account/billing",
    "/orders",
    "/checkout",
    "/chat",
)

QUESTIONS = (
    "Where is my order #{n}? It was supposed to arrive on Monday.",
    "How do I get a refund for a damaged item?",
    "Can I change the delivery address of order #{n}?",
    "My card was charged twice for the same order.",
    "What is your return policy for electronics?",
    "The app keeps logging me out, what should I do?",
    "Do you ship to Norway, and how long does it take?",
    "I want to cancel my subscription before the next renewal.",
)

ANSWERS = (
    "Your order #{n} left our warehouse yesterday and should arrive within 2 business days. "
    "You can follow it from the Orders page.",
    "I'm sorry the item arrived damaged. I've opened a refund request; you'll get an email "
    "with a prepaid return label within the hour.",
    "I've updated the delivery address of order #{n}. The carrier will confirm the change by SMS.",
    "I can see two charges: one is a pre-authorisation that your bank will release within "
    "3-5 days. Only one payment was captured.",
    "Electronics can be returned within 30 days if unopened, 14 days otherwise.",
)

# (model, provider, median latency in seconds, streams its output)
CHAT_MODELS = (
    ("gpt-4o-mini", "openai", 0.9, True),
    ("gpt-4.1", "openai", 2.3, True),
    ("claude-sonnet-4-20250514", "anthropic", 3.0, True),
    ("claude-3-5-haiku-20241022", "anthropic", 1.1, False),
    ("gemini-2.0-flash", "gemini", 0.8, False),
)
EMBEDDING_MODEL = ("text-embedding-3-small", "openai", 0.12, False)
# A self-hosted model: no public price, so its cost shows as "unknown".
UNPRICED_MODEL = ("acme-llm-7b-instruct", "self-hosted", 1.6, False)


@dataclass(frozen=True, slots=True)
class ErrorKind:
    """A recurring application error (one issue) and how often it happens per week."""

    type: str
    value: str
    module: str
    function: str
    lineno: int
    context_line: str
    weekly: int
    level: str = "error"
    handled: bool = False


ERROR_KINDS = (
    ErrorKind(
        "KeyError",
        "'sku'",
        "shop.cart",
        "add_item",
        42,
        "    sku = payload['sku']",
        24,
    ),
    ErrorKind(
        "TimeoutError",
        "Request to the order service timed out after 10.0 seconds",
        "support.tools.orders",
        "lookup_order",
        88,
        "    response = client.get(f'/orders/{order_id}', timeout=10.0)",
        14,
    ),
    ErrorKind(
        "ZeroDivisionError",
        "division by zero",
        "reports.daily",
        "average_resolution_time",
        17,
        "    return total / len(tickets)",
        6,
    ),
    ErrorKind(
        "ValueError",
        "time data '31/02/2025' does not match format '%Y-%m-%d'",
        "support.forms",
        "parse_delivery_date",
        63,
        "    return datetime.strptime(raw, '%Y-%m-%d')",
        9,
        level="warning",
        handled=True,
    ),
)

PAYMENT_ERROR = ErrorKind(
    "PaymentGatewayError",
    "card declined by issuer (code 51: insufficient funds)",
    "support.tools.payments",
    "charge_card",
    131,
    "        raise PaymentGatewayError(f'card declined by issuer (code {code}: {reason})')",
    0,
)


def sentry_payload(
    rng: random.Random,
    kind: ErrorKind,
    *,
    moment: float,
    user: str,
    release: str,
    trace_id: str,
    span_id: str,
) -> dict[str, Any]:
    """An error event as sentry-sdk (Python) sends it in an envelope's event item."""
    path = kind.module.replace(".", "/") + ".py"
    frames = [
        _frame(
            "starlette/routing.py",
            "starlette.routing",
            "handle",
            276,
            "await self.app(scope, receive, send)",
            in_app=False,
        ),
        _frame(
            "support/api.py",
            "support.api",
            "handle_request",
            54,
            "    return await dispatch(request)",
            in_app=True,
        ),
        _frame(path, kind.module, kind.function, kind.lineno, kind.context_line, in_app=True),
    ]
    return {
        "event_id": uuid.UUID(int=rng.getrandbits(128), version=4).hex,
        "timestamp": moment,
        "platform": "python",
        "level": kind.level,
        "logger": kind.module,
        "server_name": rng.choice(("support-web-1", "support-web-2", "support-worker-1")),
        "environment": "production",
        "release": release,
        "user": {"id": user},
        "tags": {"component": kind.module.split(".")[0]},
        "contexts": {"trace": {"trace_id": trace_id, "span_id": span_id, "op": "http.server"}},
        "exception": {
            "values": [
                {
                    "type": kind.type,
                    "value": kind.value,
                    "module": None
                    if kind.type in ("KeyError", "ValueError", "TimeoutError", "ZeroDivisionError")
                    else kind.module,
                    "mechanism": {
                        "type": "generic" if kind.handled else "starlette",
                        "handled": kind.handled,
                    },
                    "stacktrace": {"frames": frames},
                }
            ]
        },
        "breadcrumbs": {
            "values": [
                {
                    "timestamp": moment - 2.5,
                    "category": "http",
                    "type": "http",
                    "level": "info",
                    "data": {"method": "POST", "url": "/api/chat", "status_code": 200},
                },
                {
                    "timestamp": moment - 0.4,
                    "category": "query",
                    "level": "info",
                    "message": "SELECT * FROM orders WHERE id = %s",
                },
            ]
        },
        "sdk": {"name": "sentry.python.starlette", "version": "2.19.0"},
    }


def payment_error(
    rng: random.Random, trace: TraceBuilder, failure: PaymentFailure
) -> dict[str, Any]:
    """The error the payment tool raised, carrying the LLM trace's id (so they link)."""
    return sentry_payload(
        rng,
        PAYMENT_ERROR,
        moment=failure.moment,
        user=trace.user,
        release=trace.release,
        trace_id=trace.trace_id,
        span_id=failure.span_id,
    )


def _frame(
    filename: str, module: str, function: str, lineno: int, line: str, *, in_app: bool
) -> dict[str, Any]:
    return {
        "filename": filename,
        "abs_path": ("/srv/app/" if in_app else "/usr/lib/python3.12/site-packages/") + filename,
        "module": module,
        "function": function,
        "lineno": lineno,
        "context_line": line,
        "pre_context": ["", f"def {function}(*args, **kwargs):"],
        "post_context": ["", ""],
        "in_app": in_app,
    }
