"""get_prompt: cached, refreshed in the background, a fallback when the server cannot answer.

A stand-in for the server's ``/api/public/v2/prompts/{name}`` whose labels
the tests move, and which can refuse, hang or be gone. Every call must come
back within the SDK's bound and never raise. The real server is
``tests/e2e/test_prompts_live.py``'s.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sdk_testing import CaptureServer

import heliograph_sdk
from heliograph_sdk import Prompt

TOKEN = "hgp_token"
VERSIONS = {1: "Summarise for {{audience}}: {{ text }}", 2: "Be brief, {{audience}}: {{text}}"}


class PromptServer:
    """Serves ``summarise`` versions by label; ``hang`` holds every answer that long."""

    def __init__(self) -> None:
        self.labels = {"production": 1, "staging": 2}
        self.hang = 0.0
        self.status = 200
        self.asked: list[tuple[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                server.asked.append((url.path, self.headers.get("Authorization", "")))
                time.sleep(server.hang)
                version = (
                    int(query["version"]) if "version" in query
                    else server.labels.get(query.get("label", "production"))
                )  # fmt: skip
                found = url.path.endswith("/summarise") and version in VERSIONS
                status = server.status if found else 404
                body = {"detail": "no such prompt"}
                if found and status == 200:
                    assert version is not None
                    labels = [k for k, v in server.labels.items() if v == version]
                    body = {"name": "summarise", "version": version, "type": "text",
                            "prompt": VERSIONS[version], "config": {"model": "gpt-4o-mini"},
                            "labels": labels}  # fmt: skip
                payload = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def prompts() -> Iterator[PromptServer]:
    found = PromptServer()
    yield found
    found.stop()


@pytest.fixture
def start(prompts: PromptServer, server: CaptureServer) -> Callable[..., None]:
    def init(**kwargs: Any) -> None:
        kwargs.setdefault("host", prompts.url)
        assert heliograph_sdk.init(
            api_key="phc_test", prompts_token=TOKEN, flush_interval=0.05, install_hooks=False,
            **kwargs,
        )  # fmt: skip

    return init


def dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    began = time.monotonic()
    found = call()
    return found, time.monotonic() - began


def test_a_fetched_prompt_compiles_and_is_cached(
    start: Callable[..., None], prompts: PromptServer
) -> None:
    start()
    found = heliograph_sdk.get_prompt("summarise", fallback="unused")
    assert isinstance(found, Prompt) and not found.is_fallback
    assert (found.version, found.labels) == (1, ("production",))
    assert found.config == {"model": "gpt-4o-mini"}
    assert found.variables == ["audience", "text"]
    assert found.compile(audience="lawyers", text="…") == "Summarise for lawyers: …"
    assert found.compile(audience="x") == "Summarise for x: {{ text }}"  # the rest kept
    assert heliograph_sdk.get_prompt("summarise", label="staging").version == 2
    assert heliograph_sdk.get_prompt("summarise", version=1).version == 1
    for _ in range(20):
        assert heliograph_sdk.get_prompt("summarise").version == 1
    assert len(prompts.asked) == 3  # one fetch per (name, label or version)
    path, authorization = prompts.asked[0]
    assert path == "/api/public/v2/prompts/summarise"
    assert base64.b64decode(authorization.split()[1]).decode() == f"phc_test:{TOKEN}"


def test_server_down_gives_the_fallback_quickly_and_never_raises(
    start: Callable[..., None],
) -> None:
    start(host=dead_url())
    text = "Summarise: {{text}}"
    found, took = timed(lambda: heliograph_sdk.get_prompt("summarise", fallback=text))
    assert isinstance(found, Prompt) and found.is_fallback and found.version is None
    assert found.compile(text="hi") == "Summarise: hi"
    assert took < 2.5
    chat = [{"role": "system", "content": "Be {{tone}}."}]
    again, took = timed(lambda: heliograph_sdk.get_prompt("summarise", fallback=chat))
    assert again is not None and again.type == "chat" and took < 0.1  # no retry yet: at once
    assert again.compile(tone="kind") == [{"role": "system", "content": "Be kind."}]
    assert heliograph_sdk.get_prompt("summarise") is None  # no fallback, nothing cached


def test_a_hanging_server_costs_at_most_the_timeout(
    start: Callable[..., None], prompts: PromptServer
) -> None:
    prompts.hang = 5.0
    start(prompt_timeout=0.5)
    found, took = timed(lambda: heliograph_sdk.get_prompt("summarise", fallback="fb"))
    assert found is not None and found.is_fallback
    assert took < 1.0


def test_the_cached_version_is_served_when_the_server_goes_away(
    start: Callable[..., None], prompts: PromptServer
) -> None:
    start(prompt_cache_ttl=0.2)
    assert heliograph_sdk.get_prompt("summarise", fallback="fb").version == 1
    prompts.stop()
    time.sleep(0.3)  # stale now; the refresh fails
    for _ in range(5):
        found, took = timed(lambda: heliograph_sdk.get_prompt("summarise", fallback="fb"))
        assert found.version == 1 and took < 0.1
        time.sleep(0.05)


def test_a_moved_label_is_seen_after_the_ttl(
    start: Callable[..., None], prompts: PromptServer
) -> None:
    start(prompt_cache_ttl=0.3)
    assert heliograph_sdk.get_prompt("summarise").version == 1
    prompts.labels["production"] = 2
    assert heliograph_sdk.get_prompt("summarise").version == 1  # still fresh
    time.sleep(0.35)
    deadline = time.monotonic() + 3
    while heliograph_sdk.get_prompt("summarise").version != 2:  # refreshed in the background
        assert time.monotonic() < deadline, "the moved label never arrived"
        time.sleep(0.02)


def test_refused_and_unknown_prompts_use_the_fallback(
    start: Callable[..., None], prompts: PromptServer
) -> None:
    start()
    assert heliograph_sdk.get_prompt("missing", fallback="fb").is_fallback
    prompts.status = 401
    assert heliograph_sdk.get_prompt("summarise", label="staging", fallback="fb").is_fallback


def test_no_token_or_sdk_off_makes_no_request(prompts: PromptServer) -> None:
    assert heliograph_sdk.init(api_key="phc_test", host=prompts.url, install_hooks=False)
    assert heliograph_sdk.get_prompt("summarise", fallback="fb").is_fallback
    heliograph_sdk.shutdown()
    assert not heliograph_sdk.init(api_key=None, host=prompts.url, prompts_token=TOKEN)
    assert heliograph_sdk.get_prompt("summarise", fallback="fb").is_fallback
    assert heliograph_sdk.get_prompt("summarise") is None
    assert prompts.asked == []


def test_generations_link_to_the_version(start: Callable[..., None], server: CaptureServer) -> None:
    start(host=server.url)  # events go to the capture server; prompts are stand-ins
    fetched = Prompt(name="summarise", prompt="Hi {{x}}", version=3)
    fallback = Prompt(name="summarise", prompt="Hi {{x}}")
    with heliograph_sdk.trace_generation("openai", "gpt-4o-mini", prompt=fetched):
        pass
    with heliograph_sdk.trace_generation("openai", "gpt-4o-mini") as gen:
        gen.set_prompt(fallback)

    class Completions:
        def create(self, **kwargs: Any) -> Any:
            assert "heliograph_prompt" not in kwargs  # never reaches the provider
            return {"model": "gpt-4o-mini", "choices": [], "usage": {}}

    class Chat:
        completions = Completions()

    class OpenAI:
        chat = Chat()
        base_url = "https://api.openai.com/v1"

    client = heliograph_sdk.wrap_openai(OpenAI())
    client.chat.completions.create(model="gpt-4o-mini", messages=[], heliograph_prompt=fetched)
    assert heliograph_sdk.flush(5)
    linked = [(e["properties"].get("$ai_prompt_name"), e["properties"].get("$ai_prompt_version"))
              for e in server.named("$ai_generation")]  # fmt: skip
    assert linked == [("summarise", 3), ("summarise", None), ("summarise", 3)]
