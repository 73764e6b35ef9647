"""Scores end to end: heliograph-sdk's generations and ``score()``, PostHog's
``$ai_feedback`` and ``$ai_metric``, and a Langfuse-shaped POST, through a live server's
queue and digest, read back summarised by model, prompt version and flag variant."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import httpx
import orjson
import pytest
from posthog import Posthog

from tests.conftest import LiveServer

pytestmark = pytest.mark.e2e
LLM = "/api/0/projects/default/default/llm/"

# Two answers: gpt-4o on prompt v1 for the control arm, claude on v2 for "concise".
SDK_APP = """
import json, heliograph_sdk
heliograph_sdk.init(install_hooks=False, flush_interval=0.05)
arms = [("gpt-4o", "1", "control", 0.9, True), ("claude", "2", "concise", 0.5, False)]
traces = []
for model, version, arm, helpful, grounded in arms:
    with heliograph_sdk.trace("support", session_id="s-" + arm) as span:
        with heliograph_sdk.trace_generation("acme", model, **{
            "$ai_prompt_name": "support", "$ai_prompt_version": version,
            "$feature/answer-style": arm,
        }) as gen:
            gen.set_tokens(10, 5)
        gen.score("grounded", grounded)
        heliograph_sdk.score("helpfulness", helpful, comment="sdk")
    traces.append(span.trace_id)
assert heliograph_sdk.flush(10)
print(json.dumps(traces))
"""


def test_sdk_posthog_and_langfuse_scores_are_summarised(live_server: LiveServer) -> None:
    env = {
        **os.environ,
        "HELIOGRAPH_API_KEY": live_server.public_key,
        "HELIOGRAPH_HOST": live_server.url,
    }
    ran = subprocess.run(
        [sys.executable, "-c", SDK_APP], env=env, check=True, timeout=60, capture_output=True
    )
    control, concise = orjson.loads(ran.stdout.splitlines()[-1])
    posthog = Posthog(live_server.public_key, host=live_server.url, sync_mode=True)
    posthog.capture(
        distinct_id="user-1",
        event="$ai_feedback",
        properties={"$ai_trace_id": control, "$ai_feedback_text": "Spot on, thanks"},
    )
    posthog.capture(
        distinct_id="user-2",
        event="$ai_feedback",
        properties={"$ai_trace_id": concise, "$ai_feedback_text": "Too short",
                    "$ai_feedback_value": "thumbs_down"},
    )  # fmt: skip
    posthog.capture(
        distinct_id="user-2",
        event="$ai_metric",
        properties={"$ai_trace_id": concise, "$ai_metric_name": "helpfulness",
                    "$ai_metric_value": 0.2},
    )  # fmt: skip
    posthog.shutdown()
    judged = httpx.post(
        f"{live_server.url}/api/public/scores",
        auth=(live_server.public_key, "sk-lf-secret"),
        json={"id": f"judge-{uuid.uuid4().hex}", "name": "judge", "value": "pass",
              "dataType": "CATEGORICAL", "traceId": control},
    )  # fmt: skip
    assert judged.status_code == 200, judged.text
    live_server.wait_for_digest()

    with live_server.api() as api:
        by_model = api.get(
            LLM + "score-summary/", params={"range": "1h", "groupBy": "model"}
        ).json()
        by_prompt = api.get(
            LLM + "score-summary/", params={"range": "1h", "groupBy": "prompt",
                                            "name": "helpfulness"}
        ).json()  # fmt: skip
        by_arm = api.get(
            LLM + "score-summary/",
            params={"range": "1h", "groupBy": "flag", "flag": "answer-style"},
        ).json()
        trace = api.get(LLM + f"traces/{control}/").json()
        feedback = api.get(LLM + "scores/", params={"source": "feedback"}).json()

    models = {(s["name"], s["group"]): s for s in by_model["scores"]}
    assert models[("helpfulness", "gpt-4o")]["mean"] == pytest.approx(0.9)
    assert models[("helpfulness", "claude")]["count"] == 2  # the SDK's and the metric
    assert models[("helpfulness", "claude")]["mean"] == pytest.approx(0.35)
    assert models[("grounded", "gpt-4o")]["mean"] == 1.0
    assert models[("grounded", "claude")]["mean"] == 0.0
    assert models[("judge", "gpt-4o")]["categories"] == {"pass": 1}
    prompts = {s["group"]: s["mean"] for s in by_prompt["scores"]}
    assert prompts == pytest.approx({"support v1": 0.9, "support v2": 0.35})
    arms = {(s["name"], s["group"]): s for s in by_arm["scores"]}
    assert arms[("feedback", "control")]["categories"] == {"comment": 1}
    assert arms[("feedback", "concise")]["categories"] == {"thumbs_down": 1}
    assert arms[("grounded", "concise")]["mean"] == 0.0
    assert sum(point["count"] for point in by_model["series"]) == 8

    on_trace = {(s["name"], s["source"]) for s in trace["scores"]}
    assert on_trace == {("grounded", "sdk"), ("helpfulness", "sdk"), ("feedback", "feedback"),
                        ("judge", "api")}  # fmt: skip
    comments = {s["distinctId"]: s["comment"] for s in feedback}
    assert comments == {"user-1": "Spot on, thanks", "user-2": "Too short"}
