"""Scrubbing rules: by key at any depth, by shape in any string, per project."""

from __future__ import annotations

import time

import pytest

from heliograph.digest.prepare import prepare_event
from heliograph.digest.scrub import FILTERED, ScrubRules, scrub_event, scrub_text, scrub_value
from heliograph.model import Breadcrumb, Event, Exception_, Frame, User
from heliograph.store.base import GroupedEvent, Project

CARD = "4111 1111 1111 1111"  # passes Luhn


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"paid with {CARD} today", CARD),
        ("card=5500-0000-0000-0004", "5500-0000-0000-0004"),
        ("Authorization: Bearer abcdefghijklmnop", "abcdefghijklmnop"),
        ("GET /reset?token=tok_123456&next=/", "tok_123456"),
        ("postgres://app:s3cr3t-pw@db.internal/app", "s3cr3t-pw"),
        ('{"api_key": "k-123456789", "n": 1}', "k-123456789"),
        ("{'password': 'hunter2!', 'user': 'bob'}", "hunter2!"),
        ("use sk-proj-AbCdEfGhIjKlMnOpQrStUvWx for it", "sk-proj-AbCdEfGhIjKlMnOpQrStUvWx"),
        ("aws AKIAIOSFODNN7EXAMPLE key", "AKIAIOSFODNN7EXAMPLE"),
        ("gh token ghp_" + "a" * 36, "ghp_" + "a" * 36),
        ("jwt eyJhbGciOiJIUzI1.eyJzdWIiOiIxMjM0.SflKxwRJSMeKKF2QT4", "SflKxwRJSMeKKF2QT4"),
        ("hgp_" + "Z" * 40 + " leaked", "Z" * 40),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----", "MIIEow"),
    ],
)
def test_secrets_in_text_are_masked(text: str, secret: str) -> None:
    scrubbed = scrub_text(text)
    assert secret not in scrubbed
    assert FILTERED in scrubbed


@pytest.mark.parametrize(
    "text",
    [
        "order 1234 5678 shipped",  # too short for a card
        "4111 1111 1111 1112",  # fails Luhn
        "session_id=abc12345",  # an id, not a secret
        "plain text without anything",
        "see https://example.com/path for details",
    ],
)
def test_ordinary_text_is_kept(text: str) -> None:
    assert scrub_text(text) == text


def test_sensitive_keys_at_any_depth_and_in_pairs() -> None:
    value = {
        "headers": [
            ["Authorization", "Basic Zm9vOmJhcg=="],
            ["Cookie", "sid=1"],
            ["Accept", "*/*"],
        ],
        "level1": {"level2": {"level3": {"db_password": "pw", "count": 3}}},
        "credentials": {"user": "bob", "pin": "1234", "tries": 2},
        "max_tokens": 512,  # a count under a sensitive-looking key stays
        "items": [{"api_key": "k"}, "text"],
    }
    scrubbed = scrub_value(value)
    assert scrubbed["headers"] == [
        ["Authorization", FILTERED],
        ["Cookie", FILTERED],
        ["Accept", "*/*"],
    ]
    assert scrubbed["level1"]["level2"]["level3"] == {"db_password": FILTERED, "count": 3}
    assert scrubbed["credentials"] == {"user": FILTERED, "pin": FILTERED, "tries": 2}
    assert scrubbed["max_tokens"] == 512
    assert scrubbed["items"] == [{"api_key": FILTERED}, "text"]


@pytest.mark.parametrize(
    "key",
    [
        "password", "db_password", "DB_PASSWORD", "dbPassword", "passwd", "client_secret",
        "refreshToken", "access_token", "csrftoken", "X-CSRF-Token", "X-Api-Key", "apiKey",
        "api-key", "private_key", "AWS_SECRET_ACCESS_KEY", "aws_access_key_id", "sessionid",
        "PHPSESSID", "Set-Cookie", "authorization", "Proxy-Authorization", "auth",
        "card_number", "cvv", "ssn", "credentials",
    ],
)  # fmt: skip
def test_keys_that_name_secrets(key: str) -> None:
    assert scrub_value({key: "value-1234"}) == {key: FILTERED}


@pytest.mark.parametrize(
    "key",
    [
        "$ai_tokens_source", "max_tokens", "input_tokens", "conversation_session",
        "session_id", "$session_id", "author", "keyboard", "monkey", "passenger", "compass",
        "cardinality", "tokenizer", "sessions_count", "cache_key", "key", "primary_key_name",
    ],
)  # fmt: skip
def test_keys_that_only_contain_a_sensitive_looking_word_are_kept(key: str) -> None:
    assert scrub_value({key: "value-1234"}) == {key: "value-1234"}


def test_project_extra_keys_and_safe_fields() -> None:
    rules = ScrubRules.of(("internal_ref",), ("csrf_hint", "session_token_kind"))
    value = {
        "my_internal_ref": "r-1",
        "note": "see internal_ref=r-2 please",
        "csrf_hint": "left alone",
        "session_token_kind": "cookie",
        "password": "still scrubbed",
    }
    scrubbed = scrub_value(value, rules)
    assert scrubbed == {
        "my_internal_ref": FILTERED,
        "note": f"see internal_ref={FILTERED} please",
        "csrf_hint": "left alone",
        "session_token_kind": "cookie",
        "password": FILTERED,
    }


def test_scrub_event_covers_every_part_of_an_error() -> None:
    secret = "s3cr3t-value-42"
    event = Event(
        project_id=1,
        event_id="a" * 32,
        timestamp=time.time(),
        message=f"login failed password={secret}",
        transaction=f"/reset?token={secret}",
        exceptions=[
            Exception_(
                type="ValueError",
                value=f"bad card {CARD}",
                frames=[Frame(function="f", vars={"api_key": f"'{secret}'", "n": 1})],
            )
        ],
        stacktrace=[Frame(vars={"secret": secret})],
        request={
            "headers": {"Authorization": f"Bearer {secret}", "Cookie": f"sid={secret}"},
            "cookies": {"sid": secret},
            "data": {"user": {"password": secret}},
            "query_string": f"a=1&api_key={secret}",
        },
        breadcrumbs=[Breadcrumb(message=f"charged {CARD}", data={"token": secret})],
        extra={"nested": [{"private_key": secret}]},
        contexts={"app": {"session_secret": secret}},
        user=User(id="u1", data={"reset_token": secret}),
        tags={"auth_token": secret},
    )
    scrub_event(event)
    dumped = repr(event)
    assert secret not in dumped
    assert "4111" not in dumped
    assert event.user is not None and event.user.id == "u1"


def test_prepare_event_uses_the_projects_rules_and_scrubs_kept_llm_payloads() -> None:
    project = Project(
        id=1,
        organization_id=1,
        organization_slug="o",
        slug="p",
        name="P",
        platform="python",
        ai_policy="allowed",
        keep_llm_payloads=True,
        payload_max_chars=1000,
        retention_days=90,
        scrub_extra_keys=("customer_ref",),
        scrub_safe_fields=("safe_token",),
    )
    error = Event(
        project_id=1,
        event_id="b" * 32,
        timestamp=time.time(),
        extra={"customer_ref": "C-9", "safe_token": "keep-me"},
        exceptions=[Exception_(type="E", value="x")],
    )
    prepared = prepare_event(error, project)
    assert isinstance(prepared, GroupedEvent)
    assert prepared.event.extra == {"customer_ref": FILTERED, "safe_token": "keep-me"}
    generation = Event(
        project_id=1,
        event_id="c" * 32,
        timestamp=time.time(),
        kind="analytics",
        name="$ai_generation",
        properties={
            "$ai_model": "gpt-4o-mini",
            "$ai_input": [
                {"role": "user", "content": f"my card is {CARD}, key sk-live-{'x' * 24}"},
                {"role": "tool", "content": {"api_key": "k-1", "customer_ref": "C-1"}},
            ],
            "$ai_output_choices": [{"role": "assistant", "content": "Bearer abcdefgh12345"}],
        },
    )
    prepared = prepare_event(generation, project)
    assert isinstance(prepared, Event)
    dumped = repr(prepared.properties)
    for secret in (CARD, "x" * 24, "k-1", "C-1", "abcdefgh12345"):
        assert secret not in dumped
