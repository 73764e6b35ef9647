"""Flag values ride on what the SDK sends next: errors and generations, and one report each."""

from __future__ import annotations

from typing import Any

import heliograph_sdk
from heliograph_sdk import _hub


def answering(values: dict[str, Any]) -> None:
    """The server's /flags answer, without a server: ``values`` for anyone."""
    client = _hub.current()
    assert client is not None
    client.flags._ask_server = lambda distinct_id, properties: {  # type: ignore[method-assign]
        key: (value, None) for key, value in values.items()
    }


def test_values_ride_on_errors_and_generations(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    answering({"checkout-copy": "short", "new-checkout": True})
    heliograph_sdk.set_user(id="u1")
    assert heliograph_sdk.get_feature_flag("checkout-copy") == "short"
    assert heliograph_sdk.feature_enabled("new-checkout") is True
    assert heliograph_sdk.get_feature_flag("checkout-copy") == "short"  # reported once
    assert heliograph_sdk.get_feature_flag("missing", default="d") == "d"
    with heliograph_sdk.trace_generation("openai", "gpt-4o-mini") as gen:
        gen.set_tokens(10, 5)
    try:
        raise KeyError("boom")
    except KeyError:
        heliograph_sdk.capture_exception()
    assert heliograph_sdk.flush(5)
    [generation] = [e["properties"] for e in server.named("$ai_generation")]
    [error] = [e["properties"] for e in server.named("$exception")]
    for props in (generation, error):
        assert props["$feature/checkout-copy"] == "short"
        assert props["$feature/new-checkout"] is True
        assert "$feature/missing" not in props
    called = server.named("$feature_flag_called")
    assert sorted(e["properties"]["$feature_flag"] for e in called) == [
        "checkout-copy",
        "new-checkout",
    ]
    assert all(e["distinct_id"] == "u1" for e in called)
    assert all(e["properties"]["locally_evaluated"] is False for e in called)


def test_an_off_sdk_answers_the_default_without_a_request(server) -> None:  # type: ignore[no-untyped-def]
    assert not heliograph_sdk.init(api_key=None, host=server.url, install_hooks=False)
    assert heliograph_sdk.get_feature_flag("x", "u1", default="safe") == "safe"
    assert heliograph_sdk.feature_enabled("x", "u1") is False
    assert heliograph_sdk.get_feature_flag_payload("x", "u1") is None
    assert server.requests == []
