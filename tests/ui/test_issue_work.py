"""Finding and working on issues in headless Chromium: time range and count, search
keys, assigning, commenting and the activity log, the per-release table."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from heliograph.bootstrap import ADMIN_EMAIL
from tests.conftest import LiveServer

pytestmark = pytest.mark.ui

ISSUES = "/default/default/issues/"
ISSUES_API = "/api/0/projects/default/default/issues/"


def row(page: Page, title: str) -> Locator:
    return page.locator("tr.issue-row", has=page.locator(".issue-title", has_text=title))


def open_issue(page: Page, title: str) -> None:
    page.goto(ISSUES + "?status=all")
    row(page, title).locator(".issue-title").click()
    expect(page.locator("h1.issue-h1")).to_contain_text(title)


def test_time_range_and_count(page: Page) -> None:
    page.goto(ISSUES)
    expect(page.locator("[data-total]")).to_have_text("5 issues")
    page.wait_for_load_state("load")
    page.select_option("select[name=range]", "24h")  # submits by itself
    expect(page).to_have_url(re.compile(r"range=24h"))
    expect(page.locator("tr.issue-row")).to_have_count(5)
    page.goto(ISSUES + "?range=custom&start=2001-01-01&end=2001-01-31")
    expect(page.locator("input[name=start]")).to_have_value("2001-01-01")
    expect(page.locator("tr.issue-row")).to_have_count(0)
    expect(page.locator("[data-total]")).to_have_text("0 issues")
    page.goto(ISSUES + "?query=level:error+firstSeen:-1h")
    expect(page.locator("[data-total]")).to_have_text("4 issues")


def test_search_mistakes_are_explained(page: Page) -> None:
    page.goto(ISSUES + "?query=customr_tier:gold")
    expect(page.locator(".alert-error")).to_contain_text("unknown search key 'customr_tier'")
    page.goto(ISSUES + "?query=firstSeen:yesterday")
    expect(page.locator(".alert-error")).to_contain_text("use a relative time")


def test_assign_comment_and_the_activity_log(page: Page) -> None:
    open_issue(page, "ZeroDivisionError")
    expect(page.locator("[data-assignee]")).to_have_text("Unassigned")
    page.locator("#assignee select").select_option(index=1)  # the only member
    page.click("#assignee button")
    expect(page.locator("[data-assignee]")).not_to_have_text("Unassigned")
    page.fill("#activity textarea", "<b>on it</b> & <script>alert(1)</script>")
    page.click("#activity button")
    note = page.locator("[data-activity=note] .comment-text")
    expect(note).to_have_text("<b>on it</b> & <script>alert(1)</script>")  # text, not HTML
    page.click("button[value=resolve]")
    log = page.locator("#activity ol")
    expect(log.locator("li").first).to_contain_text("resolved it")
    expect(log).to_contain_text("commented")
    expect(log).to_contain_text("assigned it to")
    page.click("button[value=reopen]")
    expect(log.locator("li").first).to_contain_text("reopened it")

    page.goto(ISSUES + "?query=assigned:me")
    expect(page.locator("tr.issue-row")).to_have_count(1)
    expect(page.locator("tr.issue-row .issue-title")).to_contain_text("ZeroDivisionError")
    page.goto(ISSUES + "?query=!has:assignee")
    expect(page.locator("tr.issue-row")).to_have_count(4)


def test_releases_of_an_issue(page: Page) -> None:
    open_issue(page, "JSONDecodeError")
    releases = page.locator("#releases")
    expect(releases.locator("tbody tr")).not_to_have_count(0)
    expect(releases).to_contain_text("shop@2.0.0")


def test_a_pasted_event_id_opens_the_event(page: Page) -> None:
    open_issue(page, "ZeroDivisionError")
    api_link = page.locator("a[href^='/api/0/projects/'][href*='/events/']").first
    event_id = (api_link.get_attribute("href") or "").rstrip("/").split("/")[-1]
    assert re.fullmatch(r"[0-9a-f]{32}", event_id), event_id
    page.goto(ISSUES + "?query=" + event_id)
    expect(page).to_have_url(re.compile(rf"/issues/\d+/\?event={event_id}"))
    expect(page.locator("h1.issue-h1")).to_contain_text("ZeroDivisionError")


def test_the_api_searches_assigns_and_comments(seeded_server: LiveServer) -> None:
    with seeded_server.api() as api:
        listed = api.get(ISSUES_API, params={"query": "level:warning"})
        assert listed.status_code == 200 and listed.headers["X-Hits"] == "1"
        bad = api.get(ISSUES_API, params={"query": "nosuchkey:1"})
        assert bad.status_code == 400 and "unknown search key" in bad.json()["detail"]
        bad = api.get(ISSUES_API, params={"range": "1y"})
        assert bad.status_code == 400
        issue = listed.json()[0]
        url = f"/api/0/issues/{issue['id']}/"
        assigned = api.put(url, json={"assignedTo": ADMIN_EMAIL})
        assert assigned.status_code == 200, assigned.text
        assert api.get(url).json()["assignedTo"]["type"] == "user"
        assert api.put(url, json={"assignedTo": "nobody@example.com"}).status_code == 400
        assert api.put(url, json={"assignedTo": "team:999"}).status_code == 400
        comments = f"{url}comments/"
        assert api.post(comments, json={"text": "  "}).status_code == 400
        made = api.post(comments, json={"text": "<i>seen</i>"})
        assert made.status_code == 201 and made.json()["data"] == {"text": "<i>seen</i>"}
        assert [c["type"] for c in api.get(comments).json()] == ["note"]
        assert api.put(url, json={"status": "resolved", "assignedTo": None}).status_code == 200
        kinds = [a["type"] for a in api.get(f"{url}activities/").json()["activity"]]
        assert kinds[:3] == ["unassigned", "set_resolved", "note"]  # newest first
        assert api.get(url).json()["numComments"] == 1
        assert api.put(url, json={"status": "unresolved"}).status_code == 200
