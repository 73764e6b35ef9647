"""The real sentry-sdk, raising real exceptions, against a live server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveServer

pytestmark = pytest.mark.e2e
APP = Path(__file__).with_name("sentry_app.py")


def run_app(server: LiveServer, scenario: str, release: str = "app@1.0.0") -> None:
    subprocess.run(
        [sys.executable, str(APP), server.dsn, scenario, release], check=True, timeout=60
    )
    server.wait_for_digest()


def issues(server: LiveServer, **params: str) -> list[dict[str, Any]]:
    with server.api() as api:
        response = api.get("/api/0/projects/default/default/issues/", params=params)
    assert response.status_code == 200, response.text
    return list(response.json())


def issue_titled(server: LiveServer, prefix: str, **params: str) -> dict[str, Any]:
    found = [i for i in issues(server, **params) if i["title"].startswith(prefix)]
    assert len(found) == 1, [i["title"] for i in issues(server, status="all")]
    return found[0]


def test_repeated_error_groups_into_one_issue(live_server: LiveServer) -> None:
    run_app(live_server, "divide")
    issue = issue_titled(live_server, "ZeroDivisionError")
    assert issue["count"] == "2"
    assert issue["userCount"] == 1
    assert issue["culprit"].endswith("in divide")
    assert issue["level"] == "error"


def test_event_detail_has_stack_context_vars_breadcrumbs_user(live_server: LiveServer) -> None:
    run_app(live_server, "divide")
    issue = issue_titled(live_server, "ZeroDivisionError")
    with live_server.api() as api:
        latest = api.get(f"/api/0/issues/{issue['id']}/events/latest/").json()
        by_id = api.get(f"/api/0/projects/default/default/events/{latest['eventID']}/").json()
    assert by_id["eventID"] == latest["eventID"]
    entries = {e["type"]: e["data"] for e in latest["entries"]}
    frames = entries["exception"]["values"][-1]["stacktrace"]["frames"]
    crash = frames[-1]
    assert crash["function"] == "divide"
    assert crash["inApp"] is True
    assert any("total / parts" in line for _, line in crash["context"])
    assert crash["vars"]["parts"] == "0"  # sentry-sdk sends reprs
    assert crash["vars"]["secret_password"] == "[Filtered]"
    assert entries["breadcrumbs"]["values"][-1]["message"] == "user logged in"
    assert latest["user"]["id"] == "user-42"
    tags = {t["key"]: t["value"] for t in latest["tags"]}
    assert tags["customer_tier"] == "gold"
    assert tags["environment"] == "production"
    assert latest["release"]["version"] == "app@1.0.0"


def test_chained_exception_is_one_issue_with_both_links(live_server: LiveServer) -> None:
    run_app(live_server, "chain")
    issue = issue_titled(live_server, "RuntimeError")
    assert issue["count"] == "2"  # order ids differ, the message is normalised away
    with live_server.api() as api:
        latest = api.get(f"/api/0/issues/{issue['id']}/events/latest/").json()
    values = next(e for e in latest["entries"] if e["type"] == "exception")["data"]["values"]
    assert [v["type"] for v in values] == ["KeyError", "RuntimeError"]


def test_resolve_then_new_event_is_a_regression(live_server: LiveServer) -> None:
    run_app(live_server, "message")
    issue = issue_titled(live_server, "Payment provider returned")
    assert issue["level"] == "warning"
    with live_server.api() as api:
        resolved = api.put(f"/api/0/issues/{issue['id']}/", json={"status": "resolved"})
        assert resolved.status_code == 200, resolved.text
        assert resolved.json()["status"] == "resolved"
    assert not [i for i in issues(live_server) if i["id"] == issue["id"]]
    run_app(live_server, "message")
    again = issue_titled(live_server, "Payment provider returned")
    assert again["id"] == issue["id"]
    assert again["status"] == "unresolved"
    assert again["substatus"] == "regressed"


def test_resolved_in_next_release_stays_resolved_for_the_same_release(
    live_server: LiveServer,
) -> None:
    run_app(live_server, "divide", release="app@2.0.0")
    issue = issue_titled(live_server, "ZeroDivisionError")
    with live_server.api() as api:
        response = api.put(
            f"/api/0/issues/{issue['id']}/",
            json={"status": "resolved", "statusDetails": {"inNextRelease": True}},
        )
    assert response.json()["statusDetails"] == {"inNextRelease": True, "inRelease": "app@2.0.0"}
    run_app(live_server, "divide", release="app@2.0.0")
    assert issue_titled(live_server, "ZeroDivisionError", status="resolved")["id"] == issue["id"]
    run_app(live_server, "divide", release="app@2.0.1")
    assert issue_titled(live_server, "ZeroDivisionError")["substatus"] == "regressed"


def test_issue_list_filters_sorts_and_paginates(live_server: LiveServer) -> None:
    run_app(live_server, "divide")
    run_app(live_server, "chain")
    everything = issues(live_server, status="all")
    assert len(everything) >= 2
    assert [i["title"] for i in issues(live_server, query="is:all ZeroDivision")] == [
        i["title"] for i in everything if "ZeroDivision" in i["title"]
    ]
    assert all(i["level"] == "warning" for i in issues(live_server, query="is:all level:warning"))
    by_count = issues(live_server, status="all", sort="freq")
    counts = [int(i["count"]) for i in by_count]
    assert counts == sorted(counts, reverse=True)
    with live_server.api() as api:
        first = api.get(
            "/api/0/projects/default/default/issues/", params={"status": "all", "limit": 1}
        )
        assert 'rel="next"; results="true"' in first.headers["link"]
        cursor = (
            first.headers["link"].split('rel="next"; results="true"; cursor="')[1].split('"')[0]
        )
        second = api.get(
            "/api/0/projects/default/default/issues/",
            params={"status": "all", "limit": 1, "cursor": cursor},
        )
    assert second.json()[0]["id"] != first.json()[0]["id"]


def test_api_requires_a_valid_token(live_server: LiveServer) -> None:
    import httpx

    anonymous = httpx.get(f"{live_server.url}/api/0/projects/")
    assert anonymous.status_code == 401
    assert "detail" in anonymous.json()
    wrong = httpx.get(
        f"{live_server.url}/api/0/projects/", headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status_code == 401
    with live_server.api() as api:
        assert api.get("/api/0/issues/999999/").status_code == 404
        bad = api.put("/api/0/issues/1/", json={"status": "exploded"})
        assert bad.status_code in (400, 404)
        assert api.get("/api/openapi.json").json()["openapi"].startswith("3.")


def test_log_calls_group_by_template_and_show_the_formatted_message(
    live_server: LiveServer,
) -> None:
    run_app(live_server, "log")
    issue = issue_titled(live_server, "Payment webhook")
    assert issue["count"] == "3"  # one issue for the log call, whatever its arguments
    assert issue["culprit"] == "shop.payments"
    with live_server.api() as api:
        latest = api.get(f"/api/0/issues/{issue['id']}/events/latest/").json()
    assert "failed with status 50" in latest["message"] and "%s" not in latest["message"]
