"""Secrets sent by SDKs never reach the store: read the SQLite files byte by byte.

A Sentry envelope and a PostHog ``$ai_generation`` (with LLM payloads kept)
full of secrets in every place they hide; a project with its own extra
sensitive key and a safe field. After digest, neither the database file nor
its write-ahead log holds any of them, while the events themselves (and the
safe field) are there. The files are read through
``tests/backends/sqlite/on_disk.py``: this end-to-end check is about the SQLite
backend's bytes on disk, which no contract read can show.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.backends.sqlite.on_disk import every_value, file_bytes
from tests.conftest import LiveServer, launch
from tests.payloads import auth_header, envelope, sentry_event

pytestmark = pytest.mark.e2e

CARDS = ("4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005")


def _secret(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    found = launch(tmp_path_factory.mktemp("scrub"))
    with found.api() as api:
        response = api.put(
            "/api/0/projects/default/default/",
            json={
                "keepLlmPayloads": True,
                "sensitiveFields": ["customer_ref"],
                "safeFields": ["build_token"],
            },
        )
        assert response.status_code == 200, response.text
    yield found
    found.stop()


def _error_event(s: dict[str, str]) -> dict[str, Any]:
    event = sentry_event(f"payment failed for card {CARDS[0]}", exc_type="PaymentError")
    frame = event["exception"]["values"][0]["stacktrace"]["frames"][-1]
    frame["vars"] = {
        "password": f"'{s['password']}'",
        "api_key": f"'{s['api_key']}'",
        "payload": {"nested": {"deeper": {"client_secret": s["client_secret"]}}},
        "headers_repr": f"{{'Authorization': 'Bearer {s['bearer']}'}}",
    }
    event.update(
        message=f"charging {CARDS[1]} with token={s['query_token']}",
        transaction=f"/reset?token={s['query_token']}",
        request={
            "url": f"https://shop.example.com/pay?api_key={s['url_key']}",
            "method": "POST",
            "headers": {
                "Authorization": f"Bearer {s['bearer']}",
                "Cookie": f"sessionid={s['cookie']}",
                "X-Api-Key": s["header_key"],
                "User-Agent": "tests",
            },
            "cookies": {"sessionid": s["cookie"]},
            "query_string": f"page=1&access_token={s['query_token']}",
            "data": {"card_number": CARDS[2], "user": {"password": s["password"]}},
            "env": {"SECRET_KEY": s["env_secret"]},
        },
        breadcrumbs={
            "values": [
                {"message": f"card {CARDS[2]} declined", "category": "payment"},
                {"category": "http", "data": {"url": f"/x?token={s['crumb_token']}"}},
            ]
        },
        extra={"customer_ref": s["customer_ref"], "build_token": "visible-build-42"},
        contexts={"db": {"dsn": f"postgres://app:{s['db_password']}@db/app"}},
        user={"id": "user-7", "data": {"reset_token": s["reset_token"]}},
        tags={"auth_token": s["tag_token"]},
    )
    return event


def _generation(s: dict[str, str], key: str) -> dict[str, Any]:
    return {
        "api_key": key,
        "batch": [
            {
                "event": "$ai_generation",
                "distinct_id": "user-7",
                "properties": {
                    "$ai_model": "gpt-4o-mini",
                    "$ai_provider": "openai",
                    "$ai_trace_id": uuid.uuid4().hex,
                    "$ai_input_tokens": 12,
                    "$ai_output_tokens": 4,
                    "$ai_input": [
                        {"role": "system", "content": f"Use key sk-{s['openai_key']}xxxxxxxx"},
                        {"role": "user", "content": f"My card is {CARDS[0]}, ok?"},
                        {
                            "role": "assistant",
                            "tool_calls": [{"function": {"arguments": {"api_key": s["tool_key"]}}}],
                        },
                        {"role": "user", "content": f'config {{"password": "{s["llm_pw"]}"}}'},
                    ],
                    "$ai_output_choices": [
                        {"role": "assistant", "content": f"Send Bearer {s['llm_bearer']} now"}
                    ],
                    "$ai_error": f"401: invalid token={s['llm_error']}",
                    "customer_ref": s["customer_ref"],
                    "session_secret": s["session_secret"],
                },
            }
        ],
    }


def test_no_secret_reaches_the_store(server: LiveServer) -> None:
    names = [
        "password",
        "api_key",
        "client_secret",
        "bearer",
        "query_token",
        "url_key",
        "cookie",
        "header_key",
        "env_secret",
        "crumb_token",
        "customer_ref",
        "db_password",
        "reset_token",
        "tag_token",
        "openai_key",
        "tool_key",
        "llm_pw",
        "llm_bearer",
        "llm_error",
        "session_secret",
    ]
    secrets = {name: _secret(name) for name in names}
    event = _error_event(secrets)
    response = httpx.post(
        f"{server.url}/api/{server.project_id}/envelope/",
        content=envelope(event),
        headers=auth_header(server.public_key),
    )
    assert response.status_code == 200, response.text
    response = httpx.post(f"{server.url}/batch/", json=_generation(secrets, server.public_key))
    assert response.status_code == 200, response.text
    server.wait_for_digest()
    time.sleep(0.2)

    # What lies on disk has no read in the storage contract: this asks SQLite itself.
    dump = every_value(server.data_dir)
    raw = file_bytes(server.data_dir)
    # The events are there (the test would prove nothing otherwise)...
    assert event["event_id"] in dump and "$ai_generation" in dump
    assert "visible-build-42" in dump  # a safe field is kept as sent
    assert "[Filtered]" in dump and "PaymentError" in dump
    # ...and not one secret, in the tables or anywhere in the files.
    leaked = [name for name, value in secrets.items() if value in dump or value.encode() in raw]
    assert leaked == []
    for card in CARDS:
        digits = card.replace(" ", "").replace("-", "")
        for form in (card, digits):
            assert form not in dump and form.encode() not in raw, card


def test_scrubbed_values_show_as_filtered_in_the_api(server: LiveServer) -> None:
    password = _secret("pw")
    event = sentry_event("login failed", extra={"password": password, "note": "kept"})
    httpx.post(
        f"{server.url}/api/{server.project_id}/envelope/",
        content=envelope(event),
        headers=auth_header(server.public_key),
    )
    server.wait_for_digest()
    with server.api() as api:
        stored = api.get(f"/api/0/projects/default/default/events/{event['event_id']}/").json()
    assert password not in str(stored)
    assert "[Filtered]" in str(stored) and "kept" in str(stored)
