"""The Prompts pages, in process: create a prompt and a version, move a label, read figures.

Forms carry the CSRF token; a viewer reads and cannot change; the versions
table shows each version's linked calls and the fallback's apart.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from heliograph.app import create_app
from heliograph.bootstrap import ensure_defaults
from heliograph.config import Settings
from heliograph.runtime import Runtime
from heliograph.store.base import DigestBatch
from tests.accounts import PASSWORD, make_user
from tests.contract.builders import ai_event

PAGES = "/default/default/llm/prompts/"


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    settings = Settings(data_dir=tmp_path / "data")
    found = Runtime(settings)
    try:
        ensure_defaults(found.store, settings.base_url)
        yield found
    finally:
        found.close()


def signed_in(runtime: Runtime, role: str) -> TestClient:
    org = runtime.store.get_organization("default")
    assert org is not None
    make_user(runtime.store, f"{role}@example.com", org.id, role)
    client = TestClient(create_app(runtime.settings, runtime), base_url="http://testserver")
    answer = client.post("/login", data={"email": f"{role}@example.com", "password": PASSWORD},
                         follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303, answer.text
    return client


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the form"
    return found.group(1)


def test_a_member_creates_versions_and_moves_labels(runtime: Runtime) -> None:
    client = signed_in(runtime, "member")
    listing = client.get(PAGES)
    assert listing.status_code == 200 and "No prompts yet." in listing.text
    assert 'href="/default/default/llm/prompts/"' in listing.text  # the LLM tab
    token = csrf(listing.text)
    refused = client.post(PAGES, data={"csrf_token": token, "name": "bad name", "prompt": "x"})
    assert refused.status_code == 400 and "name must be" in refused.text
    made = client.post(PAGES, data={
        "csrf_token": token, "name": "summarise", "type": "text",
        "prompt": "Summarise for {{audience}}", "config": '{"model": "gpt-4o-mini"}',
        "labels": "production", "commit_message": "first",
    })  # fmt: skip
    assert made.status_code == 200 and "Prompt created" in made.text
    assert "<code>audience</code>" in made.text
    again = client.post(PAGES + "summarise/", data={
        "csrf_token": token, "action": "new_version", "type": "chat",
        "prompt": '[{"role": "system", "content": "Be brief"}]', "labels": "staging",
    })  # fmt: skip
    assert "New version created" in again.text
    moved = client.post(PAGES + "summarise/", data={
        "csrf_token": token, "action": "move_label", "label": "production", "version": "2",
    })  # fmt: skip
    assert "Label moved" in moved.text
    found = runtime.store.get_prompt_version(1, "summarise", label="production")
    assert found is not None and found.version == 2 and found.type == "chat"
    no_csrf = client.post(PAGES, data={"name": "other", "prompt": "x"})
    assert no_csrf.status_code == 403


def test_versions_side_by_side_and_a_viewer_reads_only(runtime: Runtime) -> None:
    store = runtime.store
    for text in ("one", "two"):
        store.create_prompt_version(1, "summarise", type="text", prompt=text, config={},
                                    labels=(), commit_message="", user_id=None)  # fmt: skip
    now = time.time()
    events = []
    for n, version in enumerate([1, 2, 2, None]):
        event = ai_event(1, trace=f"t{n}", at=now - 60, cost=0.25, is_error=n == 2)
        event.properties["$ai_prompt_name"] = "summarise"
        if version is not None:
            event.properties["$ai_prompt_version"] = version
        events.append(event)
    assert store.record(DigestBatch(analytics=events)).rejected == ()
    client = signed_in(runtime, "viewer")
    detail = client.get(PAGES + "summarise/")
    assert detail.status_code == 200
    assert "Read-only" in detail.text and 'id="new-version"' not in detail.text
    rows = re.findall(r'<tr data-version="([^"]+)">(.*?)</tr>', detail.text, re.S)
    cells = {key: re.sub(r"<[^>]+>|\s+", " ", body) for key, body in rows}
    assert set(cells) == {"1", "2", "fallback"}
    assert " 2 " in cells["2"] and "50" in cells["2"]  # two calls, half failed
    assert "$0.50" in cells["2"] and "$0.25" in cells["fallback"]
    assert client.get(PAGES + "missing/").status_code == 404
    assert 'id="new-prompt"' not in client.get(PAGES).text
    assert client.post(PAGES, data={"name": "x", "prompt": "y"}).status_code == 403
