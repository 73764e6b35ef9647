"""The admin status page (in process): queue, workers, disk per project, internal errors;
superusers only."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from heliograph.bootstrap import ensure_internal_project
from heliograph.digest.worker import DigestWorker
from heliograph.runtime import Runtime
from heliograph.server_status import clear_cache
from heliograph.store.base import IssueFilter
from tests.contract.builders import error, record_errors
from tests.payloads import auth_header, envelope, sentry_event
from tests.site import logged_in_site


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[TestClient, Runtime]]:
    with logged_in_site(tmp_path / "data") as found:
        yield found


def test_a_superuser_sees_queue_workers_disk_and_internal_errors(
    site: tuple[TestClient, Runtime],
) -> None:
    client, runtime = site
    store = runtime.store
    [project] = [p for p in store.list_projects() if p.slug == "default"]
    key = store.project_keys(project.id)[0].public_key
    runtime.keys.reload()  # the key was made after the runtime loaded its keys
    for _ in range(2):
        sent = client.post(
            f"/api/{project.id}/envelope/",
            content=envelope(sentry_event()),
            headers=auth_header(key),
        )
        assert sent.status_code == 200
    waiting = client.get("/admin/status/")
    assert waiting.status_code == 200
    assert 'data-figure="queue-depth">2<' in waiting.text
    assert 'data-figure="dead-letters">0<' in waiting.text

    DigestWorker(runtime.queue, store).drain()
    internal = ensure_internal_project(store)
    record_errors(
        store, error(internal.id, "internal-boom", at=time.time(), title="KeyError: boom")
    )
    [issue] = store.list_issues(IssueFilter(internal.id), limit=5, cursor=None)[0]

    clear_cache()  # disk use is cached a minute: the first view saw nothing stored
    page = client.get("/admin/status/").text
    assert 'data-figure="queue-depth">0<' in page
    assert 'data-figure="digest-lag">0 s<' in page
    # Disk per project: the default project's two events, linked to its settings.
    assert f'data-project="{project.id}"' in page
    assert 'href="/default/default/settings/">default/default</a>' in page
    # The digest worker that ran in this process reported its heartbeat.
    assert 'data-worker="main"' in page
    # Recent internal errors, linked to their issue.
    assert f'<a href="/issues/{issue.id}/">KeyError: boom</a>' in page
    assert "free of" in page
    # The account menu links the page for superusers.
    assert 'href="/admin/status/"' in client.get("/account/").text


def test_others_are_refused_and_not_offered_the_link(site: tuple[TestClient, Runtime]) -> None:
    client, runtime = site
    store = runtime.store
    default = store.get_organization("default")
    assert default is not None
    owner = store.create_user("owner@example.com")
    store.add_member(owner.id, default.id, "owner")
    headers = {"Authorization": f"Bearer {store.create_api_token(owner.id, 't')}"}
    refused = client.get("/admin/status/", headers=headers)
    assert refused.status_code == 403 and "Only superusers" in refused.text
    assert 'href="/admin/status/"' not in client.get("/account/", headers=headers).text


def test_anonymous_visitors_are_sent_to_log_in(tmp_path: Path) -> None:
    with logged_in_site(tmp_path / "data") as (client, _runtime):
        client.cookies.clear()
        response = client.get("/admin/status/", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=/admin/status/")
