"""The prompt APIs, in process: management under /api/0, SDK fetches at Langfuse's paths.

Versions created and read, labels moved and removed, per-version figures of
linked calls; who may read and write (viewers read, members write); the SDK
endpoint's Basic credentials (project key + API token, never the key alone).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from heliograph.app import create_app
from heliograph.bootstrap import ensure_defaults
from heliograph.config import Settings
from heliograph.runtime import Runtime
from heliograph.store.base import DigestBatch, Project
from tests.accounts import make_user
from tests.contract.builders import ai_event

PROMPTS = "/api/0/projects/default/default/prompts/"
PUBLIC = "/api/public/v2/prompts"
NOW = time.time()


@dataclass
class Api:
    client: TestClient
    runtime: Runtime
    project: Project
    public_key: str
    token: str

    def basic(self, secret: str | None = None, key: str | None = None) -> dict[str, str]:
        raw = f"{key or self.public_key}:{secret or self.token}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}

    def member_token(self, role: str, scopes: str = "read write") -> str:
        store = self.runtime.store
        org = store.get_organization("default")
        assert org is not None
        user = make_user(store, f"{role}@example.com", org.id, role)
        return store.create_api_token(user.id, "t", scopes)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    settings = Settings(data_dir=tmp_path / "data")
    runtime = Runtime(settings)
    try:
        welcome = ensure_defaults(runtime.store, settings.base_url)
        assert welcome.api_token is not None
        runtime.keys.changed()  # the default project's key, made after the runtime loaded keys
        client = TestClient(create_app(settings, runtime), base_url="http://testserver")
        client.headers["Authorization"] = f"Bearer {welcome.api_token}"
        yield Api(client, runtime, welcome.project, welcome.public_key, welcome.api_token)
    finally:
        runtime.close()


def create(api: Api, name: str, prompt: object, **fields: object) -> dict[str, object]:
    response = api.client.post(PROMPTS, json={"name": name, "prompt": prompt, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def test_versions_and_labels_over_the_api(api: Api) -> None:
    first = create(api, "summarise", "Summarise for {{audience}}: {{text}}",
                   config={"model": "gpt-4o-mini"}, labels=["production"],
                   commitMessage="first")  # fmt: skip
    assert first["version"] == 1 and first["type"] == "text"
    assert first["variables"] == ["audience", "text"] and first["labels"] == ["production"]
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "{{text}}"}]
    second = api.client.post(PROMPTS + "summarise/versions/", json={"prompt": chat})
    assert second.status_code == 201 and second.json()["version"] == 2
    assert second.json()["type"] == "chat" and second.json()["labels"] == []

    listed = api.client.get(PROMPTS).json()["results"]
    assert [(p["name"], p["latestVersion"], p["labels"]) for p in listed] == [
        ("summarise", 2, {"production": 1})
    ]
    assert api.client.get(PROMPTS + "summarise/").json()["version"] == 2  # latest
    assert api.client.get(PROMPTS + "summarise/?label=production").json()["version"] == 1
    assert api.client.get(PROMPTS + "summarise/?version=2").json()["prompt"] == chat
    assert api.client.get(PROMPTS + "summarise/?label=staging").status_code == 404

    moved = api.client.patch(PROMPTS + "summarise/versions/2/",
                             json={"newLabels": ["production", "staging"]})  # fmt: skip
    assert moved.status_code == 200 and moved.json()["labels"] == ["production", "staging"]
    versions = api.client.get(PROMPTS + "summarise/versions/").json()["results"]
    assert [(v["version"], v["labels"]) for v in versions] == [
        (2, ["production", "staging"]), (1, [])
    ]  # fmt: skip
    assert api.client.delete(PROMPTS + "summarise/labels/staging/").status_code == 204
    assert api.client.get(PROMPTS + "summarise/?label=staging").status_code == 404
    assert api.client.patch(PROMPTS + "summarise/versions/9/",
                            json={"newLabels": ["production"]}).status_code == 404  # fmt: skip


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"name": "bad name", "prompt": "x"}, "name must be"),
        ({"name": "ok", "prompt": ""}, "empty"),
        ({"name": "ok", "prompt": [{"role": "user"}]}, "content"),
        ({"name": "ok", "prompt": "x", "labels": ["latest"]}, "latest"),
        ({"name": "ok", "prompt": "x", "labels": ["Prod!"]}, "label"),
        ({"name": "ok", "prompt": "x", "config": [1]}, "config"),
        ({"name": "ok", "prompt": "x", "type": "chat"}, "list of messages"),
    ],
)
def test_bad_versions_are_refused_with_a_reason(api: Api, body: object, reason: str) -> None:
    response = api.client.post(PROMPTS, json=body)
    assert response.status_code == 400 and reason in response.json()["detail"]


def test_viewers_read_members_write(api: Api) -> None:
    create(api, "summarise", "x")
    viewer = {"Authorization": f"Bearer {api.member_token('viewer', 'read write')}"}
    member = {"Authorization": f"Bearer {api.member_token('member')}"}
    assert api.client.get(PROMPTS, headers=viewer).status_code == 200
    refused = api.client.post(PROMPTS, json={"name": "summarise", "prompt": "y"}, headers=viewer)
    assert refused.status_code == 403
    assert api.client.patch(PROMPTS + "summarise/versions/1/", json={"newLabels": ["production"]},
                            headers=viewer).status_code == 403  # fmt: skip
    made = api.client.post(PROMPTS, json={"name": "summarise", "prompt": "y"}, headers=member)
    assert made.status_code == 201 and made.json()["version"] == 2
    assert api.client.get(PROMPTS, headers={"Authorization": ""}).status_code == 401


def test_sdk_fetch_needs_the_project_key_and_an_api_token(api: Api) -> None:
    create(api, "summarise", "one", labels=["production"])
    create(api, "summarise", "two", labels=["staging"])
    client = api.client
    fetched = client.get(f"{PUBLIC}/summarise", headers=api.basic())
    assert fetched.status_code == 200, fetched.text
    assert (fetched.json()["version"], fetched.json()["prompt"]) == (1, "one")  # production
    latest = client.get(f"{PUBLIC}/summarise?label=latest", headers=api.basic())
    assert latest.json()["version"] == 2
    second = client.get(f"{PUBLIC}/summarise?version=2", headers=api.basic())
    assert second.json()["prompt"] == "two"
    assert client.get(f"{PUBLIC}/missing", headers=api.basic()).status_code == 404

    viewer = api.member_token("viewer", "read")
    assert client.get(f"{PUBLIC}/summarise", headers=api.basic(viewer)).status_code == 200
    # The project key alone (it is public in browsers) is not enough; nor a wrong token.
    assert client.get(f"{PUBLIC}/summarise", headers={"Authorization": ""}).status_code == 401
    bare = base64.b64encode(f"{api.public_key}:".encode()).decode()
    assert client.get(f"{PUBLIC}/summarise",
                      headers={"Authorization": f"Basic {bare}"}).status_code == 401  # fmt: skip
    assert client.get(f"{PUBLIC}/summarise", headers=api.basic("nope")).status_code == 401
    assert client.get(f"{PUBLIC}/summarise", headers=api.basic(key="nokey")).status_code == 404
    store = api.runtime.store
    other = store.create_organization("other", "Other")
    outsider = make_user(store, "outsider@example.com", other.id, "owner")
    outsider_token = store.create_api_token(outsider.id, "t", "read write admin")
    assert client.get(f"{PUBLIC}/summarise", headers=api.basic(outsider_token)).status_code == 404

    # Langfuse's create_prompt / update_prompt: a member's token writes, a viewer's does not.
    body = {"name": "summarise", "prompt": "three", "type": "text", "labels": [], "tags": []}
    assert client.post(PUBLIC, json=body, headers=api.basic(viewer)).status_code == 403
    made = client.post(PUBLIC, json=body, headers=api.basic())
    assert made.status_code == 201 and made.json()["version"] == 3
    moved = client.patch(f"{PUBLIC}/summarise/versions/3", json={"newLabels": ["production"]},
                         headers=api.basic())  # fmt: skip
    assert moved.status_code == 200 and moved.json()["labels"] == ["production"]
    assert client.get(f"{PUBLIC}/summarise", headers=api.basic()).json()["prompt"] == "three"


def test_versions_compared_by_their_calls(api: Api) -> None:
    create(api, "summarise", "x")
    events = []
    for n, (version, cost, failed) in enumerate([(1, 0.01, False), (2, 0.03, True), (2, 0.01, 0)]):
        event = ai_event(api.project.id, trace=f"t{n}", at=NOW - 60, cost=cost, is_error=failed)
        event.properties.update({"$ai_prompt_name": "summarise", "$ai_prompt_version": version})
        events.append(event)
    assert api.runtime.store.record(DigestBatch(analytics=events)).rejected == ()
    found = api.client.get(PROMPTS + "summarise/comparison/?days=1").json()
    assert found["complete"]
    rows = [(r["version"], r["calls"], r["errorRate"], round(r["costUsd"], 6))
            for r in found["results"]]  # fmt: skip
    assert rows == [(2, 2, 0.5, 0.04), (1, 1, 0.0, 0.01)]
    assert api.client.get(PROMPTS + "summarise/comparison/?days=0").status_code == 400


def test_every_prompt_route_is_in_the_openapi_schema(api: Api) -> None:
    from heliograph.api.prompt_fetch import routes as fetch_routes
    from heliograph.api.prompts import routes as management_routes

    paths = api.client.get("/api/openapi.json").json()["paths"]
    for route in [*management_routes, *fetch_routes]:
        documented = paths.get(route.path)  # type: ignore[attr-defined]
        assert documented is not None, route.path  # type: ignore[attr-defined]
        for method in route.methods - {"HEAD"}:  # type: ignore[attr-defined]
            assert method.lower() in documented
