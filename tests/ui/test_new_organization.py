"""A superuser creates an organization from the account menu, then its first project."""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.conftest import LiveServer
from tests.stores import server_store

pytestmark = pytest.mark.ui


@pytest.fixture(scope="module")
def session(admin_session: BrowserContext) -> BrowserContext:
    """No events needed: the first-start admin (a superuser) on a fresh server."""
    return admin_session


def test_new_organization_then_its_first_project(page: Page, live_server: LiveServer) -> None:
    page.goto("/default/default/settings/")
    page.locator(".user-menu summary").click()
    page.locator(".user-menu a", has_text="New organization").click()
    expect(page).to_have_url(f"{live_server.url}/orgs/new/")

    # A taken slug is refused on the form, with what was typed kept.
    page.fill("#new-organization input[name=name]", "Acme Inc")
    page.fill("#new-organization input[name=slug]", "default")
    page.click("#new-organization button[type=submit]")
    expect(page.locator(".alert-error")).to_contain_text("already exists")
    expect(page.locator("#new-organization input[name=name]")).to_have_value("Acme Inc")

    page.fill("#new-organization input[name=slug]", "")
    page.click("#new-organization button[type=submit]")
    expect(page).to_have_url(f"{live_server.url}/orgs/acme-inc/members/?done=org_created")
    expect(page.locator(".alert-ok")).to_contain_text("Organization created")

    # The account menu switches between the two organizations.
    page.locator(".user-menu summary").click()
    current = page.locator(".org-switcher a[aria-current]")
    expect(current).to_contain_text("Acme Inc")
    expect(page.locator(".org-switcher a", has_text="Default")).to_have_count(1)

    form = page.locator("#new-project")
    form.locator("input[name=name]").fill("Storefront")
    form.locator("button", has_text="Create project").click()
    expect(page).to_have_url(f"{live_server.url}/acme-inc/storefront/setup/")
    with server_store(live_server) as store:
        org = store.get_organization("acme-inc")
        assert org is not None
        assert [p.slug for p in store.organization_projects(org.id)] == ["storefront"]
