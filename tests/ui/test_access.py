"""Who may see and change what in the UI: login, CSRF, roles, no existence leaks.

Plain HTTP against a live server (no browser needed to check status codes);
extra users, organizations and issues are written straight into the server's
store through the storage contract, as an admin tool would.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from heliograph.auth import hash_password
from heliograph.model import Breadcrumb, Event, Exception_, Frame, Mechanism, User
from heliograph.store.base import DigestBatch, GroupedEvent
from heliograph.store.contract import Store
from tests.conftest import LiveServer
from tests.stores import server_store

pytestmark = pytest.mark.ui
PASSWORD = "correct horse battery staple"


@dataclass
class World:
    server: LiveServer
    default_issue: int  # in the default organization
    other_issue: int  # in organization "other", project "secret"
    odd_issues: list[int]  # events of unusual shapes, in the default project


def _issue(store: Store, project_id: int, title: str, event: Event | None = None) -> int:
    event = event or Event(
        project_id=project_id,
        event_id=uuid.uuid4().hex,
        timestamp=time.time(),
        received_at=time.time(),
        release="svc@1.0",
        exceptions=[Exception_(type="RuntimeError", value=title)],
    )
    group = uuid.uuid4().hex
    store.record(DigestBatch(errors=[GroupedEvent(event, group, "test", title, "svc in run")]))
    stored = store.get_event(project_id, event.event_id)
    assert stored is not None and stored.issue_id is not None
    return int(stored.issue_id)


@pytest.fixture(scope="module")
def world(live_server: LiveServer) -> Iterator[World]:
    with server_store(live_server) as store:
        default_org = store.get_organization("default")
        assert default_org is not None
        other = store.create_organization("other", "Other org")
        secret = store.create_project(other.id, "secret", "Secret project")
        for email, org_id, role in (
            ("outsider@example.com", other.id, "owner"),
            ("viewer@example.com", default_org.id, "viewer"),
            ("member@example.com", default_org.id, "member"),
        ):
            user = store.create_user(email, password_hash=hash_password(PASSWORD))
            store.add_member(user.id, org_id, role)
        default_project = store.get_project("default", "default")
        assert default_project is not None
        odd = [
            _issue(store, default_project.id, f"odd event {index}", event)
            for index, event in enumerate(odd_events(default_project.id))
        ]
        yield World(
            live_server,
            _issue(store, default_project.id, "default project failure"),
            _issue(store, secret.id, "top secret failure"),
            odd,
        )


def odd_events(project_id: int) -> list[Event]:
    """Shapes SDKs really send that the happy path never exercises."""

    def event(**fields: Any) -> Event:
        now = time.time()
        return Event(project_id=project_id, event_id=uuid.uuid4().hex, timestamp=now, **fields)

    bare_frames = [Frame(function=None, filename=None, module=None), Frame(lineno=3)]
    return [
        # A bare stack trace with a message, no exception, no release or environment.
        event(message="just a log line\nwith two lines", stacktrace=bare_frames, level="info"),
        # An exception without frames or value; odd request, user, contexts and crumbs.
        event(
            exceptions=[
                Exception_(type="Boom", mechanism=Mechanism(handled=None, is_exception_group=True)),
                Exception_(type="Inner", value="x", mechanism=Mechanism(source="exceptions[0]")),
            ],
            request={
                "url": "/relative",
                "headers": [["X-A", "1"], ["X-B"]],
                "cookies": "a=1; b=2",
                "data": "raw body",
                "query_string": [["q", "1"]],
                "env": None,
            },
            user=User(ip_address="10.0.0.1", data={"plan": {"tier": "pro"}}),
            contexts={"list": [1, 2], "empty": {}, "app": {"nested": {"a": None}}},
            breadcrumbs=[Breadcrumb(), Breadcrumb(timestamp=1.0, data={"n": [1]})],
            extra={"none": None, "big": list(range(50))},
            fingerprint=["{{ default }}", "custom"],
            transaction="/checkout",
        ),
    ]


def login(server: LiveServer, email: str, next_path: str = "") -> tuple[httpx.Client, str]:
    """A cookie session for ``email``; returns the client and where login sent it."""
    client = httpx.Client(base_url=server.url, timeout=10)
    response = client.post("/login", data={"email": email, "password": PASSWORD, "next": next_path})
    assert response.status_code == 303, response.text
    return client, response.headers["location"]


def csrf_token(client: httpx.Client, path: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def test_every_page_needs_login(world: World) -> None:
    anonymous = httpx.Client(base_url=world.server.url, timeout=10)
    for path, expected in (
        (f"/issues/{world.default_issue}/", f"/login?next=/issues/{world.default_issue}/"),
        (
            "/default/default/issues/?query=a%20b",
            "/login?next=/default/default/issues/%3Fquery%3Da%2520b",
        ),
        ("/nope/nope/issues/", "/login?next=/nope/nope/issues/"),
        ("/", "/login"),
    ):
        response = anonymous.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"] == expected
    response = anonymous.post(f"/issues/{world.default_issue}/status", data={"action": "resolve"})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


def test_login_honours_next_only_for_paths_on_this_site(world: World) -> None:
    issue_path = f"/issues/{world.default_issue}/?event=x"
    assert login(world.server, "member@example.com", issue_path)[1] == issue_path
    for hostile in (
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "javascript:alert(1)",
        "/ok\r\nSet-Cookie: x=1",
    ):
        assert login(world.server, "member@example.com", hostile)[1] == "/", hostile
    form = httpx.get(f"{world.server.url}/login", params={"next": "https://evil.example/"})
    assert 'name="next" value=""' in form.text
    wrong = httpx.post(
        f"{world.server.url}/login", data={"email": "member@example.com", "password": "nope"}
    )
    assert wrong.status_code == 401
    assert "Wrong email or password" in wrong.text


def test_status_change_needs_the_sessions_csrf_token(world: World) -> None:
    client, _ = login(world.server, "member@example.com")
    path = f"/issues/{world.default_issue}/"
    token = csrf_token(client, path)
    status_url = f"{path}status"
    for data in ({"action": "resolve"}, {"action": "resolve", "csrf_token": "forged"}):
        response = client.post(status_url, data=data)
        assert response.status_code == 403
        assert "CSRF" in response.text
    assert "badge-resolved" not in client.get(path).text

    bulk = client.post(
        "/default/default/issues/status",
        data={"action": "ignore", "issue": str(world.default_issue)},
    )
    assert bulk.status_code == 403

    response = client.post(
        status_url, data={"action": "resolve", "csrf_token": token, "next": "https://evil.example/"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == path  # a foreign `next` falls back to the issue
    assert "badge-resolved" in client.get(path).text
    reopened = client.post(status_url, data={"action": "reopen", "csrf_token": token})
    assert reopened.status_code == 303
    assert (
        client.post(status_url, data={"action": "explode", "csrf_token": token}).status_code == 400
    )


def test_bulk_change_skips_other_projects_issues(world: World) -> None:
    admin, _ = login(world.server, "member@example.com")
    token = csrf_token(admin, "/default/default/issues/")
    response = admin.post(
        "/default/default/issues/status",
        data={
            "action": "ignore",
            "csrf_token": token,
            "issue": [str(world.default_issue), str(world.other_issue)],
        },
    )
    assert response.status_code == 303
    ignored = admin.get("/default/default/issues/", params={"status": "ignored"}).text
    assert "default project failure" in ignored
    with world.server.api() as api:
        other = api.get(f"/api/0/issues/{world.other_issue}/").json()
    assert other["status"] == "unresolved"
    admin.post(
        "/default/default/issues/status",
        data={"action": "reopen", "csrf_token": token, "issue": str(world.default_issue)},
    )


def test_invisible_things_look_exactly_like_missing_ones(world: World) -> None:
    outsider, _ = login(world.server, "outsider@example.com")
    assert outsider.get("/other/secret/issues/").status_code == 200
    missing_body = outsider.get("/issues/99999999/").text
    for path in (
        "/default/default/issues/",
        f"/issues/{world.default_issue}/",
        "/nope/nope/issues/",
        "/issues/99999999/",
        "/issues/not-a-number/",
    ):
        response = outsider.get(path)
        assert response.status_code == 404, path
        assert "default project failure" not in response.text
    assert outsider.get(f"/issues/{world.default_issue}/").text == missing_body
    token = csrf_token(outsider, "/other/secret/issues/")
    response = outsider.post(
        f"/issues/{world.default_issue}/status", data={"action": "resolve", "csrf_token": token}
    )
    assert response.status_code == 404
    # The project switcher lists only the outsider's projects.
    switcher = outsider.get("/other/secret/issues/").text
    assert "/other/secret/issues/" in switcher
    assert "/default/default/issues/" not in switcher


def test_viewers_see_issues_but_cannot_change_them(world: World) -> None:
    viewer, _ = login(world.server, "viewer@example.com")
    path = f"/issues/{world.default_issue}/"
    page = viewer.get(path)
    assert page.status_code == 200
    assert "Read-only access" in page.text
    assert 'value="resolve"' not in page.text
    token = csrf_token(viewer, "/default/default/issues/")  # the logout form carries it
    response = viewer.post(f"{path}status", data={"action": "resolve", "csrf_token": token})
    assert response.status_code == 403
    assert "read-only" in response.text


def test_unusual_events_render(world: World) -> None:
    client, _ = login(world.server, "member@example.com")
    for issue_id in world.odd_issues:
        for order in ("newest", "oldest"):
            response = client.get(f"/issues/{issue_id}/", params={"order": order})
            assert response.status_code == 200, response.text
    first = client.get(f"/issues/{world.odd_issues[0]}/").text
    assert "Stack trace" in first and "just a log line" in first
    second = client.get(f"/issues/{world.odd_issues[1]}/").text
    assert "exception group" in second and "raw body" in second and "10.0.0.1" in second
    listing = client.get("/default/default/issues/", params={"query": "odd event"})
    assert listing.text.count('class="issue-row') == 2


def test_pages_carry_no_inline_script_style_or_handlers(world: World) -> None:
    client, _ = login(world.server, "member@example.com")
    for path in ("/default/default/issues/", f"/issues/{world.default_issue}/", "/login"):
        html = client.get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert not re.search(r"\sstyle=", html), path
        assert not re.search(r"\son[a-z]+=", html), path
        assert "<style" not in html
        assert not re.search(r"(src|href)=\"(https?:)?//", html), f"external asset on {path}"
