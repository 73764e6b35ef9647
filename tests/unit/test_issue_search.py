"""The issue search language: which tokens filter, which are text, and what is an error."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from heliograph.query.search import (
    MAX_TAG_FILTERS,
    SearchContext,
    SearchError,
    parse_issue_search,
    parse_time_bound,
)
from heliograph.query.time_range import parse_time_range, within
from heliograph.store.base import IssueFilter

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=timezone.utc).timestamp()
DAY = 86400.0


def context(**overrides: object) -> SearchContext:
    known = {"browser.name", "device", "customer_tier", "plan"}
    fields: dict[str, object] = {
        "user_id": 7,
        "user_by_email": lambda email: {"ann@example.com": 3}.get(email.lower()),
        "team_by_slug": lambda slug: {"web": 11}.get(slug),
        "latest_release": lambda: "2.0",
        "tag_key_known": lambda key: key in known,
        "now": NOW,
    }
    fields.update(overrides)
    return SearchContext(**fields)  # type: ignore[arg-type]


def parse(query: str, **params: str) -> IssueFilter:
    return parse_issue_search(1, {"query": query, **params}, context())


def test_tag_like_keys_filter_and_the_rest_is_text() -> None:
    found = parse('browser.name:"Mobile Safari" device:iPhone '
                  "KeyError: http://shop.example/x timeout 10:30 KeyError:'user'")  # fmt: skip
    assert found.tags == (("browser.name", "Mobile Safari"), ("device", "iPhone"))
    assert found.query == "KeyError: http://shop.example/x timeout 10:30 KeyError:user"


def test_the_known_keys_keep_their_meaning() -> None:
    found = parse("is:all level:WARNING environment:prod release:1.0")
    assert (found.status, found.level, found.environment) == (None, "warning", "prod")
    assert found.release == "1.0"


def test_any_tag_quoted_values_and_negation() -> None:
    found = parse('customer_tier:gold !plan:"free trial" !environment:staging')
    assert found.tags == (("customer_tier", "gold"),)
    assert found.excluded_tags == (("plan", "free trial"), ("environment", "staging"))


def test_user_fields_match_the_key_the_user_is_counted_under() -> None:
    found = parse("user.id:42 user.email:a@b.c !user.username:bot")
    assert found.users == (("id:42", "also.id:42"), ("email:a@b.c", "also.email:a@b.c"))
    assert found.excluded_users == (("username:bot", "also.username:bot"),)
    fields = ("id:42", "email:42", "username:42", "ip:42")
    assert parse("user:42").users == ((*fields, *(f"also.{f}" for f in fields)),)
    assert parse("user:email:a@b.c").users == (("email:a@b.c", "also.email:a@b.c"),)


def test_has_and_not_has() -> None:
    found = parse("has:customer_tier !has:plan")
    assert (found.has_tags, found.lacks_tags) == (("customer_tier",), ("plan",))
    assert parse("!has:assignee").assignee == "none"
    assert parse("has:assignee").assignee == "any"
    assert parse("is:unassigned").assignee == "none"
    assert parse("is:assigned").status == "unresolved"


def test_first_and_last_seen_take_relative_and_absolute_times() -> None:
    assert parse("firstSeen:-24h").first_seen_from == NOW - DAY
    assert parse("lastSeen:>-7d").last_seen_from == NOW - 7 * DAY
    assert parse("lastseen:+30d").last_seen_to == NOW - 30 * DAY
    day = datetime(2026, 11, 1, tzinfo=timezone.utc).timestamp()
    assert parse("firstSeen:<2026-11-01").first_seen_to == day
    assert parse("firstSeen:>=2026-11-01T12:00").first_seen_from == day + 12 * 3600
    whole = parse("lastSeen:2026-11-01")
    assert (whole.last_seen_from, whole.last_seen_to) == (day, day + DAY - 0.001)
    both = parse("firstSeen:-7d firstSeen:-24h")  # the tighter bound wins
    assert both.first_seen_from == NOW - DAY


def test_release_latest_and_assignees_resolve_through_the_context() -> None:
    assert parse("release:latest").release == "2.0"
    assert parse("assigned:me").assignee == "user:7"
    assert parse("assigned:Ann@example.com").assignee == "user:3"
    assert parse("assigned:#web").assignee == "team:11"


def test_explicit_parameters_win_and_sorts_map() -> None:
    found = parse("level:error", level="info", status="resolved", sort="freq")
    assert (found.level, found.status, found.sort) == ("info", "resolved", "count")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("customr_tier:gold", "unknown search key 'customr_tier'"),
        ("has:nothere", "unknown search key 'nothere'"),
        ("is:open", "unknown status 'open'"),
        ("level:loud", "unknown level 'loud'"),
        ("firstSeen:yesterday", "firstseen:yesterday: use a relative time"),
        ("lastSeen:-3y", "use a relative time"),
        ("assigned:nobody@example.com", "no member of this organization"),
        ("assigned:#ops", "no team of this organization is #ops"),
        ("assigned:bob", "use assigned:me"),
        ("!assigned:me", "cannot be negated"),
        ("!is:resolved", "cannot be negated"),
        ("!level:error", "cannot be negated"),
        ("age:-24h", "is not supported"),
        ("has:Bad!", "expected a tag key"),
    ],
)
def test_bad_input_is_an_error_that_says_why(query: str, message: str) -> None:
    with pytest.raises(SearchError, match=message.replace("(", r"\(")):
        parse(query)


def test_without_a_context_tags_pass_and_lookups_are_errors() -> None:
    assert parse_issue_search(1, {"query": "anything:x"}).tags == (("anything", "x"),)
    with pytest.raises(SearchError, match="signed-in"):
        parse_issue_search(1, {"query": "assigned:me"})
    with pytest.raises(SearchError, match="no event of this project has a release"):
        parse_issue_search(1, {"query": "release:latest"})
    with pytest.raises(SearchError, match="unknown sort"):
        parse_issue_search(1, {"sort": "random"})


def test_too_many_tag_filters_are_refused_with_the_reason() -> None:
    query = " ".join(f"tag{n}:x" for n in range(MAX_TAG_FILTERS + 1))
    with pytest.raises(SearchError, match="at most"):
        parse_issue_search(1, {"query": query})


def test_time_bounds_directly() -> None:
    assert parse_time_bound("-1w", NOW) == (NOW - 7 * DAY, None)
    assert parse_time_bound("<-2h", NOW) == (None, NOW - 7200)


def test_time_ranges_narrow_the_seen_bounds() -> None:
    assert parse_time_range({}, NOW).since is None
    last_day = parse_time_range({"range": "24h"}, NOW)
    assert within(IssueFilter(1), last_day).last_seen_from == NOW - DAY
    custom = parse_time_range({"range": "custom", "start": "2026-11-01", "end": "2026-11-02"}, NOW)
    day = datetime(2026, 11, 1, tzinfo=timezone.utc).timestamp()
    narrowed = within(IssueFilter(1), custom)
    assert (narrowed.last_seen_from, narrowed.first_seen_to) == (day, day + 2 * DAY - 0.001)
    for bad in ({"range": "1y"}, {"range": "custom", "start": "Nov 1"},
                {"range": "custom", "start": "2026-11-02", "end": "2026-11-01"}):  # fmt: skip
        with pytest.raises(SearchError):
            parse_time_range(bad, NOW)
