"""Owners create a project from the organization page and land on its setup page."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import LiveServer
from tests.stores import server_store

pytestmark = pytest.mark.ui


def test_owner_creates_a_project_and_lands_on_its_setup(
    page: Page, seeded_server: LiveServer
) -> None:
    page.goto("/orgs/default/members/")
    form = page.locator("#new-project")
    form.locator("input[name=name]").fill("Checkout Service")
    form.locator("button", has_text="Create project").click()
    expect(page).to_have_url(f"{seeded_server.url}/default/checkout-service/setup/")
    dsn = page.locator("#dsn").inner_text()
    assert dsn.endswith(f"@{seeded_server.url.split('://')[1]}/" + dsn.rsplit("/", 1)[1])
    with server_store(seeded_server) as store:
        project = store.get_project("default", "checkout-service")
        assert project is not None and project.name == "Checkout Service"
        assert [k.public_key for k in store.project_keys(project.id)] == [
            dsn.split("://")[1].split("@")[0]
        ]
    # The same slug again is refused with the reason, not a 500.
    page.goto("/orgs/default/members/")
    form.locator("input[name=name]").fill("Checkout Service")
    form.locator("button", has_text="Create project").click()
    expect(page.locator(".alert-error")).to_contain_text("already exists")
