"""The record types the storage contract speaks in, and its shared vocabulary.

The protocols themselves are in :mod:`heliograph.store.contract`. Everything
here is plain data: every backend returns these, every caller reads them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

import orjson

from heliograph.llm_messages import GenerationMessages
from heliograph.model import Event
from heliograph.store.replay_records import ReplayError, ReplaySegment
from heliograph.store.score_records import Score

IssueStatus = Literal["unresolved", "resolved", "ignored"]
ISSUE_STATUSES: tuple[str, ...] = ("unresolved", "resolved", "ignored")
IssueSort = Literal["last_seen", "first_seen", "count"]
Role = Literal["owner", "admin", "member", "viewer"]
ROLES: tuple[str, ...] = ("owner", "admin", "member", "viewer")
TimeUnit = Literal["hour", "day"]

SESSION_TTL = 14 * 24 * 3600
LOGIN_LINK_TTL = 24 * 3600
SCOPES = ("read", "write", "admin")

_SLUG_JUNK = re.compile(r"[^a-z0-9]+")


def slugify(text: str) -> str:
    """``"Web Platform"`` -> ``"web-platform"``: team slugs are derived from names."""
    return _SLUG_JUNK.sub("-", text.lower()).strip("-")[:50]


@dataclass(frozen=True, slots=True)
class Organization:
    id: int
    slug: str
    name: str
    ai_policy: str


@dataclass(frozen=True, slots=True)
class Project:
    id: int
    organization_id: int
    organization_slug: str
    slug: str
    name: str
    platform: str
    ai_policy: str
    keep_llm_payloads: bool
    payload_max_chars: int
    retention_days: int
    # Events per second for the whole project; None: the server default
    # (``HELIOGRAPH_PROJECT_RATE_LIMIT``), 0: unlimited.
    rate_limit: int | None = None
    # Project-level scrubbing: more sensitive key names, and keys never scrubbed.
    scrub_extra_keys: tuple[str, ...] = ()
    scrub_safe_fields: tuple[str, ...] = ()
    # Session replay (docs/replay.md): whether recordings are taken and kept, the
    # share of sessions recorded, the shortest replay listed, and what is kept
    # unmasked. Inputs are always masked.
    replay_enabled: bool = True
    replay_sample_percent: int = 100
    replay_min_seconds: int = 0
    replay_unmask_text: bool = False
    replay_record_media: bool = False
    # Users' IP addresses (docs/access.md): kept as sent only when the project says
    # so; otherwise replaced by a keyed hash under this project's random salt.
    store_ip_addresses: bool = False
    address_salt: str = ""


@dataclass(frozen=True, slots=True)
class ProjectKey:
    public_key: str
    project_id: int
    label: str
    created_at: float
    revoked_at: float | None
    rate_limit: int | None = None  # events per second through this key; None: no key limit


@dataclass(frozen=True, slots=True)
class Team:
    id: int
    organization_id: int
    slug: str
    name: str


@dataclass(frozen=True, slots=True)
class Member:
    """A user's membership of an organization, with the teams they are in there."""

    user: UserAccount
    role: str
    team_ids: frozenset[int]


@dataclass(frozen=True, slots=True)
class ApiTokenInfo:
    """What the account page lists of a personal API token (never the token itself)."""

    id: int
    label: str
    prefix: str
    scopes: frozenset[str]
    created_at: float
    last_used_at: float | None


@dataclass(frozen=True, slots=True)
class UserAccount:
    id: int
    email: str
    is_superuser: bool


@dataclass(frozen=True, slots=True)
class SessionInfo:
    user: UserAccount
    csrf_token: str


@dataclass(frozen=True, slots=True)
class Issue:
    id: int
    project_id: int
    group_hash: str
    grouping_version: str
    title: str
    culprit: str
    level: str
    platform: str
    first_seen: float
    last_seen: float
    times_seen: int
    users_seen: int
    status: str
    substatus: str
    resolved_in_release: str | None
    first_release: str | None
    last_release: str | None
    # Its number in its project (the 12 of PROJ-12); None only before digest's commit numbers it.
    short_number: int | None = None


@dataclass(frozen=True, slots=True)
class StoredEvent:
    project_id: int
    event_id: str
    issue_id: int | None
    event: Event


@dataclass(frozen=True, slots=True)
class TagCount:
    key: str
    value: str
    count: int


@dataclass(frozen=True, slots=True)
class Outcome:
    project_id: int
    category: str
    outcome: str  # "accepted", "filtered", "invalid", "rate_limited", "client_discard"
    reason: str
    quantity: int
    day: int = 0  # days since the epoch; 0 means "today" when recording


@dataclass(frozen=True, slots=True)
class GroupedEvent:
    """An error event ready to store, with what digest derived from it."""

    event: Event
    group_hash: str
    grouping_version: str
    title: str
    culprit: str
    # The hash grouping v1 gave the event, when it differs from group_hash:
    # digest files the event under it while only a v1 issue has it.
    v1_hash: str | None = None


@dataclass(slots=True)
class DigestBatch:
    """Everything one digest pass writes, committed in one transaction.

    Recording it also counts each event written for the first time as an
    ``accepted`` outcome (a replayed event is not counted twice) and each
    event that could not be written as ``invalid`` (reason ``internal``),
    beside ``outcomes``.
    """

    errors: list[GroupedEvent] = field(default_factory=list)
    analytics: list[Event] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    # Recorded segments (their blobs already written), and errors naming a replay.
    replays: list[ReplaySegment] = field(default_factory=list)
    replay_errors: list[ReplayError] = field(default_factory=list)
    # Events already encoded as the JSON document a store keeps, by (project id,
    # event id). Digest encodes them in its own worker, before the write: on a
    # store with one writer at a time (SQLite), encoding inside the write was a
    # quarter of what the workers queued for. A store encodes any event missing
    # here itself (:func:`event_document`).
    documents: dict[tuple[int, str], bytes] = field(default_factory=dict)
    # Messages of generations not in this batch (from OTLP logs, prepared): each
    # completes its stored generation, or waits in the store for it
    # (:mod:`heliograph.store.held_messages`).
    llm_messages: list[GenerationMessages] = field(default_factory=list)
    # Scores the batch's events gave (``$ai_score``, ``$ai_metric``, ``$ai_feedback``:
    # digest/scores.py), written in the same transaction (store/score_store.py).
    scores: list[Score] = field(default_factory=list)

    def document(self, event: Event) -> bytes:
        """``event`` as its stored JSON document: the one digest encoded, else now."""
        found = self.documents.get((event.project_id, event.event_id))
        return event_document(event) if found is None else found


def event_document(event: Event) -> bytes:
    """The JSON document every backend stores for an event (its canonical fields)."""
    return orjson.dumps(event)


@dataclass(frozen=True, slots=True)
class RejectedEvent:
    """An event of a batch that could not be written; the rest of the batch was."""

    project_id: int
    event_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class RecordResult:
    """What recording a batch did: which events, if any, could not be written."""

    rejected: tuple[RejectedEvent, ...] = ()


class StoreNotFound(Exception):
    """Opened without ``create`` where there is no store yet (a wrong data directory)."""


class SchemaTooNew(Exception):
    """The database was migrated by a newer Heliograph than this one.

    Its schema has migrations this version does not know: running on it could
    misread or damage what they changed, so the store refuses to open.
    ``what`` names the database (a file, a server); ``found`` is its schema
    version, ``known`` the last one this version knows.
    """

    def __init__(self, what: str, found: int, known: int) -> None:
        from heliograph import __version__

        self.what = what
        self.found = found
        self.known = known
        super().__init__(
            f"{what} was written by a newer Heliograph (schema {found}; this is "
            f"heliograph {__version__}, which knows up to {known}): upgrade heliograph, "
            "or restore a backup made by this version"
        )


class StoreUnavailable(Exception):
    """The store cannot write just now (locked, disk full, unreachable).

    Nothing is wrong with the data: retry later. Any other exception from a
    write means the data itself could not be stored.
    """


class QueryTimeout(Exception):
    """A read ran past the backend's time limit and was stopped.

    Each backend raises its own subclass; the web app answers 503 for any.
    """


@dataclass(frozen=True, slots=True)
class IssueFilter:
    project_id: int
    status: str | None = "unresolved"
    level: str | None = None
    environment: str | None = None
    release: str | None = None
    query: str | None = None
    sort: IssueSort = "last_seen"
    # Other tags every listed issue must have seen: (key, value) pairs.
    tags: tuple[tuple[str, str], ...] = ()
    # Tags no listed issue has seen (``!key:value``); keys it has (``has:``) or lacks.
    excluded_tags: tuple[tuple[str, str], ...] = ()
    has_tags: tuple[str, ...] = ()
    lacks_tags: tuple[str, ...] = ()
    # Users (``issue_users`` keys such as ``id:42``): per filter, any of its keys;
    # every filter must (or, excluded, must not) match.
    users: tuple[tuple[str, ...], ...] = ()
    excluded_users: tuple[tuple[str, ...], ...] = ()
    # Bounds on first and last seen (Unix seconds), inclusive; None: unbounded.
    first_seen_from: float | None = None
    first_seen_to: float | None = None
    last_seen_from: float | None = None
    last_seen_to: float | None = None
    # "user:<id>", "team:<id>", "any" (assigned) or "none" (unassigned).
    assignee: str | None = None


@dataclass(frozen=True, slots=True)
class IssueEventFilter:
    """Conditions on an issue's events that every backend answers from typed columns.

    ``level``, ``environment`` and ``release``: equal to; ``since`` / ``until``:
    the event's timestamp within these bounds (Unix seconds, inclusive; None:
    unbounded). ``scan``: look at no more than this many of the issue's events
    past the cursor (those within the time bounds, newest first), so that a
    filter that matches few events costs a bounded read, not a walk over
    every event of the issue (None: no bound). The rest of an event search
    (tags, users, text) is in the stored document: the caller applies it
    (:mod:`heliograph.query.event_scan`).
    """

    level: str | None = None
    environment: str | None = None
    release: str | None = None
    since: float | None = None
    until: float | None = None
    scan: int | None = None
