"""Identify modes decide which user attributes travel, inline on every event."""

from __future__ import annotations

import pytest

import heliograph_sdk


@pytest.mark.parametrize(
    ("mode", "distinct_id", "user"),
    [
        ("none", None, None),
        ("id", "u1", {"id": "u1"}),
        ("email", "u1", {"id": "u1", "email": "ada@example.com"}),
        (
            "full",
            "u1",
            {
                "id": "u1",
                "email": "ada@example.com",
                "name": "Ada",
                "plan": "pro",
                "api_token": "[Filtered]",
            },
        ),
    ],
)
def test_identify_modes(sdk, mode, distinct_id, user) -> None:  # type: ignore[no-untyped-def]
    server = sdk(identify=mode)
    heliograph_sdk.set_user("u1", email="ada@example.com", name="Ada", plan="pro", api_token="t")
    heliograph_sdk.capture("clicked")
    with heliograph_sdk.trace_generation("openai", "m"):
        pass
    assert heliograph_sdk.flush(5)
    for event in server.events():
        props = event["properties"]
        if distinct_id is None:
            assert props["$process_person_profile"] is False
            assert event["distinct_id"] != "u1"
        else:
            assert event["distinct_id"] == distinct_id
            assert "$process_person_profile" not in props
        assert props.get("$user") == user


def test_email_only_user_uses_email_as_distinct_id(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk(identify="email")
    heliograph_sdk.set_user(email="bob@example.com")
    heliograph_sdk.capture("x")
    assert heliograph_sdk.flush(5)
    assert server.named("x")[0]["distinct_id"] == "bob@example.com"


def test_identify_from_environment(server, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HELIOGRAPH_IDENTIFY", "none")
    heliograph_sdk.init(api_key="k", host=server.url, install_hooks=False)
    heliograph_sdk.set_user("u1", email="e@example.com")
    heliograph_sdk.capture("x")
    assert heliograph_sdk.flush(5)
    assert "$user" not in server.named("x")[0]["properties"]


def test_user_set_before_init_is_refiltered(server) -> None:  # type: ignore[no-untyped-def]
    heliograph_sdk.set_user("u1", email="e@example.com")
    heliograph_sdk.init(api_key="k", host=server.url, identify="email", install_hooks=False)
    heliograph_sdk.capture("x")
    assert heliograph_sdk.flush(5)
    assert server.named("x")[0]["properties"]["$user"] == {"id": "u1", "email": "e@example.com"}


def test_explicit_distinct_id_wins(sdk) -> None:  # type: ignore[no-untyped-def]
    server = sdk()
    heliograph_sdk.set_user("u1")
    heliograph_sdk.capture("x", distinct_id="someone-else")
    assert heliograph_sdk.flush(5)
    assert server.named("x")[0]["distinct_id"] == "someone-else"
