"""The UI on a phone (390x844, an iPhone 14) and on a 1366 px laptop.

Issue 16: at 390 px the header overlapped itself, pages scrolled sideways,
issue titles were cut to ~8 characters, and the account and members pages
lost the project navigation.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.ui

ISSUES = "/default/default/issues/"
PHONE = {"width": 390, "height": 844}
# Functions, not expressions: Playwright calls them as they are (see test_llm_pages).
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


def assert_no_sideways_scroll(page: Page) -> None:
    # Measured once the stylesheet applies: the DOM (what expect() waits for) can be
    # there before it, and an unstyled page is wider than a phone.
    page.wait_for_load_state("load")
    assert page.evaluate(OVERFLOW) <= 0, f"{page.url} scrolls sideways"


def project_nav(page: Page) -> None:
    """The project's links are there, behind the "Menu" disclosure on a phone."""
    nav = page.locator("nav.mainnav")
    menu = nav.locator("details.nav-links > summary")
    expect(menu).to_be_visible()
    menu.click()
    for name in ("Issues", "LLM analytics", "Flags", "Alerts", "Settings"):
        expect(nav.get_by_role("link", name=name, exact=True)).to_be_visible()
    menu.click()


def test_pages_fit_a_phone(page: Page) -> None:
    page.set_viewport_size(PHONE)
    page.goto(ISSUES)
    assert_no_sideways_scroll(page)
    title = page.locator("tr.issue-row .issue-title", has_text="ZeroDivisionError").first
    # The title wraps instead of being ellipsised: every character is on screen.
    assert title.evaluate("e => e.scrollWidth <= e.clientWidth")
    text = title.inner_text()
    assert len(text) >= 30, text
    project_nav(page)

    title.click()
    expect(page.locator("h1.issue-h1")).to_contain_text("ZeroDivisionError")
    assert_no_sideways_scroll(page)

    for path in ("/account/", "/orgs/default/members/"):
        page.goto(path)
        assert_no_sideways_scroll(page)
        project_nav(page)
        href = page.locator(".nav-links a", has_text="Issues").get_attribute("href")
        assert href == ISSUES, href


def test_header_fits_a_laptop(page: Page) -> None:
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(ISSUES)
    assert_no_sideways_scroll(page)
    # Every link is in the bar itself (no "Menu"), on one row.
    expect(page.locator("details.nav-links > summary")).to_be_hidden()
    links = page.locator("nav.mainnav a.navlink")
    expect(links).to_have_count(9)
    tops = {round(box["y"]) for box in (links.nth(i).bounding_box() for i in range(9)) if box}
    assert len(tops) == 1, tops
    assert page.locator("header.topbar").evaluate("e => e.getBoundingClientRect().height") <= 60
