"""Organizations and projects created, renamed and deleted over the API (in process)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from heliograph.app import create_app
from heliograph.bootstrap import ensure_defaults
from heliograph.config import Settings
from heliograph.runtime import Runtime


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, Runtime, str]]:
    settings = Settings(data_dir=tmp_path / "data")
    runtime = Runtime(settings)
    try:
        welcome = ensure_defaults(runtime.store, settings.base_url)
        assert welcome.api_token
        client = TestClient(create_app(settings, runtime), base_url="http://testserver")
        client.headers["Authorization"] = f"Bearer {welcome.api_token}"
        yield client, runtime, welcome.api_token
    finally:
        runtime.close()


def member_token(runtime: Runtime, org_slug: str, role: str) -> str:
    org = runtime.store.get_organization(org_slug)
    assert org is not None
    user = runtime.store.create_user(f"{role}@example.com")
    runtime.store.add_member(user.id, org.id, role)
    return runtime.store.create_api_token(user.id, "t")


def test_create_an_organization_then_projects_in_it(api: tuple[TestClient, Runtime, str]) -> None:
    client, runtime, _ = api
    created = client.post("/api/0/organizations/", json={"name": "Acme Inc", "slug": "acme"})
    assert created.status_code == 201, created.text
    assert created.json()["slug"] == "acme"
    assert client.post("/api/0/organizations/", json={"slug": "acme"}).status_code == 400
    assert client.post("/api/0/organizations/", json={"slug": "a b"}).status_code == 400
    assert "acme" in [o["slug"] for o in client.get("/api/0/organizations/").json()]

    # No team: shared with the whole organization. The slug comes from the name.
    shop = client.post("/api/0/organizations/acme/projects/", json={"name": "My Shop"})
    assert shop.status_code == 201, shop.text
    assert (shop.json()["slug"], shop.json()["platform"]) == ("my-shop", "python")
    dsn = shop.json()["keys"][0]["dsn"]["public"]
    assert dsn.endswith(f"/{shop.json()['id']}")

    # Sentry's route: in a team.
    team = runtime.store.create_team(runtime.store.get_organization("acme").id, "Web")  # type: ignore[union-attr]
    web = client.post(
        f"/api/0/teams/acme/{team.slug}/projects/", json={"slug": "web", "platform": "javascript"}
    )
    assert web.status_code == 201, web.text
    teams = runtime.store.team_projects(team.organization_id)
    assert teams[team.id] == {int(web.json()["id"])}
    assert client.post("/api/0/teams/acme/nope/projects/", json={"slug": "x"}).status_code == 404
    assert (
        client.post("/api/0/organizations/acme/projects/", json={"slug": "web"}).status_code == 400
    )
    listed = client.get("/api/0/organizations/acme/projects/").json()
    assert sorted(p["slug"] for p in listed) == ["my-shop", "web"]


def test_rename_and_delete_a_project(api: tuple[TestClient, Runtime, str]) -> None:
    client, runtime, _ = api
    client.post("/api/0/organizations/default/projects/", json={"slug": "shop"})
    renamed = client.put("/api/0/projects/default/shop/", json={"name": "The Shop"})
    assert renamed.json()["name"] == "The Shop"
    key = client.get("/api/0/projects/default/shop/keys/").json()[0]["public"]
    assert runtime.keys.project_for(key) is not None

    assert client.delete("/api/0/projects/default/shop/").status_code == 204
    assert client.get("/api/0/projects/default/shop/").status_code == 404
    assert runtime.keys.project_for(key) is None, "its keys are refused at once"
    assert client.delete("/api/0/projects/default/heliograph-internal/").status_code == 400


def test_who_may_create_and_delete(api: tuple[TestClient, Runtime, str]) -> None:
    client, runtime, _ = api
    client.post("/api/0/organizations/default/projects/", json={"slug": "shop"})
    for role, may in (("member", False), ("admin", True)):
        headers = {"Authorization": f"Bearer {member_token(runtime, 'default', role)}"}
        made = client.post(
            "/api/0/organizations/default/projects/", json={"slug": f"by-{role}"}, headers=headers
        )
        assert made.status_code == (201 if may else 403)
        assert (
            client.post("/api/0/organizations/", json={"slug": role}, headers=headers).status_code
            == 403
        )
        if not may:
            gone = client.delete("/api/0/projects/default/shop/", headers=headers)
            assert gone.status_code == 403
    outsider = runtime.store.create_user("out@example.com")
    headers = {"Authorization": f"Bearer {runtime.store.create_api_token(outsider.id, 't')}"}
    assert client.get("/api/0/organizations/default/", headers=headers).status_code == 404


def test_the_organization_ai_policy(api: tuple[TestClient, Runtime, str]) -> None:
    client, runtime, _ = api
    changed = client.put("/api/0/organizations/default/", json={"aiPolicy": "disabled"})
    assert changed.status_code == 200 and changed.json()["aiPolicy"] == "disabled"
    assert runtime.store.get_organization("default").ai_policy == "disabled"  # type: ignore[union-attr]
    assert (
        client.put("/api/0/organizations/default/", json={"aiPolicy": "maybe"}).status_code == 400
    )
    headers = {"Authorization": f"Bearer {member_token(runtime, 'default', 'member')}"}
    refused = client.put(
        "/api/0/organizations/default/", json={"aiPolicy": "allowed"}, headers=headers
    )
    assert refused.status_code == 403
