"""Evaluators end to end: a live server whose judge is a fake OpenAI-compatible model on
loopback, generations from the real posthog OpenAI wrapper and from heliograph-sdk, an
LLM-as-judge evaluator failing them, and the quality regression that follows: exactly
one issue (grouped by evaluator and prompt, the failing generations as its events) and
exactly one alert to a webhook; the judge's calls in the internal project; the spend
within the day's budget."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
from posthog import Posthog
from posthog.ai.openai import OpenAI

from heliograph.bootstrap import ensure_internal_project
from heliograph.store.llm_records import LlmEventFilter
from tests.conftest import LiveServer, launch
from tests.llm_servers import FakeOpenAIServer
from tests.stores import server_store

pytestmark = pytest.mark.e2e
PROJECT = "/api/0/projects/default/default/"
VERDICT = '{"score": 0.1, "reasoning": "It talks about bananas, not the refund asked for."}'

SDK_APP = """
import heliograph_sdk
heliograph_sdk.init(install_hooks=False, flush_interval=0.05, llm_payloads=True)
for n in range(2):
    with heliograph_sdk.trace("support"):
        with heliograph_sdk.trace_generation("openai", "gpt-4o-mini", **{
            "$ai_prompt_name": "support", "$ai_prompt_version": "1",
        }) as gen:
            gen.set_input([{"role": "user", "content": "Where is my refund?"}])
            gen.set_output([{"role": "assistant", "content": "Bananas are yellow."}])
            gen.set_tokens(20, 5)
assert heliograph_sdk.flush(10)
"""


@pytest.fixture(scope="module")
def judge() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        server.reply(VERDICT, input_tokens=400, output_tokens=30)
        yield server


@pytest.fixture(scope="module")
def model() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        server.reply("Bananas are yellow.", input_tokens=12, output_tokens=4)
        yield server


class Hooks:
    """A webhook receiver on loopback: the bodies it got, by path."""

    def __init__(self) -> None:
        self.posts: dict[str, list[dict[str, Any]]] = {}
        hooks = self

        class Receiver(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hooks.posts.setdefault(self.path, []).append(orjson.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"


@pytest.fixture(scope="module")
def hooks() -> Iterator[Hooks]:
    found = Hooks()
    yield found
    found.http.shutdown()
    found.http.server_close()


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, judge: FakeOpenAIServer
) -> Iterator[LiveServer]:
    found = launch(
        tmp_path_factory.mktemp("evals"),
        env={
            "HELIOGRAPH_AI_PROVIDER": "openai",
            "HELIOGRAPH_AI_BASE_URL": judge.base_url,
            "HELIOGRAPH_AI_API_KEY": "sk-test",
            "HELIOGRAPH_AI_MODEL": "judge-model",
            "HELIOGRAPH_EVALUATOR_INTERVAL": "1",
        },
    )
    yield found
    found.stop()


def until(check: Callable[[], Any], timeout: float = 25.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout} s")


def posthog_calls(server: LiveServer, model: FakeOpenAIServer) -> None:
    posthog = Posthog(server.public_key, host=server.url, sync_mode=True)
    client = OpenAI(api_key="sk-test", base_url=model.base_url, posthog_client=posthog,
                    max_retries=0)  # fmt: skip
    for _ in range(2):
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "Where is my refund?"}],
            posthog_distinct_id="user-7",
            posthog_trace_id=uuid.uuid4().hex,
            posthog_properties={"$ai_prompt_name": "support", "$ai_prompt_version": 1},
        )
    posthog.shutdown()


def test_failing_generations_open_one_issue_and_one_alert(
    server: LiveServer, judge: FakeOpenAIServer, model: FakeOpenAIServer, hooks: Hooks
) -> None:
    with server.api() as api:
        assert api.put(PROJECT, json={"keepLlmPayloads": True}).status_code == 200
        rule = api.post(PROJECT + "alert-rules/", json={
            "name": "New issues", "trigger": "new_issue",
            "actions": [{"type": "webhook", "url": f"{hooks.url}/quality"}],
        })  # fmt: skip
        assert rule.status_code == 201, rule.text
        created = api.post(PROJECT + "llm/evaluators/", json={
            "name": "helpfulness", "kind": "llm_judge",
            "config": {"template": "Does this answer {{input}}?\n\n{{output}}",
                       "input_token_price": 0.00001, "output_token_price": 0.00003},
            "threshold": 0.5, "window": 2, "daily_budget_usd": 1,
            "filter": {"prompt_name": "support"},
        })  # fmt: skip
        assert created.status_code == 201, created.text
        evaluator = created.json()

    posthog_calls(server, model)
    env = {**os.environ, "HELIOGRAPH_API_KEY": server.public_key, "HELIOGRAPH_HOST": server.url}
    subprocess.run([sys.executable, "-c", SDK_APP], env=env, check=True, timeout=60)

    # Four generations judged; the first fills the window, the next three fail it.
    until(lambda: judge.calls >= 4)
    with server.api() as api:
        issues = until(lambda: [
            i for i in api.get(PROJECT + "issues/").json() if i["title"].startswith("Quality")
        ] if hooks.posts.get("/quality") else None)  # fmt: skip
        [issue] = issues
        assert issue["title"] == (
            "Quality regression: helpfulness below 0.5 for prompt support v1 (gpt-4o-mini)"
        )
        until(lambda: int(api.get(f"/api/0/issues/{issue['id']}/").json()["count"]) == 3)
        latest = api.get(f"/api/0/issues/{issue['id']}/events/latest/").json()
        time.sleep(2.5)  # two more passes of the job: nothing else arrives
        assert judge.calls == 4
        assert [i["id"] for i in api.get(PROJECT + "issues/").json()] == [issue["id"]]
        [alert] = hooks.posts["/quality"]
        assert alert["issue"]["title"] == issue["title"]

        tags = {t["key"]: t["value"] for t in latest["tags"]}
        assert (tags["evaluator"], tags["prompt"], tags["prompt_version"]) == (
            "helpfulness", "support", "1",
        )  # fmt: skip
        quality = latest["contexts"]["llm_quality"]
        assert quality["reasoning"].startswith("It talks about bananas")
        assert quality["output"] == "Bananas are yellow." and quality["score"] == 0.1

        scores = api.get(PROJECT + "llm/scores/?source=evaluator").json()
        assert len(scores) == 4 and {s["promptName"] for s in scores} == {"support"}
        assert {s["comment"] for s in scores} == {quality["reasoning"]}
        today = api.get(f"{PROJECT}llm/evaluators/{evaluator['id']}/").json()["today"]
        assert (today["scored"], today["failed"]) == (4, 4)
        assert today["cost_usd"] == pytest.approx(4 * (400 * 0.00001 + 30 * 0.00003))

    # The judge's own calls: $ai_generation events of the internal project.
    def judged() -> list[Any]:
        with server_store(server) as store:
            internal = ensure_internal_project(store)
            found, _ = store.llm_events(LlmEventFilter(internal.id), limit=50)
            return [r for r in found if r.span_name == "evaluator"]

    calls = until(lambda: len(judged()) == 4 and judged())
    assert {c.model for c in calls} == {"judge-model"}
    [request] = judge.requests[:1]
    assert "Where is my refund?" in orjson.dumps(request.body).decode()
