"""Scores through the HTTP surfaces, in process: Langfuse's ``POST /api/public/scores``
(queued, then digested), our API (create, read, list, delete, summary), and annotation
from the trace page's form; hostile input is a 4xx saying why, never a 500."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from heliograph.app import create_app
from heliograph.bootstrap import ensure_defaults
from heliograph.config import Settings
from heliograph.digest.worker import DigestWorker
from heliograph.runtime import Runtime
from heliograph.store.base import DigestBatch, Project
from heliograph.store.score_records import ScoreFilter
from tests.accounts import PASSWORD, make_user
from tests.contract.builders import ai_event

LLM = "/api/0/projects/default/default/llm/"
NOW = time.time()


@dataclass
class World:
    client: TestClient  # with the admin's API token
    runtime: Runtime
    project: Project
    public_key: str

    def digest(self) -> None:
        DigestWorker(self.runtime.queue, self.runtime.store).run_once()

    def langfuse(self, body: Any, *, key: str | None = None, **kwargs: Any) -> Any:
        secret = base64.b64encode(f"{key or self.public_key}:sk-lf-anything".encode()).decode()
        return self.client.post(
            "/api/public/scores",
            headers={"Authorization": f"Basic {secret}"},
            **({"json": body} if "content" not in kwargs else {}),
            **kwargs,
        )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    settings = Settings(data_dir=tmp_path / "data")
    runtime = Runtime(settings)
    try:
        welcome = ensure_defaults(runtime.store, settings.base_url)
        runtime.keys.reload()  # the key made just now: ingest knows it
        client = TestClient(create_app(settings, runtime), base_url="http://testserver")
        client.headers["Authorization"] = f"Bearer {welcome.api_token}"
        project = runtime.store.get_project("default", "default")
        assert project is not None
        generation = ai_event(project.id, trace="trace-1", at=NOW - 60, model="gpt-4o")
        generation.properties.update({"$ai_span_id": "gen-1", "$ai_prompt_name": "support",
                                      "$ai_prompt_version": 2})  # fmt: skip
        runtime.store.record(DigestBatch(analytics=[generation]))
        yield World(client, runtime, project, welcome.public_key)
    finally:
        runtime.close()


def test_langfuse_scores_are_queued_then_stored(world: World) -> None:
    bodies = [
        {"id": "lf-1", "name": "accuracy", "value": 0.9, "traceId": "trace-1",
         "observationId": "gen-1", "comment": "close", "metadata": {"ignored": True}},
        {"name": "thumbs", "value": 1, "dataType": "BOOLEAN", "traceId": "trace-1"},
        {"name": "tone", "value": "friendly", "dataType": "CATEGORICAL", "traceId": "trace-1"},
    ]  # fmt: skip
    ids = []
    for body in bodies:
        response = world.langfuse(body)
        assert response.status_code == 200, response.text
        ids.append(response.json()["id"])
    assert ids[0] == "lf-1" and all(ids)
    world.langfuse({**bodies[0], "value": 0.4})  # the same id again: a correction
    world.digest()
    found = {s["name"]: s for s in world.client.get(LLM + "scores/").json()}
    assert set(found) == {"accuracy", "thumbs", "tone"}
    accuracy = found["accuracy"]
    assert (accuracy["id"], accuracy["value"], accuracy["source"]) == ("lf-1", 0.4, "api")
    assert (accuracy["model"], accuracy["promptName"], accuracy["promptVersion"]) == (
        "gpt-4o",
        "support",
        "2",
    )
    assert (found["thumbs"]["dataType"], found["thumbs"]["value"]) == ("BOOLEAN", 1.0)
    assert found["tone"]["stringValue"] == "friendly" and found["tone"]["id"] == ids[2]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"value": 1, "traceId": "t"}, "name is required"),
        ({"name": "x", "traceId": "t"}, "value is required"),
        ({"name": "x", "value": 1}, "target"),
        ({"name": "x", "value": {"a": 1}, "traceId": "t"}, "value"),
        ({"name": "x", "value": "yes", "dataType": "NUMERIC", "traceId": "t"}, "finite number"),
        ({"name": "x", "value": 7, "dataType": "BOOLEAN", "traceId": "t"}, "boolean"),
        ({"name": "x", "value": 1, "dataType": 5, "traceId": "t"}, "dataType"),
        ({"name": "x", "value": 1, "dataType": "STARS", "traceId": "t"}, "data type"),
        ({"name": ["x"], "value": 1, "traceId": "t"}, "name"),
        ({"name": "x" * 500, "value": 1, "traceId": "t"}, "longer than"),
        ({"name": "x", "value": 1, "traceId": {"$ne": 1}}, "trace id"),
        ({"name": "x\u0000", "value": 1, "traceId": "t"}, "NUL"),
        ({"name": "x", "value": 10**400, "traceId": "t"}, "JSON"),  # past what JSON reads
        ({"name": "x", "value": "Infinity", "dataType": "NUMERIC", "traceId": "t"}, "finite"),
        ([{"name": "x", "value": 1}], "JSON object"),
        ("score", "JSON object"),
    ],
)
def test_hostile_langfuse_bodies_are_400s_saying_why(world: World, body: Any, reason: str) -> None:
    response = world.langfuse(body)
    assert response.status_code == 400, response.text
    assert reason in response.json()["detail"]


def test_langfuse_endpoint_refuses_bad_credentials_and_bodies(world: World) -> None:
    no_auth = world.client.post("/api/public/scores", json={}, headers={"Authorization": ""})
    assert no_auth.status_code == 401
    assert world.langfuse({"name": "x", "value": 1, "traceId": "t"}, key="nope").status_code == 403
    assert world.langfuse(None, content=b"{not json").status_code == 400
    assert world.langfuse(None, content=b"[" * 100_000).status_code == 413
    world.digest()
    assert world.runtime.store.list_scores(ScoreFilter(world.project.id), limit=5)[0] == []


def test_our_api_creates_reads_lists_deletes_and_summarises(world: World) -> None:
    created = world.client.post(
        LLM + "scores/",
        json={"name": "judge", "value": 0.5, "observationId": "gen-1", "source": "evaluator"},
    )
    assert created.status_code == 201, created.text
    score = created.json()
    assert (score["source"], score["traceId"], score["model"]) == ("evaluator", "trace-1", "gpt-4o")
    assert score["authorUserId"] is not None
    for value in (1.0, 0.0):
        world.client.post(LLM + "scores/", json={"name": "judge", "value": value, "traceId": "t2"})
    one = world.client.get(LLM + f"scores/{score['id']}/").json()
    assert one == score
    page = world.client.get(LLM + "scores/", params={"trace": "trace-1"}).json()
    assert [s["id"] for s in page] == [score["id"]]
    summary = world.client.get(LLM + "score-summary/", params={"groupBy": "model"}).json()
    groups = {(s["name"], s["group"]): (s["count"], s["mean"]) for s in summary["scores"]}
    assert groups == {("judge", "gpt-4o"): (1, 0.5), ("judge", ""): (2, 0.5)}
    assert sum(b["count"] for b in summary["series"]) == 3
    assert world.client.delete(LLM + f"scores/{score['id']}/").status_code == 204
    assert world.client.get(LLM + f"scores/{score['id']}/").status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("post", "scores/", {"json": {"name": "x", "value": 1, "traceId": "t", "source": "sdk"}}),
        ("post", "scores/", {"content": b"nope"}),
        ("get", "scores/", {"params": {"source": "robot"}}),
        ("get", "scores/", {"params": {"dataType": "stars"}}),
        ("get", "scores/", {"params": {"cursor": "garbage"}}),
        ("get", "scores/", {"params": {"range": "5y"}}),
        ("get", "score-summary/", {"params": {"groupBy": "flag"}}),
        ("get", "score-summary/", {"params": {"groupBy": "color"}}),
        ("get", "score-summary/", {"params": {"bucket": "week"}}),
        ("get", "score-summary/", {"params": {"since": "0", "until": str(NOW)}}),
    ],
)
def test_bad_api_calls_are_400s(world: World, method: str, path: str, kwargs: Any) -> None:
    response = getattr(world.client, method)(LLM + path, **kwargs)
    assert response.status_code == 400, response.text
    assert response.json()["detail"]


def _login(world: World, email: str, role: str) -> tuple[TestClient, str]:
    make_user(world.runtime.store, email, world.project.organization_id, role)
    client = TestClient(world.client.app, base_url="http://testserver")
    assert client.post("/login", data={"email": email, "password": PASSWORD},
                       follow_redirects=False).status_code == 303  # fmt: skip
    page = client.get("/default/default/llm/traces/trace-1/")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match
    return client, match.group(1)


def test_members_annotate_from_the_trace_page_and_delete_their_own(world: World) -> None:
    member, csrf = _login(world, "member@example.com", "member")
    trace_page = "/default/default/llm/traces/trace-1/"
    assert 'id="scores-form"' in member.get(trace_page).text
    form = {"csrf_token": csrf, "name": "correct", "data_type": "boolean", "value": "true",
            "comment": "checked by hand", "trace_id": "trace-1", "next": trace_page}  # fmt: skip
    added = member.post("/default/default/llm/scores/", data=form, follow_redirects=False)
    assert added.status_code == 303 and added.headers["location"] == trace_page + "#scores"
    page = member.get(trace_page).text
    section = page.split('id="scores"', 1)[1].split("</section>", 1)[0]
    assert 'data-score="correct"' in section and "checked by hand" in section
    assert "member@example.com" in section and ">Delete<" in section
    [score] = world.runtime.store.list_scores(ScoreFilter(world.project.id), limit=5)[0]
    assert (score.source, score.value, score.context.model) == (
        "annotation",
        1.0,
        "gpt-4o",
    )
    bad = member.post("/default/default/llm/scores/", data={**form, "value": "maybe"})
    assert bad.status_code == 400 and "true or false" in bad.text
    missing = member.post("/default/default/llm/scores/", data={**form, "csrf_token": "x"})
    assert missing.status_code == 403

    other, other_csrf = _login(world, "other@example.com", "member")
    refused = other.post(
        "/default/default/llm/scores/delete",
        data={"csrf_token": other_csrf, "score_id": score.id, "next": trace_page},
    )
    assert refused.status_code == 403
    viewer, viewer_csrf = _login(world, "viewer@example.com", "viewer")
    assert 'id="scores-form"' not in viewer.get(trace_page).text
    assert viewer.post("/default/default/llm/scores/", data={**form, "csrf_token": viewer_csrf}
                       ).status_code == 403  # fmt: skip
    deleted = member.post(
        "/default/default/llm/scores/delete",
        data={"csrf_token": csrf, "score_id": score.id, "next": trace_page},
        follow_redirects=False,
    )
    assert deleted.status_code == 303
    assert world.runtime.store.get_score(world.project.id, score.id) is None
