"""A small application instrumented with the real, unmodified sentry-sdk.

Run as a subprocess by the end-to-end tests: ``python sentry_app.py DSN SCENARIO``.
"""

from __future__ import annotations

import logging
import sys

import sentry_sdk


def divide(total: int, parts: int) -> float:
    secret_password = "hunter2"  # noqa: F841 - must be scrubbed by the server
    return total / parts


def load_user(user_id: int) -> dict[str, str]:
    users: dict[int, dict[str, str]] = {}
    return users[user_id]


def checkout(order_id: int) -> None:
    try:
        load_user(order_id)
    except KeyError as exc:
        raise RuntimeError(f"checkout failed for order {order_id}") from exc


def main() -> None:
    dsn, scenario = sys.argv[1], sys.argv[2]
    release = sys.argv[3] if len(sys.argv) > 3 else "app@1.0.0"
    sentry_sdk.init(
        dsn=dsn,
        environment="production",
        release=release,
        include_local_variables=True,
        send_default_pii=True,
    )
    sentry_sdk.set_user({"id": "user-42", "email": "ada@example.com"})
    sentry_sdk.set_tag("customer_tier", "gold")
    sentry_sdk.add_breadcrumb(category="auth", message="user logged in", level="info")
    if scenario == "divide":
        for parts in (0, 0):
            try:
                divide(10, parts)
            except ZeroDivisionError:
                sentry_sdk.capture_exception()
    elif scenario == "chain":
        for order_id in (1001, 1002):
            try:
                checkout(order_id)
            except RuntimeError:
                sentry_sdk.capture_exception()
    elif scenario == "message":
        sentry_sdk.capture_message("Payment provider returned 503 for order 77", level="warning")
    elif scenario == "log":
        # The logging integration (on by default) sends logger.error as an event.
        log = logging.getLogger("shop.payments")
        for webhook_id, status in (("wh_1a2b", 500), ("wh_9z8y", 502), ("evt-alpha", 503)):
            log.error("Payment webhook %s failed with status %d", webhook_id, status)
    sentry_sdk.flush(timeout=10)


if __name__ == "__main__":
    main()
