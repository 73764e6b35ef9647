"""Upgrades end to end: the real server on each earlier release's data directory.

Everything the old version's API listed (``tests/fixtures/datadirs/*.json``)
is listed the same by this one's API, its pages render, the payload the old
version left in its queue is digested, and the version shows in the footer
and at ``/api/0/``. The store-level checks are in ``tests/unit/test_upgrades.py``.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path

import pytest

from heliograph import __version__
from tests.accounts import admin_session
from tests.conftest import LiveServer, start_server
from tests.upgrade_fixtures import Fixture, fixtures

pytestmark = pytest.mark.e2e


@pytest.fixture(params=fixtures(), ids=lambda f: f.name)
def upgraded(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Fixture, LiveServer]]:
    fixture: Fixture = request.param
    data_dir = fixture.unpack(tmp_path / "data")
    process, port, _ = start_server(data_dir)
    server = LiveServer(
        url=f"http://127.0.0.1:{port}",
        dsn="",
        api_token=fixture.expected["api_token"],
        login_url="",
        data_dir=data_dir,
        process=process,
        port=port,
    )
    yield fixture, server
    server.stop()


def test_the_server_lists_what_the_earlier_release_held(
    upgraded: tuple[Fixture, LiveServer],
) -> None:
    fixture, server = upgraded
    expected = fixture.expected
    server.wait_for_digest()
    api = server.api()
    assert api.get("/api/0/").json()["heliograph"] == {"version": __version__}
    projects = api.get("/api/0/projects/").json()
    listed = {f"{p['organization']['slug']}/{p['slug']}" for p in projects}
    assert set(expected["projects"]) <= listed
    for path, old in expected["projects"].items():
        base = f"/api/0/projects/{path}"
        issues = api.get(f"{base}/issues/", params={"query": ""}).json()
        queued = [i for i in issues if "left in the queue" in i["title"]]
        now = [
            {
                "id": int(i["id"]),
                "title": i["title"],
                "level": i["level"],
                "count": int(i["count"]),
                "userCount": int(i["userCount"]),
                "events": sorted(
                    e["eventID"] for e in api.get(f"/api/0/issues/{i['id']}/events/").json()
                ),
            }
            for i in sorted(issues, key=lambda i: int(i["id"]))
            if i not in queued
        ]
        assert now == old["issues"], path
        assert sorted(k["public"] for k in api.get(f"{base}/keys/").json()) == old["keys"]
        rules = api.get(f"{base}/alert-rules/").json()
        assert sorted(r["name"] for r in rules) == old["alert_rules"]
    # The payload the old version left in its queue, digested by this one.
    event = api.get(f"/api/0/projects/default/default/events/{expected['queued_event_id']}/")
    assert event.status_code == 200, event.text
    generations = api.get("/api/0/projects/default/default/llm/generations/").json()
    assert len(generations) == expected["llm"]["generations"]
    assert expected["llm"]["posthog_trace_id"] in {g["traceId"] for g in generations}


def test_the_pages_render_on_an_upgraded_data_directory(
    upgraded: tuple[Fixture, LiveServer],
) -> None:
    fixture, server = upgraded
    session = admin_session(server)
    [first, *_] = fixture.expected["projects"]["default/default"]["issues"]
    pages = {
        "/default/default/issues/": first["title"],
        f"/issues/{first['id']}/": first["title"],
        "/default/default/llm/": "LLM",
        "/default/default/llm/generations/?range=all": "gpt-4o-mini",
        "/acme/shop/issues/": "Payment provider timed out",
    }
    for path, text in pages.items():
        page = session.get(path)
        assert page.status_code == 200, (path, page.text[:500])
        assert html.escape(text) in page.text, path
        assert f"Heliograph {__version__}" in page.text, path
