"""What the SQL backends share about issues and events, apart from the SQL itself.

The tags an error counts into its issue, the user it counts once, the outcome
tally of a batch, the row -> record mappers and the pieces of issue listing
(sort columns, cursor values, literal search, the hourly trend): pure Python,
so SQLite and PostgreSQL cannot drift apart on any of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from heliograph.model import Event
from heliograph.store.base import Issue, Outcome, StoredEvent

SORT_COLUMNS = {"last_seen": "last_seen", "first_seen": "first_seen", "count": "times_seen"}
ISSUE_COLUMNS = (
    "id, project_id, group_hash, grouping_version, title, culprit, level, platform, "
    "first_seen, last_seen, times_seen, users_seen, status, substatus, resolved_in_release, "
    "first_release, last_release, short_number"
)
# Tags that every error contributes to its issue's breakdown, beside the event's own.
BUILTIN_TAG_FIELDS = ("environment", "release", "level", "server_name")
MAX_TAGS_PER_EVENT = 50


def issue_from_row(row: Sequence[Any]) -> Issue:
    """An issue from a row of :data:`ISSUE_COLUMNS`, in that order."""
    return Issue(*row)


def stored_event_from_row(row: Any) -> StoredEvent:
    """A stored event from a row with ``project_id, event_id, issue_id, data`` (JSON bytes)."""
    return StoredEvent(
        project_id=row["project_id"],
        event_id=row["event_id"],
        issue_id=row["issue_id"],
        event=Event.from_dict(orjson.loads(row["data"])),
    )


def issue_sort_value(issue: Issue, sort: str) -> float:
    """The value of ``issue`` that a listing sorted by ``sort`` pages on (for its cursor)."""
    if sort == "last_seen":
        return issue.last_seen
    if sort == "first_seen":
        return issue.first_seen
    return issue.times_seen


def escape_like(text: str) -> str:
    """``text`` as a literal inside a ``LIKE ... ESCAPE '\\'`` pattern."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def event_tags(event: Event) -> Iterable[tuple[str, str]]:
    """The (key, value) tags an error counts into its issue: builtins, the user, its own."""
    seen: set[str] = set()
    for field_name in BUILTIN_TAG_FIELDS:
        value = getattr(event, field_name)
        if value:
            seen.add(field_name)
            yield field_name, str(value)[:200]
    if event.user and event.user.key:
        seen.add("user")
        yield "user", event.user.key[:200]
    for index, (key, value) in enumerate(event.tags.items()):
        if index >= MAX_TAGS_PER_EVENT:
            break
        if key not in seen:
            yield key[:200], str(value)[:200]


def user_key(event: Event) -> str | None:
    """Who an error happened to, counted once per issue: its user, else its distinct id."""
    key = event.user.key if event.user else None
    if key is None and event.distinct_id:
        key = f"id:{event.distinct_id}"
    return key or None


# What an alias key starts with: ``also.email:a@example.com``.
ALIAS_PREFIX = "also."


def user_alias_keys(event: Event) -> list[str]:
    """The user's other fields, as ``issue_users`` keys that search finds but no count counts.

    A user is counted under one key (:func:`user_key`: the id when there is
    one), so ``user.email:`` alone would miss every user who also has an id.
    The email, username and address beside the counted key are kept under
    ``also.``-prefixed keys: a different key space, so they never collide with
    (and never suppress the count of) another event's counted key.
    """
    user = event.user
    key = user_key(event)
    if user is None or key is None:
        return []
    aliases = []
    for prefix, value in (
        ("id", user.id),
        ("email", user.email),
        ("username", user.username),
        ("ip", user.ip_address),
        ("iphash", user.ip_hash),
    ):
        if value and f"{prefix}:{value}" != key:
            aliases.append(f"{ALIAS_PREFIX}{prefix}:{value}")
    return aliases


def hourly_trend(
    issue_ids: Sequence[int], rows: Iterable[Sequence[Any]], *, start: int, now_hour: int
) -> dict[int, list[int]]:
    """Series of ``now_hour - start + 1`` counts per issue from (issue_id, hour, count) rows."""
    hours = now_hour - start + 1
    trend = {issue_id: [0] * hours for issue_id in issue_ids}
    for issue_id, hour, count in rows:
        if start <= hour <= now_hour:
            trend[issue_id][hour - start] = int(count)
    return trend


def describe_failure(exc: BaseException) -> str:
    """Why an event could not be written, as :class:`RejectedEvent` reports it."""
    return f"{type(exc).__name__}: {exc}"[:500]


class OutcomeTally:
    """Outcome counts of one batch's events, by (project, category, outcome, reason)."""

    def __init__(self) -> None:
        self.counts: dict[tuple[int, str, str, str], int] = {}
        # (project id, event id) of each event accepted: stored for the first time.
        self.new_keys: set[tuple[int, str]] = set()

    def add(self, event: Event, outcome: str, reason: str = "") -> None:
        key = (event.project_id, event.kind, outcome, reason)
        self.counts[key] = self.counts.get(key, 0) + 1
        if outcome == "accepted":
            self.new_keys.add((event.project_id, event.event_id))

    def merge(self, other: OutcomeTally) -> None:
        for key, quantity in other.counts.items():
            self.counts[key] = self.counts.get(key, 0) + quantity
        self.new_keys |= other.new_keys

    def as_outcomes(self) -> list[Outcome]:
        return [Outcome(*key, quantity) for key, quantity in self.counts.items()]


# The columns of an ``events`` row, in the order :func:`event_row` gives them.
EVENT_ROW_COLUMNS = (
    "project_id, event_id, issue_id, kind, name, timestamp, received_at, level, "
    "environment, release, distinct_id, trace_id, data"
)


def event_row(event: Event, issue_id: int | None, document: bytes) -> tuple[Any, ...]:
    """An ``events`` row: the event's indexed fields, its issue, its JSON ``document``."""
    return (
        event.project_id,
        event.event_id,
        issue_id,
        event.kind,
        event.name,
        event.timestamp,
        event.received_at,
        event.level,
        event.environment,
        event.release,
        event.distinct_id,
        event.trace_id,
        document,
    )
