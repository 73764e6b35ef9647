"""Users' IP addresses: ``{{auto}}`` filled in from the request, hashed unless kept."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from heliograph.digest.addresses import address_hash, fill_sender_address, protect_address
from heliograph.model import Event, User
from heliograph.protocols.sentry_event import AUTO_IP
from heliograph.query.search import parse_issue_search
from heliograph.query.search_context import search_context
from heliograph.store.base import IssueFilter, Project
from tests.ingest_app import IngestApp, ingest_app
from tests.payloads import auth_header, envelope, sentry_event

VISITOR = "203.0.113.9"
OTHER_VISITOR = "198.51.100.24"


def _project(salt: str = "a" * 32, *, store: bool = False) -> Project:
    return Project(
        1, 1, "acme", "web", "Web", "javascript", "allowed", False, 1000, 90,
        store_ip_addresses=store, address_salt=salt,
    )  # fmt: skip


def _event(user: User | None, **properties: Any) -> Event:
    return Event(project_id=1, event_id="e" * 32, timestamp=0.0, user=user, properties=properties)


def test_auto_becomes_the_senders_address_or_nothing() -> None:
    event = _event(User(id="7", ip_address=AUTO_IP))
    fill_sender_address(event, VISITOR)
    assert event.user is not None and event.user.ip_address == VISITOR
    anonymous = _event(User(ip_address=AUTO_IP))
    fill_sender_address(anonymous, None)
    assert anonymous.user is None  # asked for an address nobody knows: no user at all
    sent = _event(User(ip_address="10.0.0.1"))
    fill_sender_address(sent, VISITOR)
    assert sent.user is not None and sent.user.ip_address == "10.0.0.1"


def test_addresses_are_hashed_per_project_unless_kept() -> None:
    event = _event(User(ip_address=VISITOR), **{"$ip": VISITOR})
    protect_address(event, _project("a" * 32))
    assert event.user is not None and event.user.ip_address is None
    hashed = event.user.ip_hash
    assert hashed is not None and len(hashed) == 16 and VISITOR not in hashed
    assert event.properties["$ip"] == hashed
    assert event.user.key == f"iphash:{hashed}"
    assert address_hash(_project("b" * 32), VISITOR) != hashed  # another project's salt
    assert address_hash(_project("a" * 32), OTHER_VISITOR) != hashed
    kept = _event(User(ip_address=VISITOR))
    protect_address(kept, _project(store=True))
    assert kept.user is not None and (kept.user.ip_address, kept.user.ip_hash) == (VISITOR, None)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[IngestApp]:
    with ingest_app(tmp_path / "data") as found:
        yield found


def _send(app: IngestApp, event: dict[str, Any], *, client: str, **headers: str) -> None:
    sender = TestClient(app.client.app, client=(client, 50000))
    response = sender.post(
        f"/api/{app.project_id}/envelope/",
        content=envelope(event),
        headers={**auth_header(app.public_key), **headers},
    )
    assert response.status_code == 200, response.text


def _browser_error(**extra: Any) -> dict[str, Any]:
    """One issue's error, from a browser: the platform alone asks for the address."""
    event = sentry_event("Cannot read properties of undefined", "TypeError", **extra)
    event["platform"] = "javascript"
    return event


def test_anonymous_browser_errors_count_one_user_per_address(app: IngestApp) -> None:
    legacy: dict[str, Any] = {}
    opted_in = {"sdk": {"name": "sentry.javascript.browser", "settings": {"infer_ip": "auto"}}}
    _send(app, _browser_error(**legacy), client=VISITOR)
    _send(app, _browser_error(**opted_in), client=VISITOR)
    _send(app, _browser_error(user={"ip_address": "{{auto}}"}), client=OTHER_VISITOR)
    # The client's own X-Forwarded-For is not believed: no proxy is trusted.
    spoofed = _browser_error(**legacy)
    _send(app, spoofed, client=VISITOR, **{"X-Forwarded-For": "192.0.2.200"})
    never = _browser_error(
        sdk={"name": "sentry.javascript.browser", "settings": {"infer_ip": "never"}}
    )
    _send(app, never, client="192.0.2.77")
    app.digest()

    store = app.runtime.store
    issues, _ = store.list_issues(IssueFilter(app.project_id), limit=10, cursor=None)
    assert [issue.users_seen for issue in issues] == [2]
    stored = app.stored(spoofed["event_id"])
    assert stored is not None and stored.event.user is not None
    project = store.get_project_by_id(app.project_id)
    assert project is not None and len(project.address_salt) == 32
    assert stored.event.user.ip_hash == address_hash(project, VISITOR)
    assert stored.event.user.ip_address is None
    refused = app.stored(never["event_id"])
    assert refused is not None and refused.event.user is None
    # Searching by address hashes what is typed, as digest hashed what was sent.
    context = search_context(store, store, project, None)
    for query in (f"user.ip:{VISITOR}", f"user:{OTHER_VISITOR}"):
        found = parse_issue_search(app.project_id, {"query": query}, context)
        assert len(store.list_issues(found, limit=10, cursor=None)[0]) == 1, query
    nobody = parse_issue_search(app.project_id, {"query": "user.ip:192.0.2.77"}, context)
    assert store.list_issues(nobody, limit=10, cursor=None)[0] == []
    databases = list(app.runtime.settings.data_dir.glob("heliograph.sqlite3*"))  # -wal too
    assert databases
    for database in databases:
        assert VISITOR.encode() not in database.read_bytes(), database.name


def test_a_project_that_keeps_addresses_stores_them(app: IngestApp) -> None:
    app.runtime.store.update_project(app.project_id, store_ip_addresses=True)
    event = _browser_error()
    _send(app, event, client=VISITOR)
    app.digest()
    stored = app.stored(event["event_id"])
    assert stored is not None and stored.event.user is not None
    assert (stored.event.user.ip_address, stored.event.user.ip_hash) == (VISITOR, None)
