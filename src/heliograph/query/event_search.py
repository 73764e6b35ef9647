"""The issue search applied to one issue's events: ``level:error user.email:a@b.c timeout``.

The issue page's events tab and ``GET /api/0/issues/{id}/events/?query=`` take
the issue search's language (:mod:`heliograph.query.search`, parsed by its
code, so the two cannot drift), read per event: ``customer_tier:gold`` keeps
the events that had that tag, where on the issue list it keeps the issues
with at least one such event.

* ``level:``, ``environment:``, ``release:`` (``latest`` too), any tag
  ``key:value`` and ``!key:value``, ``has:`` / ``!has:``: the event's tags,
  its builtin ones included (:func:`heliograph.store.issue_rows.event_tags`,
  what the issue counts);
* ``user:`` and ``user.id:`` / ``user.email:`` / ``user.username:`` /
  ``user.ip:``: any of the event's user fields (not only the one the issue
  counted the user under), its distinct id as an id;
* ``timestamp:-24h``, ``timestamp:>=2026-11-01``...: the event's time
  (Sentry's key for it), with :func:`~heliograph.query.search.parse_time_bound`;
* free text (``message:`` too): the event's title, culprit, message,
  exception types and values, transaction and request URL, ignoring case.

``is:``, ``assigned:``, ``firstSeen:``, ``lastSeen:`` and ``has:assignee``
describe the issue, not its events: an error says so rather than matching
everything (or nothing).

:class:`EventSearch` splits into what every backend filters on typed
columns (:attr:`EventSearch.store_filter`) and the rest, which
:meth:`EventSearch.matches` checks on the decoded event; it checks the typed
part too, so that it is the whole predicate on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from heliograph.digest.titles import event_culprit, event_title
from heliograph.model import Event
from heliograph.query.search import (
    SearchContext,
    SearchError,
    SearchState,
    add_token,
    key_value,
    parse_time_bound,
    search_tokens,
)
from heliograph.store.base import IssueEventFilter
from heliograph.store.issue_rows import event_tags

# Longer searches are refused: nobody types them, and each event is matched against all of it.
MAX_QUERY_CHARS = 1000
# Keys of the issue search that filter issues (lower case, as matched).
ISSUE_ONLY_KEYS = {
    "is": "is:",
    "assigned": "assigned:",
    "firstseen": "firstSeen:",
    "lastseen": "lastSeen:",
}
# Tag values as the issue counts them (store.issue_rows.event_tags clips them).
_TAG_VALUE_CHARS = 200


@dataclass(frozen=True, slots=True)
class EventSearch:
    """A parsed event search. Empty fields match every event."""

    level: str | None = None
    environment: str | None = None
    release: str | None = None
    since: float | None = None
    until: float | None = None
    tags: tuple[tuple[str, str], ...] = ()
    excluded_tags: tuple[tuple[str, str], ...] = ()
    has_tags: tuple[str, ...] = ()
    lacks_tags: tuple[str, ...] = ()
    # Per filter, the "field:value" keys it accepts (id:42, email:a@b.c), as the issue
    # search builds them; every filter must (excluded: must not) match one of user_keys.
    users: tuple[tuple[str, ...], ...] = ()
    excluded_users: tuple[tuple[str, ...], ...] = ()
    text: str | None = None  # lower case

    @property
    def store_filter(self) -> IssueEventFilter:
        """The part every backend filters on its own columns (no scan bound)."""
        return IssueEventFilter(
            level=self.level,
            environment=self.environment,
            release=self.release,
            since=self.since,
            until=self.until,
        )

    @property
    def needs_documents(self) -> bool:
        """Whether :meth:`matches` looks past :attr:`store_filter` (tags, users, text)."""
        return bool(
            self.tags
            or self.excluded_tags
            or self.has_tags
            or self.lacks_tags
            or self.users
            or self.excluded_users
            or self.text
        )

    @property
    def is_empty(self) -> bool:
        """Whether every event matches."""
        return not self.needs_documents and self.store_filter == IssueEventFilter()

    def matches(self, event: Event) -> bool:
        """Whether ``event`` is one the search finds."""
        if self.level is not None and event.level != self.level:
            return False
        if self.environment is not None and event.environment != self.environment:
            return False
        if self.release is not None and event.release != self.release:
            return False
        if self.since is not None and event.timestamp < self.since:
            return False
        if self.until is not None and event.timestamp > self.until:
            return False
        if not self.needs_documents:
            return True
        return self._tags_match(event) and self._users_match(event) and self._text_matches(event)

    def _tags_match(self, event: Event) -> bool:
        if not (self.tags or self.excluded_tags or self.has_tags or self.lacks_tags):
            return True
        tags = dict(event_tags(event))
        return (
            all(tags.get(key) == value[:_TAG_VALUE_CHARS] for key, value in self.tags)
            and not any(tags.get(k) == v[:_TAG_VALUE_CHARS] for k, v in self.excluded_tags)
            and all(key in tags for key in self.has_tags)
            and not any(key in tags for key in self.lacks_tags)
        )

    def _users_match(self, event: Event) -> bool:
        if not (self.users or self.excluded_users):
            return True
        keys = user_keys(event)
        return all(keys.intersection(accepted) for accepted in self.users) and not any(
            keys.intersection(refused) for refused in self.excluded_users
        )

    def _text_matches(self, event: Event) -> bool:
        return not self.text or self.text in searchable_text(event)


def user_keys(event: Event) -> set[str]:
    """Every ``field:value`` the event's user is known by (``id:42``, ``email:a@b.c``...).

    All of its fields, where the issue counts one (:attr:`heliograph.model.User.key`):
    an event that carried an id and an email is found by either. Its distinct
    id counts as an id when the user has none, as the issue counts it.
    """
    user = event.user
    keys: set[str] = set()
    if user is not None:
        for prefix, value in (
            ("id", user.id),
            ("email", user.email),
            ("username", user.username),
            ("ip", user.ip_address),
            ("iphash", user.ip_hash),  # user.ip: hashes what is typed, as digest did
        ):
            if value:
                keys.add(f"{prefix}:{value}")
    if event.distinct_id and not (user and user.id):
        keys.add(f"id:{event.distinct_id}")
    return keys


def request_url(event: Event) -> str | None:
    """The URL of the request the event happened in, if the SDK sent one."""
    url = event.request.get("url") if isinstance(event.request, dict) else None
    return str(url) if url else None


def searchable_text(event: Event) -> str:
    """What free text is looked for in, lower case: one line per part, so that a
    phrase never matches across two of them."""
    parts = [event_title(event), event_culprit(event), event.message or ""]
    for exception in event.exceptions:
        parts += [exception.type, exception.value]
    parts += [event.transaction or "", request_url(event) or ""]
    return "\n".join(part for part in parts if part).lower()


def parse_event_search(
    project_id: int, query: str, context: SearchContext | None = None
) -> EventSearch:
    """Parse ``query``; :class:`SearchError` for what the search cannot mean for events."""
    if len(query) > MAX_QUERY_CHARS:
        raise SearchError(f"the search is too long: at most {MAX_QUERY_CHARS:,} characters")
    state = SearchState.start(project_id, context)
    since: float | None = None
    until: float | None = None
    for token in search_tokens(query):
        term = key_value(token)
        if term is not None:
            key, value, negated = term
            lower = key.lower()
            if lower in ISSUE_ONLY_KEYS or (lower == "has" and value.lower() == "assignee"):
                name = ISSUE_ONLY_KEYS.get(lower, "has:assignee")
                instead = (
                    "timestamp: bounds the events' time (timestamp:-24h)"
                    if lower in ("firstseen", "lastseen")
                    else "use it on the issue list"
                )
                raise SearchError(f"{name} filters issues, not events: {instead}")
            if lower == "timestamp":
                if negated:
                    raise SearchError("timestamp: cannot be negated: use < or > instead")
                low, high = parse_time_bound(value, state.now, key="timestamp")
                if low is not None:  # several bounds: the narrowest range
                    since = low if since is None else max(since, low)
                if high is not None:
                    until = high if until is None else min(until, high)
                continue
        add_token(state, token)
    found = state.filters
    text = " ".join(state.text).lower()
    return EventSearch(
        level=found.level,
        environment=found.environment,
        release=found.release,
        since=since,
        until=until,
        tags=found.tags,
        excluded_tags=found.excluded_tags,
        has_tags=found.has_tags,
        lacks_tags=found.lacks_tags,
        users=found.users,
        excluded_users=found.excluded_users,
        text=text or None,
    )
