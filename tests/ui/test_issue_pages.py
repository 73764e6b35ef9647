"""The issue list and issue page in headless Chromium, fed by the real sentry-sdk."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.conftest import LiveServer
from tests.ui.conftest import PageProblems, new_context, session_client

pytestmark = pytest.mark.ui

ISSUES = "/default/default/issues/"


def row(page: Page, title: str) -> Locator:
    return page.locator("tr.issue-row", has=page.locator(".issue-title", has_text=title))


def open_issue(page: Page, title: str) -> None:
    page.goto(ISSUES + "?status=all")
    row(page, title).locator(".issue-title").click()
    expect(page.locator("h1.issue-h1")).to_contain_text(title)


def test_issue_list_shows_each_issue_with_its_counts(page: Page) -> None:
    page.goto(ISSUES)
    expect(page.locator("tr.issue-row")).to_have_count(5)
    zero = row(page, "ZeroDivisionError")
    expect(zero.locator("td.num").nth(0)).to_have_text("2")  # events
    expect(zero.locator("td.num").nth(1)).to_have_text("1")  # users
    expect(zero.locator(".culprit")).to_contain_text("in divide")
    expect(zero.locator(".level")).to_have_text("error")
    expect(zero.locator("svg.spark rect.bar")).to_have_count(1)  # all events this hour
    expect(row(page, "RuntimeError").locator("td.num").nth(0)).to_have_text("2")
    expect(row(page, "Payment provider").locator(".level")).to_have_text("warning")
    expect(row(page, "Payment provider").locator(".badge-new")).to_be_visible()


def test_search_and_filters_narrow_the_list(page: Page) -> None:
    page.goto(ISSUES)
    page.fill("input[name=query]", "ZeroDivision")
    page.press("input[name=query]", "Enter")
    expect(page.locator("tr.issue-row")).to_have_count(1)
    expect(page.locator("tr.issue-row .issue-title")).to_contain_text("ZeroDivisionError")

    page.fill("input[name=query]", "")
    page.press("input[name=query]", "Enter")
    expect(page.locator("tr.issue-row")).to_have_count(5)
    # The select submits through ui.js: let the new page finish loading it first.
    page.wait_for_load_state("load")
    page.select_option("select[name=level]", "warning")  # submits by itself
    expect(page).to_have_url(re.compile(r"level=warning"))
    expect(page.locator("tr.issue-row")).to_have_count(1)
    expect(page.locator("tr.issue-row .issue-title")).to_contain_text("Payment provider")

    page.goto(ISSUES)
    page.select_option("select[name=environment]", "staging")
    expect(page.locator("tr.issue-row")).to_have_count(2)  # the ui_app issues

    page.goto(ISSUES + "?query=" + "level:error+release:shop@2.0.0+JSON")
    expect(page.locator("tr.issue-row")).to_have_count(1)
    expect(page.locator("tr.issue-row .issue-title")).to_contain_text("JSONDecodeError")

    page.goto(ISSUES + "?query=is:bogus")
    expect(page.locator(".alert-error")).to_contain_text("unknown status")


def test_issue_page_shows_chain_frames_context_and_variables(page: Page) -> None:
    open_issue(page, "RuntimeError")
    titles = page.locator(".exception-title")
    expect(titles).to_have_count(2)
    expect(titles.nth(0)).to_contain_text("RuntimeError: checkout failed for order")
    expect(titles.nth(1)).to_contain_text("KeyError")
    expect(page.locator(".chain-sep")).to_have_text(
        "The above exception was directly caused by the following exception:"
    )
    crash = page.locator(".exception").nth(0).locator("details.frame").first
    expect(crash).to_have_attribute("open", "")
    expect(crash.locator("summary")).to_contain_text("checkout")
    expect(crash.locator("summary .badge-crash")).to_have_text("raised here")
    current = crash.locator(".source li.current")
    expect(current).to_contain_text('raise RuntimeError(f"checkout failed for order {order_id}")')
    expect(current.locator(".ln")).to_have_text(re.compile(r"^\d+$"))
    expect(crash.locator("table.vars")).to_contain_text("order_id")
    expect(crash.locator("table.vars")).to_contain_text("100")

    # Python's own reading order on demand, remembered for the next page.
    page.click("text=Oldest call first")
    expect(page.locator(".exception-title").nth(0)).to_contain_text("KeyError")
    expect(page.locator(".chain-sep")).to_have_text(
        "The above exception was the direct cause of the following exception:"
    )
    page.goto(page.url.split("?")[0])
    expect(page.locator(".exception-title").nth(0)).to_contain_text("KeyError")
    page.click("text=Most recent call first")
    expect(page.locator(".exception-title").nth(0)).to_contain_text("RuntimeError")


def test_issue_page_shows_breadcrumbs_user_tags_contexts_and_raw_json(page: Page) -> None:
    open_issue(page, "ZeroDivisionError")
    expect(page.locator("#breadcrumbs")).to_contain_text("user logged in")
    expect(page.locator("#breadcrumbs")).to_contain_text("auth")
    expect(page.locator("#user")).to_contain_text("user-42")
    expect(page.locator("#user")).to_contain_text("ada@example.com")
    tags = page.locator("#tags")
    expect(tags.locator(".tag", has_text="customer_tier")).to_contain_text("gold")
    expect(tags.locator(".tag", has_text="environment")).to_contain_text("production")
    expect(page.locator(".card", has_text="Runtime").first).to_contain_text("CPython")
    expect(page.locator("#tags-breakdown")).to_contain_text("customer_tier")
    expect(page.locator("#tags-breakdown")).to_contain_text("100%")
    crash_vars = page.locator("details.frame").first.locator("table.vars")
    expect(crash_vars).to_contain_text("[Filtered]")  # scrubbed on the server
    expect(crash_vars).not_to_contain_text("hunter2")
    stats = page.locator("dl.stats")
    expect(stats).to_contain_text("app@1.0.0")
    expect(stats.locator("dd.big").first).to_have_text("2")

    raw = page.locator("details.raw-json")
    expect(raw.locator("pre")).not_to_be_visible()
    raw.locator("summary").click()
    expect(raw.locator("pre")).to_contain_text('"eventID"')
    api = raw.locator("a", has_text="Open in API")
    expect(api).to_have_attribute("href", re.compile(r"^/api/0/projects/default/default/events/"))


def test_event_navigation_walks_the_issues_events(page: Page) -> None:
    open_issue(page, "ZeroDivisionError")
    first_id = page.locator(".event-id code").get_attribute("title")
    expect(page.locator(".event-nav .disabled", has_text="Newer")).to_be_visible()
    page.click(".event-nav >> text=Older")
    second_id = page.locator(".event-id code").get_attribute("title")
    assert second_id and second_id != first_id
    expect(page.locator(".event-nav .disabled", has_text="Older")).to_be_visible()
    page.click(".event-nav >> text=Newer")
    assert page.locator(".event-id code").get_attribute("title") == first_id
    page.goto(page.url.split("?")[0] + "?event=" + "0" * 32)
    expect(page.locator(".error-code")).to_have_text("404")


def test_events_tab_lists_searches_and_opens_the_issues_events(page: Page) -> None:
    open_issue(page, "ZeroDivisionError")
    page.click("[data-events-tab]")
    page.wait_for_selector("tr.event-row")
    rows = page.locator("tr.event-row")
    expect(rows).to_have_count(2)
    expect(rows.first.locator(".col-user")).to_have_text("ada@example.com")
    expect(rows.first.locator(".col-env")).to_have_text("production")
    page.fill("input[name=query]", "user.id:user-42 customer_tier:gold division")
    page.press("input[name=query]", "Enter")
    expect(page).to_have_url(re.compile(r"query=user.id"))
    expect(page.locator("tr.event-row")).to_have_count(2)
    page.fill("input[name=query]", "environment:staging")
    page.press("input[name=query]", "Enter")
    expect(page.locator("[data-empty]")).to_contain_text("No events match")
    page.fill("input[name=query]", "is:resolved")
    page.press("input[name=query]", "Enter")
    expect(page.locator(".alert-error")).to_contain_text("filters issues, not events")

    page.set_viewport_size({"width": 390, "height": 844})
    page.fill("input[name=query]", "")
    page.press("input[name=query]", "Enter")
    page.wait_for_selector("tr.event-row")
    assert page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth") <= 0
    event_id = page.locator("tr.event-row").nth(1).get_attribute("data-event-id")
    page.locator("tr.event-row").nth(1).locator(".issue-title").click()
    expect(page).to_have_url(re.compile(rf"\?event={event_id}$"))
    expect(page.locator(".event-id code")).to_have_attribute("title", str(event_id))


def test_library_frames_collapsed_in_app_frames_expanded(page: Page) -> None:
    open_issue(page, "JSONDecodeError")
    library = page.locator("details.frame.library")
    in_app = page.locator("details.frame.in-app")
    assert library.count() >= 2 and in_app.count() >= 2
    for index in range(library.count()):
        expect(library.nth(index)).not_to_have_attribute("open", "")
    for index in range(in_app.count()):
        expect(in_app.nth(index)).to_have_attribute("open", "")
    expect(library.first.locator(".source")).not_to_be_visible()
    library.first.locator("summary").click()
    expect(library.first).to_have_attribute("open", "")
    page.click("button[data-toggle-frames]")
    expect(page.locator("details.frame:not([open])")).to_have_count(0)
    expect(page.locator(".exception .badge-unhandled")).to_have_text("unhandled")

    request = page.locator("#request")
    expect(request.locator(".method")).to_have_text("POST")
    expect(request).to_contain_text("/api/orders")
    expect(request.locator("tr", has_text="coupon")).to_contain_text("SPRING")
    expect(request.locator("tr", has_text="Authorization")).to_contain_text("[Filtered]")
    expect(request).not_to_contain_text("very-secret-token")


def test_resolve_and_reopen_move_the_issue_between_tabs(page: Page) -> None:
    open_issue(page, "ZeroDivisionError")
    page.click("button[value=resolve]")
    expect(page.locator(".issue-header .badge-resolved")).to_have_text("Resolved")
    page.goto(ISSUES)
    expect(row(page, "ZeroDivisionError")).to_have_count(0)
    page.click(".tabs a:text-is('Resolved')")
    expect(row(page, "ZeroDivisionError")).to_have_count(1)

    row(page, "ZeroDivisionError").locator(".issue-title").click()
    page.click("button[value=reopen]")
    expect(page.locator(".issue-header .badge-unresolved")).to_be_visible()
    page.goto(ISSUES)
    expect(row(page, "ZeroDivisionError")).to_have_count(1)


def test_bulk_ignore_and_reopen_from_the_list(page: Page) -> None:
    page.goto(ISSUES)
    expect(page.locator("#bulk button[value=ignore]")).to_be_disabled()
    row(page, "Payment provider").locator("input[type=checkbox]").check()
    row(page, "JSONDecodeError").locator("input[type=checkbox]").check()
    expect(page.locator("[data-selection-note]")).to_have_text("2 selected")
    page.click("#bulk button[value=ignore]")
    expect(page.locator("tr.issue-row")).to_have_count(3)
    page.click(".tabs a:text-is('Ignored')")
    expect(page.locator("tr.issue-row")).to_have_count(2)
    expect(row(page, "Payment provider").locator(".badge-ignored")).to_be_visible()
    page.check("[data-select-all]")
    page.click("#bulk button[value=reopen]")
    expect(page.locator("tr.issue-row")).to_have_count(0)
    page.click(".tabs a:text-is('Unresolved')")
    expect(page.locator("tr.issue-row")).to_have_count(5)


def test_script_in_event_data_is_inert_text(page: Page) -> None:
    page.goto(ISSUES)
    expect(row(page, "ValueError").locator(".issue-title")).to_contain_text(
        "<script>alert(1)</script>"
    )
    row(page, "ValueError").locator(".issue-title").click()
    expect(page.locator("h1.issue-h1")).to_contain_text("<script>alert(1)</script>")
    expect(page.locator(".exception-title")).to_contain_text("<script>alert(1)</script>")
    expect(page.locator("#tags")).to_contain_text("<img src=x onerror=alert(2)>")
    expect(page.locator("#breadcrumbs")).to_contain_text("<b>bold</b><script>alert(3)</script>")
    assert page.locator("main script, main img, main b").count() == 0
    # The `page` fixture fails the test if any dialog fired.


def test_copy_button_copies_the_raw_json(page: Page) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    open_issue(page, "Payment provider")
    expect(page.locator("#message")).to_contain_text("Payment provider returned 503")
    page.locator("details.raw-json summary").click()
    page.click("button[data-copy]")
    expect(page.locator("button[data-copy]")).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert '"eventID"' in copied


def test_project_switcher_and_logout_menu(page: Page) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/default/default/issues/$"))
    page.click(".project-switcher summary")
    expect(page.locator(".project-switcher a", has_text="Default project")).to_be_visible()
    page.click(".user-menu summary")
    expect(page.locator(".user-menu")).to_contain_text("admin@heliograph.local")
    expect(page.locator(".user-menu button", has_text="Log out")).to_be_visible()
    # Only pages that exist are linked from the nav.
    hrefs = page.locator("header.topbar a").evaluate_all(
        "els => els.map(e => e.getAttribute('href'))"
    )
    assert {"/", "/default/default/issues/"} <= set(hrefs)
    for href in set(hrefs):
        assert page.request.get(href).status == 200, href


def test_login_link_works_once_and_pages_need_login(
    chromium: Browser, seeded_server: LiveServer, session: object
) -> None:
    context = new_context(chromium, seeded_server)
    try:
        tab = context.new_page()
        problems = PageProblems(tab)
        tab.goto("/issues/1/")
        expect(tab).to_have_url(re.compile(r"/login\?next=/issues/1/$"))
        expect(tab.locator("form[action='/login']")).to_be_visible()
        response = tab.goto(seeded_server.login_url)  # already used by the `session` fixture
        assert response is not None and response.status == 403
        expect(tab.locator(".alert-error")).to_contain_text("expired or was already used")
        tab.goto(ISSUES)
        expect(tab).to_have_url(re.compile(r"/login\?next="))
        assert problems.dialogs == []
    finally:
        context.close()


def test_logout_ends_the_session(chromium: Browser, seeded_server: LiveServer) -> None:
    client = session_client(seeded_server)
    cookie = client.cookies.get("heliograph_session")
    client.close()
    context = new_context(chromium, seeded_server)
    try:
        context.add_cookies(
            [{"name": "heliograph_session", "value": cookie or "", "url": seeded_server.url}]
        )
        tab = context.new_page()
        tab.goto(ISSUES)
        expect(tab.locator("h1")).to_have_text("Issues")
        tab.click(".user-menu summary")
        tab.click(".user-menu button")
        expect(tab).to_have_url(re.compile(r"/login$"))
        tab.goto(ISSUES)
        expect(tab).to_have_url(re.compile(r"/login\?next="))
    finally:
        context.close()
