"""Prompts against a live server: heliograph-sdk and Langfuse's SDK fetch them, calls link back.

A real ``heliograph serve``: a prompt made over the API is fetched by
heliograph-sdk with the project key and an API token, a generation made with
it is compared by version; Langfuse's SDK reads, creates and relabels
prompts at its own paths. Then the server goes away: the cached prompt is
still served, and one never fetched comes back as the fallback, without an
exception and within the SDK's bound.
"""

from __future__ import annotations

import time
from pathlib import Path

import heliograph_sdk
import pytest
from heliograph_sdk import _hub

from tests.conftest import LiveServer, launch

pytestmark = pytest.mark.e2e
PROMPTS = "/api/0/projects/default/default/prompts/"


def test_prompts_fetched_linked_and_kept_when_the_server_goes(tmp_path: Path) -> None:
    server = launch(tmp_path)
    try:
        _scenario(server)
    finally:
        _hub.reset_for_tests()
        server.stop()


def _scenario(server: LiveServer) -> None:
    with server.api() as api:
        made = api.post(PROMPTS, json={"name": "summarise", "prompt": "Summarise: {{text}}",
                                       "config": {"model": "gpt-4o-mini"},
                                       "labels": ["production"]})  # fmt: skip
        assert made.status_code == 201, made.text

    assert heliograph_sdk.init(api_key=server.public_key, host=server.url,
                               prompts_token=server.api_token, install_hooks=False,
                               flush_interval=0.05)  # fmt: skip
    prompt = heliograph_sdk.get_prompt("summarise", fallback="unused")
    assert prompt is not None and prompt.version == 1 and not prompt.is_fallback
    assert prompt.compile(text="hello") == "Summarise: hello"
    with heliograph_sdk.trace_generation("openai", "gpt-4o-mini", prompt=prompt) as gen:
        gen.set_tokens(100, 10)
    assert heliograph_sdk.flush(10)

    _langfuse(server)

    server.wait_for_digest()
    with server.api() as api:
        compared = api.get(PROMPTS + "summarise/comparison/", params={"days": 1}).json()
        assert [(r["version"], r["calls"]) for r in compared["results"]] == [(1, 1)]
        production = api.get(PROMPTS + "summarise/", params={"label": "production"}).json()
    assert (production["version"], production["prompt"]) == (3, "From Langfuse, chat")

    server.stop(kill=True)
    began = time.monotonic()
    cached = heliograph_sdk.get_prompt("summarise", fallback="fallback")
    never = heliograph_sdk.get_prompt("translate", fallback="Translate: {{text}}")
    took = time.monotonic() - began
    assert cached is not None and cached.version == 1  # served from the cache
    assert never is not None and never.is_fallback and never.compile(text="x") == "Translate: x"
    assert took < 3.0


def _langfuse(server: LiveServer) -> None:
    """Langfuse's SDK: the project key as public key, an API token as secret key."""
    from langfuse import Langfuse

    client = Langfuse(public_key=server.public_key, secret_key=server.api_token,
                      host=server.url, tracing_enabled=False)  # fmt: skip
    try:
        fetched = client.get_prompt("summarise", cache_ttl_seconds=0)
        assert (fetched.version, fetched.compile(text="x")) == (1, "Summarise: x")
        assert fetched.config == {"model": "gpt-4o-mini"}
        client.create_prompt(name="summarise", prompt="From Langfuse", labels=["staging"])
        client.create_prompt(name="summarise", prompt="From Langfuse, chat", labels=[])
        client.update_prompt(name="summarise", version=3, new_labels=["production"])
        staging = client.get_prompt("summarise", label="staging", cache_ttl_seconds=0)
        assert staging.version == 2
    finally:
        client.shutdown()
