"""The organization's AI policy on its members page (issue 16): owners and admins set it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import LiveServer
from tests.stores import server_store

pytestmark = pytest.mark.ui


def test_owner_sets_the_organization_ai_policy(page: Page, seeded_server: LiveServer) -> None:
    page.goto("/orgs/default/members/")
    section = page.locator("#ai-policy")
    expect(section.locator("select[name=ai_policy]")).to_have_value("allowed")
    section.locator("select[name=ai_policy]").select_option("pii_certification_required")
    section.locator("button", has_text="Save policy").click()
    expect(page.locator(".alert-ok")).to_have_text("Settings saved.")
    expect(section.locator("select[name=ai_policy]")).to_have_value("pii_certification_required")
    with server_store(seeded_server) as store:
        org = store.get_organization("default")
        assert org is not None and org.ai_policy == "pii_certification_required"
        store.update_organization(org.id, ai_policy="allowed")  # leave it as other tests expect
