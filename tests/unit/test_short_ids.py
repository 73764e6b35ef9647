"""Short ids (``PROJ-12``) name an issue by its number in its project."""

from __future__ import annotations

from heliograph.alerts.messages import render
from heliograph.query.issue_list import short_id_number
from heliograph.query.serialize import short_id
from heliograph.store.base import Issue, Project

PROJECT = Project(4, 1, "acme", "shop-web", "Shop", "python", "allowed", False, 1000, 90)


def _issue(short_number: int | None) -> Issue:
    return Issue(
        id=812, project_id=4, group_hash="h", grouping_version="v2", title="t", culprit="",
        level="error", platform="python", first_seen=0, last_seen=0, times_seen=1, users_seen=0,
        status="unresolved", substatus="new", resolved_in_release=None, first_release=None,
        last_release=None, short_number=short_number,
    )  # fmt: skip


def test_short_id_uses_the_number_in_the_project() -> None:
    assert short_id(PROJECT, _issue(12)) == "SHOP-WEB-12"
    assert short_id(PROJECT, _issue(None)) == "SHOP-WEB-812"


def test_a_search_for_the_projects_short_id_finds_the_number() -> None:
    assert short_id_number(PROJECT, "SHOP-WEB-12") == 12
    assert short_id_number(PROJECT, " shop-web-7 ") == 7
    assert short_id_number(PROJECT, "OTHER-12") is None
    assert short_id_number(PROJECT, "SHOP-WEB-") is None
    assert short_id_number(PROJECT, "SHOP-WEB-1x") is None
    assert short_id_number(PROJECT, "SHOP-WEB-١٢") is None  # digits, but not ASCII
    assert short_id_number(PROJECT, "timeout") is None


def test_alerts_name_the_issue_by_its_short_id() -> None:
    issue = {"id": 812, "title": "KeyError: 'x'", "culprit": "", "level": "error",
             "times_seen": 1, "users_seen": 0}  # fmt: skip
    rule = {"trigger": "new_issue", "name": "r"}
    numbered = render([{"rule": rule, "issue": {**issue, "short_number": 3}}], PROJECT, "https://h")
    assert "SHOP-WEB-3 KeyError" in numbered.text
    # Queued before issues had numbers: the id, as then.
    queued = render([{"rule": rule, "issue": issue}], PROJECT, "https://h")
    assert "SHOP-WEB-812 KeyError" in queued.text
