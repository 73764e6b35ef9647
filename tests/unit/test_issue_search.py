"""The issue search language: which tokens filter, which are text."""

from __future__ import annotations

import pytest

from heliograph.query.search import MAX_TAG_FILTERS, SearchError, parse_issue_search


def test_tag_like_keys_filter_and_the_rest_is_text() -> None:
    found = parse_issue_search(1, {"query": 'browser.name:"Mobile Safari" device:iPhone '
                                            "KeyError: http://shop.example/x timeout"})  # fmt: skip
    assert found.tags == (("browser.name", "Mobile Safari"), ("device", "iPhone"))
    assert found.query == "KeyError: http://shop.example/x timeout"


def test_the_known_keys_keep_their_meaning() -> None:
    found = parse_issue_search(1, {"query": "is:all level:warning environment:prod user:42"})
    assert (found.status, found.level, found.environment) == (None, "warning", "prod")
    assert found.tags == (("user", "42"),)


def test_too_many_tag_filters_are_refused_with_the_reason() -> None:
    query = " ".join(f"tag{n}:x" for n in range(MAX_TAG_FILTERS + 1))
    with pytest.raises(SearchError, match="at most"):
        parse_issue_search(1, {"query": query})
