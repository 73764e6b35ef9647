"""A pasted id in the search box: go to the issue or the event instead of searching.

``SHOP-12`` (a short id, :func:`heliograph.query.serialize.short_id`) names the
issue numbered 12 in project ``shop``; an older link may carry the issue's
row id there instead, so that is tried when no issue has the number. A
32-hex event id (dashes allowed, any case) opens that event on its issue.
Each is one indexed look-up, done only when the whole search is such an id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from heliograph.store.base import Issue, Project

if TYPE_CHECKING:
    from heliograph.store.contract import IssueStore

_EVENT_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True, slots=True)
class Jump:
    """Where a pasted id leads: the issue, and the event when one was pasted."""

    issue: Issue
    event_id: str | None = None

    @property
    def url(self) -> str:
        event = f"?event={self.event_id}" if self.event_id else ""
        return f"/issues/{self.issue.id}/{event}"


def _short_number(project: Project, text: str) -> int | None:
    prefix, sep, number = text.rpartition("-")
    if sep and prefix.lower() == project.slug.lower() and number.isascii() and number.isdigit():
        return int(number)
    return None


def find_jump(store: IssueStore, project: Project, query: str) -> Jump | None:
    """The issue or event ``query`` names in ``project``, if it is just an id; else None."""
    text = query.strip()
    number = _short_number(project, text)
    if number is not None and number < 2**63:
        issue = _by_number(store, project, number)
        return Jump(issue) if issue is not None else None
    event_id = text.replace("-", "").lower()
    if _EVENT_ID.match(event_id):
        stored = store.get_event(project.id, event_id)
        if stored is not None and stored.issue_id is not None:
            issue = store.get_issue(stored.issue_id)
            if issue is not None:
                return Jump(issue, event_id)
    return None


def _by_number(store: IssueStore, project: Project, number: int) -> Issue | None:
    """The issue numbered ``number`` in the project, else the issue with that row id."""
    by_number = getattr(store, "issue_by_number", None)
    if by_number is not None:  # per-project numbers (migration 11)
        found: Issue | None = by_number(project.id, number)
        if found is not None:
            return found
    issue = store.get_issue(number)
    return issue if issue is not None and issue.project_id == project.id else None
