"""Working on an issue: status changes with who made them, assignees, comments, the log.

The web pages and the API both change issues through here, so every change
is logged the same way whichever door it came in by. Assignees must be of
the issue's organization: a member (by id or email) or one of its teams.
Comments are plain text, kept as typed and escaped wherever shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from heliograph.query.serialize import iso
from heliograph.store.base import Issue, Project
from heliograph.store.issue_activity import MAX_COMMENT_CHARS, Activity, Assignee

if TYPE_CHECKING:
    from heliograph.store.contract import Access, IssueStore, IssueWork


class WorkError(ValueError):
    """The change cannot be made as asked; the message says why."""


def status_kind(status: str, in_next_release: bool) -> str:
    """The activity kind (Sentry's name) of a status change."""
    if status == "resolved":
        return "set_resolved_in_release" if in_next_release else "set_resolved"
    return "set_ignored" if status == "ignored" else "set_unresolved"


def change_status(
    store: IssueStore,
    work: IssueWork,
    issue: Issue,
    status: str,
    *,
    in_next_release: bool = False,
    actor_id: int | None,
) -> Issue:
    """Set the status and log who did it (nothing is logged when it was already so:
    reopening an unresolved issue only makes a *new* one *ongoing*)."""
    updated = store.set_issue_status(issue.id, status, in_next_release=in_next_release)
    result = updated or issue
    moved = result.status != issue.status
    if moved or (result.status == "resolved" and result.substatus != issue.substatus):
        data = {"version": result.resolved_in_release} if result.resolved_in_release else {}
        work.add_activity(
            issue.id, status_kind(status, in_next_release), user_id=actor_id, data=data
        )
    return result


def resolve_assignee(access: Access, project: Project, value: Any) -> tuple[int | None, int | None]:
    """(user id, team id) from Sentry's ``assignedTo``: ``"user:3"``, ``"team:2"``, an email,
    a bare user id, or None / "" (unassign)."""
    if value is None or value == "":
        return None, None
    if not isinstance(value, str):
        raise WorkError('assignedTo must be "user:<id>", "team:<id>", an email or null')
    kind, sep, raw = value.partition(":")
    organization = project.organization_id
    if sep and kind == "team":
        team = access.get_team(organization, int(raw)) if raw.isdigit() else None
        if team is None:
            raise WorkError(f"no team {raw!r} in this organization")
        return None, team.id
    members = access.organization_members(organization)
    if (sep and kind == "user") or value.isdigit():
        wanted = raw if sep else value
        found = next((m for m in members if str(m.user.id) == wanted), None)
    else:
        found = next((m for m in members if m.user.email.lower() == value.lower()), None)
    if found is None:
        raise WorkError(f"{value!r} is not a member of this organization")
    return found.user.id, None


def add_comment(work: IssueWork, issue: Issue, text: Any, *, actor_id: int | None) -> Activity:
    """Log a comment: plain text, 1 to MAX_COMMENT_CHARS characters after trimming."""
    if not isinstance(text, str) or not text.strip():
        raise WorkError("a comment needs some text")
    text = text.strip()
    if len(text) > MAX_COMMENT_CHARS:
        raise WorkError(f"a comment holds at most {MAX_COMMENT_CHARS:,} characters")
    return work.add_activity(issue.id, "note", user_id=actor_id, data={"text": text})


@dataclass(frozen=True, slots=True)
class People:
    """Names of the organization's members and teams, by id, for showing the log."""

    users: dict[int, str]
    teams: dict[int, str]

    def assignee_label(self, assignee: Assignee | None) -> str | None:
        if assignee is None:
            return None
        if assignee.team_id is not None:
            return "#" + self.teams.get(assignee.team_id, f"team {assignee.team_id}")
        return self.users.get(assignee.user_id or 0, f"user {assignee.user_id}")

    def user_label(self, user_id: int | None) -> str:
        return "Heliograph" if user_id is None else self.users.get(user_id, f"user {user_id}")


def people(access: Access, project: Project) -> People:
    members = access.organization_members(project.organization_id)
    teams = access.teams(project.organization_id)
    return People({m.user.id: m.user.email for m in members}, {t.id: t.slug for t in teams})


def describe(entry: Activity, names: People) -> str:
    """One line of the log, in words (the comment's text is shown beside it)."""
    if entry.kind == "note":
        return "commented"
    if entry.kind == "assigned":
        if entry.data.get("assigneeType") == "team":
            return f"assigned it to #{names.teams.get(entry.data.get('assignee', 0), '?')}"
        return f"assigned it to {names.user_label(entry.data.get('assignee'))}"
    version = entry.data.get("version")
    return {
        "unassigned": "unassigned it",
        "set_resolved": "resolved it",
        "set_resolved_in_release": "resolved it in the next release"
        + (f" (after {version})" if version else ""),
        "set_unresolved": "reopened it",
        "set_ignored": "ignored it",
        "set_regression": "marked it regressed: a new event arrived after it was resolved",
    }.get(entry.kind, entry.kind)


def activity_json(entry: Activity, names: People) -> dict[str, Any]:
    """An entry shaped like Sentry's activity (``type``, ``data``, ``dateCreated``, ``user``)."""
    user = None
    if entry.user_id is not None:
        email = names.users.get(entry.user_id)
        user = {"id": str(entry.user_id), "email": email, "name": email}
    return {
        "id": str(entry.id),
        "type": entry.kind,
        "data": entry.data,
        "dateCreated": iso(entry.created_at),
        "user": user,
    }


def assignee_json(assignee: Assignee | None, names: People) -> dict[str, Any] | None:
    """Sentry's ``assignedTo``: ``{"type": "user"|"team", "id", "name"}`` or None."""
    if assignee is None:
        return None
    if assignee.team_id is not None:
        name = names.teams.get(assignee.team_id, "")
        return {"type": "team", "id": str(assignee.team_id), "name": name}
    email = names.users.get(assignee.user_id or 0, "")
    return {"type": "user", "id": str(assignee.user_id), "name": email, "email": email}
