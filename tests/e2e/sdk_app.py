"""An app instrumented with heliograph-sdk, run by the end-to-end tests.

Configured from the environment only (HELIOGRAPH_API_KEY, HELIOGRAPH_HOST, ...).
"""

from __future__ import annotations

import heliograph_sdk


def parse_order(raw: str) -> int:
    return int(raw)


def main() -> None:
    heliograph_sdk.set_user(id="user-9", email="grace@example.com")
    with heliograph_sdk.trace("checkout-agent", pipeline="checkout") as run:
        with heliograph_sdk.trace_generation(provider="openai", model="gpt-4o-mini") as gen:
            gen.set_tokens(input=1200, output=300)
        try:
            parse_order("not-a-number")
        except ValueError:
            heliograph_sdk.capture_exception()
        run.set(verdict="failed")
    heliograph_sdk.capture_message("Inventory sync is lagging", level="warning")
    heliograph_sdk.capture("order_placed", {"amount": 42})
    heliograph_sdk.flush(timeout=10)


if __name__ == "__main__":
    main()
