"""The AI-fix endpoint on a live server, talking to a local OpenAI-protocol server."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import LiveServer, launch
from tests.llm_servers import DEFAULT_TEXT, FakeOpenAIServer
from tests.stores import llm_analytics, server_store

pytestmark = pytest.mark.e2e
SENTRY_APP = Path(__file__).with_name("sentry_app.py")


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server  # type: ignore[misc]


@pytest.fixture(scope="module")
def ai_server(
    tmp_path_factory: pytest.TempPathFactory, llm: FakeOpenAIServer
) -> Iterator[LiveServer]:
    server = launch(
        tmp_path_factory.mktemp("ai-data"),
        env={
            "HELIOGRAPH_AI_PROVIDER": "openai",
            "HELIOGRAPH_AI_BASE_URL": llm.base_url,
            "HELIOGRAPH_AI_API_KEY": "sk-test",
            "HELIOGRAPH_AI_MODEL": "test-model",
        },
    )
    subprocess.run([sys.executable, str(SENTRY_APP), server.dsn, "divide"], check=True)
    server.wait_for_digest()
    yield server
    server.stop()


def event_id(server: LiveServer) -> str:
    with server.api() as api:
        issue = api.get("/api/0/projects/default/default/issues/").json()[0]
        return str(api.get(f"/api/0/issues/{issue['id']}/events/latest/").json()["eventID"])


def fix_url(server: LiveServer, **params: str) -> tuple[str, dict[str, str]]:
    return f"/api/0/projects/default/default/events/{event_id(server)}/ai-fix/", params


def sse(body: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], orjson.loads(lines["data"])))
    return events


def set_policy(server: LiveServer, state: str) -> None:
    with server_store(server) as store:
        project = store.get_project("default", "default")
        assert project is not None
        store.update_project(project.id, ai_policy=state)


def test_streams_deltas_then_done_and_caches(ai_server: LiveServer, llm: FakeOpenAIServer) -> None:
    llm.reset()
    llm.reply(DEFAULT_TEXT)
    url, params = fix_url(ai_server, stream="1")
    with ai_server.api() as api:
        first = api.get(url, params=params)
        assert first.headers["content-type"].startswith("text/event-stream")
        assert first.headers["x-accel-buffering"] == "no"
        events = sse(first.text)
        assert [name for name, _ in events[:-1]] == ["delta"] * (len(events) - 1)
        assert len(events) > 2, "the answer arrives in several deltas"
        assert "".join(data["text"] for _, data in events[:-1]) == DEFAULT_TEXT
        name, done = events[-1]
        assert name == "done"
        assert done["model"] == "test-model"
        assert done["cached"] is False
        assert done["output_tokens"] > 0
        calls = llm.calls
        again = api.get(url, params={})  # JSON this time, same cache entry
        assert again.json()["suggestion"] == DEFAULT_TEXT
        assert again.json()["cached"] is True
        assert llm.calls == calls
        refreshed = api.get(url, params={"refresh": "1"})
        assert refreshed.json()["cached"] is False
        assert llm.calls == calls + 1
    prompt = orjson.dumps(llm.last_body).decode()
    assert "total / parts" in prompt, "the crash frame's context line is in the prompt"


@pytest.mark.parametrize(
    ("state", "flag"),
    [("consent_required", "consent"), ("pii_certification_required", "pii_certified")],
)
def test_policy_refusals_and_their_flags(ai_server: LiveServer, state: str, flag: str) -> None:
    set_policy(ai_server, state)
    try:
        url, _ = fix_url(ai_server)
        with ai_server.api() as api:
            refused = api.get(url)
            assert refused.status_code == 403
            assert refused.json()["restriction"] == state
            assert api.get(url, params={flag: "yes"}).status_code == 200
    finally:
        set_policy(ai_server, "allowed")


def test_disabled_policy_always_refuses(ai_server: LiveServer) -> None:
    set_policy(ai_server, "disabled")
    try:
        url, _ = fix_url(ai_server)
        with ai_server.api() as api:
            response = api.get(url, params={"consent": "yes", "pii_certified": "yes"})
        assert response.status_code == 403
        assert response.json()["restriction"] == "disabled"
    finally:
        set_policy(ai_server, "allowed")


@pytest.mark.parametrize(("upstream", "expected"), [(429, 429), (401, 502), (500, 502)])
def test_upstream_errors_are_mapped(
    ai_server: LiveServer, llm: FakeOpenAIServer, upstream: int, expected: int
) -> None:
    llm.fail(upstream)
    try:
        url, _ = fix_url(ai_server)
        with ai_server.api() as api:
            response = api.get(url, params={"refresh": "1"})
        assert response.status_code == expected
        assert "sk-test" not in response.text
    finally:
        llm.reply(DEFAULT_TEXT)


def test_fix_calls_are_recorded_in_the_internal_project(ai_server: LiveServer) -> None:
    ai_server.wait_for_digest()
    with server_store(ai_server) as store:
        internal = store.get_project("default", "heliograph-internal")
        assert internal is not None
        generations = [e.properties for e in llm_analytics(store, internal.id, "$ai_generation")]
    assert generations
    assert {g["$ai_model"] for g in generations} == {"test-model"}
    assert any(g["$ai_is_error"] for g in generations)
    assert any(g["$ai_output_tokens"] > 0 for g in generations)


def test_unconfigured_server_says_so(live_server: LiveServer) -> None:
    subprocess.run([sys.executable, str(SENTRY_APP), live_server.dsn, "divide"], check=True)
    live_server.wait_for_digest()
    url, _ = fix_url(live_server)
    with live_server.api() as api:
        response = api.get(url)
    assert response.status_code == 404
    assert "HELIOGRAPH_AI_PROVIDER" in response.json()["detail"]
    assert httpx.get(f"{live_server.url}{url}").status_code == 401
