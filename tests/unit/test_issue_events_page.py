"""The issue's events tab (``/issues/{id}/events/``) and ``GET /api/0/issues/{id}/events/?query=``,
in process, over stored events: the table, the search, its mistakes, paging, the scan cap."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from heliograph.app import create_app
from heliograph.bootstrap import ensure_defaults
from heliograph.config import Settings
from heliograph.model import User
from heliograph.query import event_scan, issue_events
from heliograph.runtime import Runtime
from heliograph.store.base import Issue, IssueFilter
from tests.contract.builders import error, record_errors

NOW = time.time()


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[TestClient, Issue]]:
    """Twelve events of one issue (``n`` seconds old, ids ``n`` in hex): odd ``n`` in
    production for ann@example.com, even in staging for nobody; ``n < 3`` a warning."""
    settings = Settings(data_dir=tmp_path / "data")
    runtime = Runtime(settings)
    try:
        welcome = ensure_defaults(runtime.store, settings.base_url)
        project = runtime.store.get_project("default", "default")
        assert project is not None and welcome.api_token
        for n in range(12):
            grouped = error(
                project.id,
                "checkout",
                at=NOW - n,
                event_id=f"{n:032x}",
                title="ValueError: bad total",
                level="warning" if n < 3 else "error",
                environment="production" if n % 2 else "staging",
                release="shop@2.0",
                tags={"customer_tier": "gold" if n % 4 == 1 else "free"},
            )
            if n % 2:
                grouped.event.user = User(id="7", email="ann@example.com")
                grouped.event.request = {"url": f"https://shop.example/cart/{n}"}
            record_errors(runtime.store, grouped)
        issues, _ = runtime.store.list_issues(IssueFilter(project.id), limit=5, cursor=None)
        client = TestClient(create_app(settings, runtime), base_url="http://testserver")
        client.headers["Authorization"] = f"Bearer {welcome.api_token}"
        yield client, issues[0]
    finally:
        runtime.close()


def shown(html: str) -> list[int]:
    """The events the table lists, by their number, in order."""
    return [int(found, 16) for found in re.findall(r'data-event-id="([0-9a-f]{32})"', html)]


def test_the_tab_lists_every_event_linking_back_to_the_issue_page(
    app: tuple[TestClient, Issue],
) -> None:
    client, issue = app
    detail = client.get(f"/issues/{issue.id}/")
    assert f'href="/issues/{issue.id}/events/"' in detail.text
    page = client.get(f"/issues/{issue.id}/events/")
    assert page.status_code == 200, page.text
    assert shown(page.text) == list(range(12))
    first = f"{0:032x}"
    assert f'href="/issues/{issue.id}/?event={first}"' in page.text
    assert "https://shop.example/cart/1" in page.text  # the request URL
    assert "ann@example.com" in page.text  # the user's label
    assert "shop@2.0" in page.text and "production" in page.text
    assert 'aria-current="page"' in page.text
    assert "<script>" not in page.text.split("</head>", 1)[1]  # CSP: no inline script
    # The issue page still opens the event a row links to.
    assert client.get(f"/issues/{issue.id}/?event={first}").status_code == 200


def test_the_search_filters_the_events(app: tuple[TestClient, Issue]) -> None:
    client, issue = app

    def found(query: str) -> list[int]:
        response = client.get(f"/issues/{issue.id}/events/", params={"query": query})
        assert response.status_code == 200, response.text
        return shown(response.text)

    assert found("environment:production") == [1, 3, 5, 7, 9, 11]
    assert found("level:warning") == [0, 1, 2]
    assert found("customer_tier:gold") == [1, 5, 9]
    assert found("user.email:ann@example.com !customer_tier:gold") == [3, 7, 11]
    assert found("user:7 level:error cart/11") == [11]
    assert found("!has:user") == [0, 2, 4, 6, 8, 10]
    assert found("release:latest timestamp:-1h BAD TOTAL") == list(range(12))
    empty = client.get(f"/issues/{issue.id}/events/", params={"query": "nothing-like-it"})
    assert "No events match" in empty.text
    assert 'value="nothing-like-it"' in empty.text  # the box keeps the search


def test_search_mistakes_are_shown_not_swallowed(app: tuple[TestClient, Issue]) -> None:
    client, issue = app
    for query, message in (
        ("is:resolved", "is: filters issues, not events"),
        ("custmer_tier:gold", "unknown search key"),
        ("timestamp:soon", "use a relative time"),
        ("x" * 5000, "too long"),
    ):
        page = client.get(f"/issues/{issue.id}/events/", params={"query": query})
        assert page.status_code == 400, (query, page.status_code)
        assert message in page.text
        assert shown(page.text) == []
    hostile = client.get(f"/issues/{issue.id}/events/", params={"query": '"><script>x</script>'})
    assert hostile.status_code == 200
    assert "<script>x</script>" not in hostile.text
    bad_cursor = client.get(f"/issues/{issue.id}/events/", params={"cursor": "nope"})
    assert bad_cursor.status_code == 400 and "invalid cursor" in bad_cursor.text
    assert client.get("/issues/999999/events/").status_code == 404


def test_pages_go_older_and_back_to_the_newest(
    app: tuple[TestClient, Issue], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, issue = app
    monkeypatch.setattr(issue_events, "PAGE_SIZE", 4)
    url = f"/issues/{issue.id}/events/?query=environment%3Aproduction"
    seen: list[int] = []
    pages = 0
    while url:
        page = client.get(url)
        seen += shown(page.text)
        pages += 1
        assert "query=environment%3Aproduction" in url
        older = re.search(r'<a class="btn" href="([^"]+)" rel="next">Older', page.text)
        url = older.group(1).replace("&amp;", "&") if older else ""
        if pages > 1:
            assert "← Newest" in page.text
    assert seen == [1, 3, 5, 7, 9, 11] and pages == 2


def test_the_scan_cap_is_told_and_older_goes_on(
    app: tuple[TestClient, Issue], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, issue = app
    monkeypatch.setattr(event_scan, "SCAN_CAP", 5)
    monkeypatch.setattr(event_scan, "STEP", 2)
    page = client.get(f"/issues/{issue.id}/events/", params={"query": "user.email:ann@example.com"})
    assert shown(page.text) == [1, 3]
    assert "Searched the newest 5 events and found 2" in page.text
    older = re.search(r'href="([^"]+)" rel="next">Older', page.text)
    assert older is not None
    page = client.get(older.group(1).replace("&amp;", "&"))
    assert shown(page.text) == [5, 7, 9]
    assert "Searched the next 5 events" in page.text


def test_the_api_takes_the_same_query(app: tuple[TestClient, Issue]) -> None:
    client, issue = app
    url = f"/api/0/issues/{issue.id}/events/"
    everything = client.get(url)
    assert [e["eventID"] for e in everything.json()] == [f"{n:032x}" for n in range(12)]
    prod = client.get(url, params={"query": "environment:production customer_tier:gold"})
    assert prod.status_code == 200
    assert [int(e["eventID"], 16) for e in prod.json()] == [1, 5, 9]
    paged = client.get(url, params={"query": "level:error", "limit": 2})
    assert [int(e["eventID"], 16) for e in paged.json()] == [3, 4]
    following = re.search(r'<([^>]+)>; rel="next"; results="true"', paged.headers["Link"])
    assert following is not None
    more = client.get(following.group(1))
    assert [int(e["eventID"], 16) for e in more.json()] == [5, 6]
    bad = client.get(url, params={"query": "assigned:me"})
    assert bad.status_code == 400
    assert "assigned: filters issues, not events" in bad.json()["detail"]
