"""The New organization page (in process): who may, what is refused, where it lands, and the
account menu's organizations."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from heliograph.runtime import Runtime
from tests.site import csrf, logged_in_site


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[TestClient, Runtime]]:
    """The first-start admin (a superuser), logged in with a cookie session."""
    with logged_in_site(tmp_path / "data") as found:
        yield found


def test_a_superuser_creates_an_organization_and_lands_on_its_members_page(
    site: tuple[TestClient, Runtime],
) -> None:
    client, runtime = site
    form = client.get("/orgs/new/")
    assert form.status_code == 200 and 'name="slug"' in form.text
    made = client.post(
        "/orgs/new/",
        data={"name": "Acme Inc", "slug": "", "csrf_token": csrf(client)},
        follow_redirects=False,
    )
    assert made.status_code == 303
    assert made.headers["location"] == "/orgs/acme-inc/members/?done=org_created"
    org = runtime.store.get_organization("acme-inc")
    assert org is not None and org.name == "Acme Inc"
    members = client.get(made.headers["location"]).text
    assert "Organization created" in members and 'id="new-project"' in members
    # The account menu now offers both organizations, the new one marked as current.
    assert '<a href="/orgs/acme-inc/members/" aria-current="true">' in members
    assert '<a href="/orgs/default/members/">' in members
    assert 'href="/orgs/new/"' in members


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"name": "Again", "slug": "default"}, "an organization &#39;default&#39; already exists"),
        ({"name": "Bad", "slug": "Not A Slug"}, "may have only lowercase letters"),
        ({"name": "x" * 101, "slug": "long"}, "longer than 100 characters"),
        ({"name": "", "slug": ""}, "the organization slug is empty"),
        ({"name": "Reserved", "slug": "api"}, "is reserved"),
    ],
)
def test_refusals_are_shown_on_the_form(
    site: tuple[TestClient, Runtime], fields: dict[str, str], reason: str
) -> None:
    client, runtime = site
    before = [o.slug for o in runtime.store.organizations()]
    refused = client.post("/orgs/new/", data={**fields, "csrf_token": csrf(client)})
    assert refused.status_code == 400
    assert reason in refused.text and 'class="alert alert-error"' in refused.text
    assert f'value="{fields["name"]}"' in refused.text  # what was typed stays
    assert [o.slug for o in runtime.store.organizations()] == before


def test_without_the_csrf_token_nothing_is_created(site: tuple[TestClient, Runtime]) -> None:
    client, runtime = site
    refused = client.post("/orgs/new/", data={"name": "Acme"})
    assert refused.status_code == 403 and runtime.store.get_organization("acme") is None


def test_only_superusers_may_as_for_the_api(site: tuple[TestClient, Runtime]) -> None:
    client, runtime = site
    store = runtime.store
    default = store.get_organization("default")
    assert default is not None
    owner = store.create_user("owner@example.com")
    store.add_member(owner.id, default.id, "owner")
    headers = {"Authorization": f"Bearer {store.create_api_token(owner.id, 't')}"}
    # An owner of an organization is not a superuser: 403 on the page and the API alike.
    assert client.get("/orgs/new/", headers=headers).status_code == 403
    page = client.post("/orgs/new/", data={"name": "Mine"}, headers=headers)
    assert page.status_code == 403 and "Only superusers" in page.text
    api = client.post("/api/0/organizations/", json={"name": "Mine"}, headers=headers)
    assert api.status_code == 403
    assert store.get_organization("mine") is None
    assert 'href="/orgs/new/"' not in client.get("/account/", headers=headers).text
    # A superuser's token without the admin scope is refused by both too.
    root = store.create_user("root@example.com", is_superuser=True)
    read_write = store.create_api_token(root.id, "rw", "read write")
    headers = {"Authorization": f"Bearer {read_write}"}
    assert client.post("/orgs/new/", data={"name": "Mine"}, headers=headers).status_code == 403
    api = client.post("/api/0/organizations/", json={"name": "Mine"}, headers=headers)
    assert api.status_code == 403 and "admin scope" in api.json()["detail"]


def test_home_lists_organizations_without_projects(site: tuple[TestClient, Runtime]) -> None:
    client, runtime = site
    store = runtime.store
    empty = store.create_organization("empty", "Empty Org")
    user = store.create_user("new@example.com")
    store.add_member(user.id, empty.id, "owner")
    headers = {"Authorization": f"Bearer {store.create_api_token(user.id, 't')}"}
    home = client.get("/", headers=headers)
    assert home.status_code == 200
    assert '<a href="/orgs/empty/members/">Empty Org</a>' in home.text
    assert "/orgs/new/" not in home.text
