"""The ``WHERE`` clause an :class:`~heliograph.store.base.IssueFilter` makes, for every SQL backend.

Listing and counting issues share it, so a count always counts what the list
shows. Every condition reads an index, never the events: tags through
``issue_tags_by_value`` (key, value, issue), users through
``issue_users_by_user``, assignees through ``issue_assignees_by_user`` /
``_by_team``, times through the issue row itself. Written once in the
shared ``?`` style (:mod:`heliograph.store.sql_dialect`).
"""

from __future__ import annotations

from typing import Any

from heliograph.store.base import IssueFilter
from heliograph.store.issue_rows import escape_like
from heliograph.store.sql_dialect import SqlDialect

__all__ = ["issue_conditions"]

_TAG = "id {} (SELECT issue_id FROM issue_tags WHERE key = ? AND value = ?)"
_TAG_KEY = "id {} (SELECT issue_id FROM issue_tags WHERE key = ?)"


def issue_conditions(filters: IssueFilter, dialect: SqlDialect) -> tuple[str, list[Any]]:
    """The conditions (joined by ``AND``, on table ``issues``) and their parameters."""
    parts = ["project_id = ?"]
    params: list[Any] = [filters.project_id]
    if filters.status:
        parts.append("status = ?")
        params.append(filters.status)
    if filters.level:
        parts.append("level = ?")
        params.append(filters.level)
    builtins = [("environment", filters.environment), ("release", filters.release)]
    for key, value in [*builtins, *filters.tags]:
        if value:
            parts.append(_TAG.format("IN"))
            params += [key, value]
    for key, value in filters.excluded_tags:
        parts.append(_TAG.format("NOT IN"))
        params += [key, value]
    for key in filters.has_tags:
        parts.append(_TAG_KEY.format("IN"))
        params.append(key)
    for key in filters.lacks_tags:
        parts.append(_TAG_KEY.format("NOT IN"))
        params.append(key)
    for keys, operator in [
        *((k, "IN") for k in filters.users),
        *((k, "NOT IN") for k in filters.excluded_users),
    ]:
        condition, values = dialect.in_list("user_key", keys)
        parts.append(f"id {operator} (SELECT issue_id FROM issue_users WHERE {condition})")
        params += values
    for column, operator, bound in (
        ("first_seen", ">=", filters.first_seen_from),
        ("first_seen", "<=", filters.first_seen_to),
        ("last_seen", ">=", filters.last_seen_from),
        ("last_seen", "<=", filters.last_seen_to),
    ):
        if bound is not None:
            parts.append(f"{column} {operator} ?")
            params.append(bound)
    if filters.assignee:
        condition, values = _assignee(filters.assignee)
        parts.append(condition)
        params += values
    if filters.query:
        # Case ignored on every backend: users type "keyerror" for KeyError.
        like = dialect.like_ignoring_case
        parts.append(f"(title {like} ? ESCAPE '\\' OR culprit {like} ? ESCAPE '\\')")
        pattern = "%" + escape_like(filters.query) + "%"
        params += [pattern, pattern]
    return " AND ".join(parts), params


def _assignee(assignee: str) -> tuple[str, list[Any]]:
    if assignee == "none":
        return "id NOT IN (SELECT issue_id FROM issue_assignees)", []
    if assignee == "any":
        return "id IN (SELECT issue_id FROM issue_assignees)", []
    kind, _, raw = assignee.partition(":")
    if kind not in ("user", "team") or not raw.isdigit():
        raise ValueError(f"unknown assignee {assignee!r}")
    column = "user_id" if kind == "user" else "team_id"
    return f"id IN (SELECT issue_id FROM issue_assignees WHERE {column} = ?)", [int(raw)]
