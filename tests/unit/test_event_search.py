"""The issue search read per event: which events a query finds, and what is an error."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from heliograph.model import Event, Exception_, Frame, User
from heliograph.query.event_search import (
    MAX_QUERY_CHARS,
    EventSearch,
    parse_event_search,
    user_keys,
)
from heliograph.query.search import MAX_TAG_FILTERS, SearchContext, SearchError
from heliograph.store.base import IssueEventFilter

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=timezone.utc).timestamp()
HOUR = 3600.0


def context(**overrides: Any) -> SearchContext:
    known = {"customer_tier", "browser.name", "plan"}
    fields: dict[str, Any] = {
        "latest_release": lambda: "2.0",
        "tag_key_known": lambda key: key in known,
        "now": NOW,
    }
    fields.update(overrides)
    return SearchContext(**fields)


def parse(query: str, **overrides: Any) -> EventSearch:
    return parse_event_search(1, query, context(**overrides))


def event(**fields: Any) -> Event:
    values: dict[str, Any] = {
        "project_id": 1,
        "event_id": "e" * 32,
        "timestamp": NOW - HOUR,
        "level": "error",
        "exceptions": [
            Exception_(
                type="TimeoutError",
                value="upstream took 30s",
                frames=[Frame(function="charge", module="shop.payments", in_app=True)],
            )
        ],
        "environment": "production",
        "release": "2.0",
        "tags": {"customer_tier": "gold", "browser.name": "Chrome"},
        "user": User(id="42", email="ann@example.com", ip_address="10.0.0.1"),
        "transaction": "/checkout",
        "request": {"url": "https://shop.example/cart?step=2", "method": "POST"},
    }
    values.update(fields)
    return Event(**values)


def finds(query: str, found: Event | None = None, **overrides: Any) -> bool:
    return parse(query, **overrides).matches(found or event())


def test_an_empty_search_finds_every_event() -> None:
    search = parse("")
    assert search.is_empty and not search.needs_documents
    assert search.matches(event()) and search.matches(event(user=None, tags={}))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("level:error", True),
        ("level:WARNING", False),
        ("environment:production", True),
        ("environment:staging", False),
        ("!environment:production", False),
        ("!environment:staging", True),
        ("release:2.0", True),
        ("release:latest", True),
        ("release:1.0", False),
        ("customer_tier:gold", True),
        ('customer_tier:"gold"', True),
        ("customer_tier:silver", False),
        ("!customer_tier:gold", False),
        ("!plan:free", True),
        ("browser.name:Chrome customer_tier:gold", True),
        ("has:customer_tier", True),
        ("has:plan", False),
        ("!has:plan", True),
        ("!has:customer_tier", False),
        ("has:release has:user has:level", True),
        ("server_name:web-1", False),
    ],
)
def test_typed_fields_and_tags_are_the_events_own(query: str, expected: bool) -> None:
    assert finds(query) is expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("user:42", True),
        ("user:ann@example.com", True),  # not the key the issue counted (id), still found
        ("user.email:ann@example.com", True),
        ("user.id:42", True),
        ("user.ip:10.0.0.1", True),
        ("user.username:ann", False),
        ("user.id:ann@example.com", False),
        ('user:"email:ann@example.com"', True),
        ("!user.email:ann@example.com", False),
        ("!user:bob", True),
        ("user:42 user.ip:10.0.0.1", True),
        ("user:42 user:43", False),
    ],
)
def test_users_match_any_of_their_fields(query: str, expected: bool) -> None:
    assert finds(query) is expected


def test_a_hashed_address_is_found_by_the_address_typed() -> None:
    hashed = event(user=User(ip_hash="h-10.0.0.1"))
    search = parse("user.ip:10.0.0.1", address_hash=lambda address: f"h-{address}")
    assert search.matches(hashed)
    assert not parse("user.ip:10.0.0.2", address_hash=lambda a: f"h-{a}").matches(hashed)


def test_a_distinct_id_is_an_id_when_the_user_has_none() -> None:
    anonymous = event(user=None, distinct_id="visitor-9")
    assert finds("user.id:visitor-9", anonymous)
    assert finds("user:visitor-9", anonymous)
    assert user_keys(event(distinct_id="visitor-9")) == {
        "id:42",
        "email:ann@example.com",
        "ip:10.0.0.1",
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("timeout", True),  # exception type, ignoring case
        ("UPSTREAM took", True),  # value, a phrase
        ("took upstream", False),  # the words in that order
        ("shop.payments", True),  # the culprit
        ("/checkout", True),  # the transaction
        ("shop.example/cart", True),  # the request's URL
        ("message:upstream", True),
        ("KeyError", False),
        ("timeout level:error environment:production", True),
    ],
)
def test_free_text_looks_in_title_culprit_values_transaction_and_url(
    query: str, expected: bool
) -> None:
    assert finds(query) is expected


def test_a_message_event_is_found_by_its_message() -> None:
    logged = event(exceptions=[], message="Payment provider returned 502")
    assert finds("provider returned", logged)
    assert not finds("timeout", logged)


def test_timestamp_bounds_the_events_time() -> None:
    search = parse("timestamp:-2h")
    assert search.since == NOW - 2 * HOUR and search.until is None
    assert search.matches(event(timestamp=NOW - HOUR))
    assert not search.matches(event(timestamp=NOW - 3 * HOUR))
    assert not finds("timestamp:+2h", event(timestamp=NOW - HOUR))  # longer ago than 2 h
    narrowed = parse("timestamp:>-3h timestamp:>-2h timestamp:<-1h timestamp:<-30m")
    assert (narrowed.since, narrowed.until) == (NOW - 2 * HOUR, NOW - HOUR)
    day = parse("timestamp:2026-11-10")
    assert day.matches(event()) and not day.matches(event(timestamp=NOW - 13 * HOUR))


def test_the_typed_part_goes_to_the_store_and_the_rest_stays_here() -> None:
    search = parse("level:warning environment:prod release:latest timestamp:-1h")
    assert search.store_filter == IssueEventFilter(
        level="warning", environment="prod", release="2.0", since=NOW - HOUR
    )
    assert not search.needs_documents
    assert parse("customer_tier:gold").needs_documents
    assert parse("user:42").needs_documents
    assert parse("timeout").needs_documents
    # A second environment is a tag filter: both must hold, which no event can.
    twice = parse("environment:prod environment:dev")
    assert twice.environment == "prod" and twice.tags == (("environment", "dev"),)
    assert not twice.matches(event(environment="prod"))


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("is:unresolved", "is: filters issues, not events"),
        ("assigned:me", "assigned: filters issues, not events"),
        ("firstSeen:-24h", "firstSeen: filters issues, not events"),
        ("LASTSEEN:-24h", "lastSeen: filters issues, not events"),
        ("has:assignee", "has:assignee filters issues, not events"),
        ("!has:assignee", "has:assignee filters issues, not events"),
        ("!is:resolved", "is: filters issues, not events"),
        ("level:loud", "unknown level"),
        ("!level:error", "cannot be negated"),
        ("!timestamp:-1h", "timestamp: cannot be negated"),
        ("timestamp:yesterday", "timestamp:yesterday: use a relative time"),
        ("custmer_tier:gold", "unknown search key 'custmer_tier'"),
        ("has:custmer_tier", "unknown search key"),
        ("age:-24h", "is not supported"),
    ],
)
def test_mistakes_are_errors_that_say_why(query: str, message: str) -> None:
    with pytest.raises(SearchError, match=message):
        parse(query)


def test_release_latest_without_a_release_is_an_error() -> None:
    with pytest.raises(SearchError, match="no event of this project has a release"):
        parse("release:latest", latest_release=lambda: None)


def test_words_that_only_look_like_keys_stay_text() -> None:
    search = parse("KeyError: https://shop.example/x 10:30 Payment:failed")
    assert search.text == "keyerror: https://shop.example/x 10:30 payment:failed"
    assert search.tags == ()


def test_hostile_input_is_bounded_or_refused() -> None:
    with pytest.raises(SearchError, match="too long"):
        parse("x" * (MAX_QUERY_CHARS + 1))
    with pytest.raises(SearchError, match=f"at most {MAX_TAG_FILTERS} tag filters"):
        parse(" ".join(f"customer_tier:v{n}" for n in range(MAX_TAG_FILTERS + 1)))
    # Unbalanced quotes: split on spaces, as the issue search does.
    search = parse('customer_tier:"gold timeout')
    assert search.tags == (("customer_tier", '"gold'),)
    assert search.text == "timeout"
    # Regex and LIKE metacharacters are plain text here.
    assert not finds(".* % _ [a-z] \\")
    assert finds("took 30s", event(exceptions=[Exception_(type="E", value="took 30s")]))
    # Control characters and odd Unicode neither crash nor match everything.
    assert not finds("\x00\u202e\U0001f4a5")
    assert parse("\t \n ").is_empty


def test_long_tag_values_compare_as_the_issue_counts_them() -> None:
    long_value = "v" * 300
    tagged = event(tags={"customer_tier": long_value})
    assert finds(f"customer_tier:{long_value}", tagged)
    assert finds(f"customer_tier:{'v' * 200}", tagged)  # the first 200 characters decide
    assert not finds(f"customer_tier:{'v' * 199}", tagged)


def test_without_a_context_every_tag_key_is_accepted() -> None:
    search = parse_event_search(1, "anything:goes timeout")
    assert search.tags == (("anything", "goes"),)
    with pytest.raises(SearchError, match="release:latest"):
        parse_event_search(1, "release:latest")
