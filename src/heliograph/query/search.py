"""The issue search language: Sentry's ``query=`` syntax, plus plain parameters.

``is:unresolved level:error customer_tier:gold !browser.name:Chrome
user.email:a@example.com has:release firstSeen:-24h assigned:me timeout``.
``key:value`` tokens filter, anything else is matched against title and
culprit. Values may be quoted (``release:"1.0 beta"``). The grammar is in
docs/ui.md ("Search"); every key is listed in :data:`KEYS`.

A key the language does not know and no issue of the project has seen as a
tag is an error (:class:`SearchError`), never an empty list: it is a typo.
Values that need the store or the caller (``assigned:me``, an email, a
``#team``, ``release:latest``, whether a tag key exists) are resolved
through a :class:`SearchContext`; without one, every tag key is accepted and
those values are errors. Words that only look like keys (``KeyError:``, a
URL, ``10:30``) stay text: tag keys are lower case.

The same language searches one issue's events
(:mod:`heliograph.query.event_search`), through :class:`SearchState` and
:func:`add_token`, so that a key means the same on both.
"""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from heliograph.model import LEVELS
from heliograph.store.base import ISSUE_STATUSES, IssueFilter
from heliograph.store.issue_rows import ALIAS_PREFIX

# Sentry's sort names and ours, for the store's three orderings.
SORTS = {
    "date": "last_seen",
    "last_seen": "last_seen",
    "new": "first_seen",
    "first_seen": "first_seen",
    "freq": "count",
    "count": "count",
}

# A tag key as SDKs send them: what else is text (a URL, "KeyError:", a time).
_TAG_KEY = re.compile(r"^[a-z][a-z0-9_.\-]{0,63}$")
MAX_TAG_FILTERS = 10
# The user fields an event's user is counted under (heliograph.model.User.key).
USER_FIELDS = {"user.id": "id", "user.email": "email", "user.username": "username", "user.ip": "ip"}
# Keys of the language (lower case; firstSeen and lastSeen are matched ignoring case).
KEYS = (
    "is",
    "level",
    "environment",
    "release",
    "user",
    *USER_FIELDS,
    "has",
    "firstseen",
    "lastseen",
    "assigned",
    "message",
)
# Sentry keys Heliograph does not answer: an error says so rather than matching nothing.
UNSUPPORTED = frozenset(
    {"age", "timesseen", "bookmarks", "subscribed", "assigned_or_suggested", "issue.priority"}
)
# Tag keys every error has, which need no check against the project's tags.
BUILTIN_TAGS = frozenset({"environment", "release", "level", "server_name", "user"})
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_RELATIVE = re.compile(r"^([+-])(\d{1,6})([smhdw])$")


class SearchError(ValueError):
    """The search could not be understood; the message says why."""


def _no_user(_value: str) -> int | None:
    return None


def _no_release() -> str | None:
    return None


def _any_key(_key: str) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class SearchContext:
    """What resolving some values needs (built by :mod:`heliograph.query.search_context`).

    ``user_id``: who is searching (``assigned:me``); ``user_by_email`` and
    ``team_by_slug``: the organization's members and teams; ``latest_release``:
    ``release:latest``; ``tag_key_known``: whether the project saw a tag key;
    ``address_hash``: the project's hash of an IP address, for users whose
    addresses were stored hashed (None: addresses match only as stored);
    ``now``: the time relative values count from (tests fix it).
    """

    user_id: int | None = None
    user_by_email: Callable[[str], int | None] = _no_user
    team_by_slug: Callable[[str], int | None] = _no_user
    latest_release: Callable[[], str | None] = _no_release
    tag_key_known: Callable[[str], bool] = _any_key
    address_hash: Callable[[str], str] | None = None
    now: float | None = None


@dataclass(slots=True)
class SearchState:
    """A search being parsed: the filter so far, the free text, and what resolves values.

    :func:`parse_issue_search` fills one token by token (:func:`add_token`);
    the event search (:mod:`heliograph.query.event_search`) too, for the keys
    an event has.
    """

    filters: IssueFilter
    context: SearchContext
    now: float
    text: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, project_id: int, context: SearchContext | None = None) -> SearchState:
        context = context or SearchContext()
        now = context.now if context.now is not None else time.time()
        return cls(IssueFilter(project_id=project_id), context, now)


def search_tokens(query: str) -> list[str]:
    """The query's tokens, quotes honoured (an unbalanced quote: split on spaces)."""
    try:
        return shlex.split(query)
    except ValueError:
        return query.split()


def key_value(token: str) -> tuple[str, str, bool] | None:
    """``(key, value, negated)`` of a ``key:value`` token (``!key:value``), else None:
    text. A value starting ``//`` is a URL's (``https://...``), so text too."""
    negated = token.startswith("!")
    key, sep, value = (token[1:] if negated else token).partition(":")
    if not sep or not value or value.startswith("//"):
        return None
    return key, value, negated


def parse_issue_search(
    project_id: int, params: Mapping[str, str], context: SearchContext | None = None
) -> IssueFilter:
    """Build the store filter from ``query=`` and the explicit parameters.

    Explicit parameters (``status``, ``level``, ``environment``, ``release``)
    win over the same key in ``query``.
    """
    state = SearchState.start(project_id, context)
    for token in search_tokens(params.get("query", "")):
        add_token(state, token)
    filters = state.filters
    if "status" in params:
        filters = replace(filters, status=_status(params["status"]))
    for key in ("level", "environment", "release"):
        if params.get(key):
            filters = _with(filters, key, _checked(key, params[key], state))
    if state.text:
        filters = replace(filters, query=" ".join(state.text))
    sort = params.get("sort")
    if sort:
        if sort not in SORTS:
            raise SearchError(f"unknown sort {sort!r}: use one of {', '.join(sorted(SORTS))}")
        filters = replace(filters, sort=SORTS[sort])  # type: ignore[arg-type]
    return filters


def add_token(state: SearchState, token: str) -> None:
    """Apply one token: a filter, or free text; :class:`SearchError` if it makes no sense."""
    term = key_value(token)
    if term is None:
        state.text.append(token)
        return
    key, value, negated = term
    lower = key.lower()
    if lower in KEYS:
        _known(state, lower, value, negated)
    elif lower in UNSUPPORTED:
        raise SearchError(f"{key}: is not supported; see the search help for the keys")
    elif _TAG_KEY.match(key):
        _tag(state, key, value, negated)
    else:
        state.text.append(token)


def _known(state: SearchState, key: str, value: str, negated: bool) -> None:
    filters = state.filters
    if key == "message":
        state.text.append(value)
    elif key == "is":
        if negated:
            raise SearchError("is: cannot be negated: name the status you want")
        _is(state, value)
    elif key == "level":
        if negated:
            raise SearchError("level: cannot be negated: name the level you want")
        state.filters = replace(filters, level=_checked("level", value, state))
    elif key in ("environment", "release"):
        _tag(state, key, _checked(key, value, state), negated)
    elif key == "user" or key in USER_FIELDS:
        keys = _user_keys(key, value, state.context.address_hash)
        if negated:
            state.filters = replace(filters, excluded_users=(*filters.excluded_users, keys))
        else:
            state.filters = replace(filters, users=(*filters.users, keys))
    elif key == "has":
        _has(state, value, negated)
    elif key in ("firstseen", "lastseen"):
        if negated:
            raise SearchError(f"{key}: cannot be negated: use < or > instead")
        _seen(state, key, value)
    elif key == "assigned":
        if negated:
            raise SearchError("assigned: cannot be negated; !has:assignee lists unassigned issues")
        state.filters = replace(filters, assignee=_assignee(state, value))


def _is(state: SearchState, value: str) -> None:
    lower = value.lower()
    if lower == "unassigned":
        state.filters = replace(state.filters, assignee="none")
    elif lower == "assigned":
        state.filters = replace(state.filters, assignee="any")
    else:
        state.filters = replace(state.filters, status=_status(value))


def _tag(state: SearchState, key: str, value: str, negated: bool) -> None:
    filters = state.filters
    if len(filters.tags) + len(filters.excluded_tags) >= MAX_TAG_FILTERS:
        raise SearchError(f"at most {MAX_TAG_FILTERS} tag filters at once")
    _known_tag(state, key)
    if negated:
        state.filters = replace(filters, excluded_tags=(*filters.excluded_tags, (key, value)))
    elif key == "environment" and filters.environment is None:
        state.filters = replace(filters, environment=value)
    elif key == "release" and filters.release is None:
        state.filters = replace(filters, release=value)
    else:
        state.filters = replace(filters, tags=(*filters.tags, (key, value)))


def _known_tag(state: SearchState, key: str) -> None:
    if key not in BUILTIN_TAGS and not state.context.tag_key_known(key):
        raise SearchError(
            f"unknown search key {key!r}: no issue of this project has that tag "
            "(keys are case-sensitive; see the search help)"
        )


def _has(state: SearchState, value: str, negated: bool) -> None:
    filters = state.filters
    if value.lower() == "assignee":
        state.filters = replace(filters, assignee="none" if negated else "any")
        return
    if not _TAG_KEY.match(value):
        raise SearchError(f"has:{value}: expected a tag key such as has:release")
    _known_tag(state, value)
    if negated:
        state.filters = replace(filters, lacks_tags=(*filters.lacks_tags, value))
    else:
        state.filters = replace(filters, has_tags=(*filters.has_tags, value))


def _user_keys(
    key: str, value: str, address_hash: Callable[[str], str] | None = None
) -> tuple[str, ...]:
    """The ``issue_users`` keys a user filter matches.

    An event's user is counted under its id, else email, else username, else
    IP address (:attr:`heliograph.model.User.key`), which most projects store
    hashed (``iphash:``); its other fields are kept under ``also.`` keys
    (:func:`heliograph.store.issue_rows.user_alias_keys`), so ``user.email:``
    finds users who have an id too.
    """
    if key in USER_FIELDS:
        keys: tuple[str, ...] = (f"{USER_FIELDS[key]}:{value}",)
    else:
        prefix, sep, rest = value.partition(":")
        if sep and prefix in USER_FIELDS.values():
            keys = (value,)
            key, value = f"user.{prefix}", rest
        else:
            keys = tuple(f"{prefix}:{value}" for prefix in USER_FIELDS.values())
    if address_hash is not None and key in ("user", "user.ip"):
        keys = (*keys, f"iphash:{address_hash(value)}")
    return (*keys, *(ALIAS_PREFIX + k for k in keys))


def _assignee(state: SearchState, value: str) -> str:
    context = state.context
    if value.lower() == "me":
        if context.user_id is None:
            raise SearchError("assigned:me needs a signed-in user")
        return f"user:{context.user_id}"
    if value.startswith("#"):
        team_id = context.team_by_slug(value[1:])
        if team_id is None:
            raise SearchError(f"assigned:{value}: no team of this organization is {value}")
        return f"team:{team_id}"
    if "@" in value:
        user_id = context.user_by_email(value)
        if user_id is None:
            raise SearchError(f"assigned:{value}: no member of this organization has that email")
        return f"user:{user_id}"
    raise SearchError(f"assigned:{value}: use assigned:me, assigned:<email> or assigned:#team")


def _seen(state: SearchState, key: str, value: str) -> None:
    low, high = parse_time_bound(value, state.now, key=key)
    filters = state.filters
    if key == "firstseen":
        state.filters = replace(
            filters,
            first_seen_from=_tighter(filters.first_seen_from, low, max),
            first_seen_to=_tighter(filters.first_seen_to, high, min),
        )
    else:
        state.filters = replace(
            filters,
            last_seen_from=_tighter(filters.last_seen_from, low, max),
            last_seen_to=_tighter(filters.last_seen_to, high, min),
        )


def _tighter(
    current: float | None, new: float | None, pick: Callable[[float, float], float]
) -> float | None:
    if new is None:
        return current
    return new if current is None else pick(current, new)


def parse_time_bound(
    value: str, now: float, *, key: str = "firstSeen"
) -> tuple[float | None, float | None]:
    """``(from, to)`` (Unix seconds, either None) that a time value bounds.

    ``-24h``: within the last 24 hours; ``+7d``: longer ago than 7 days
    (Sentry's meaning); ``>-7d`` / ``<-7d``: after / before that moment;
    ``2026-11-01``: that UTC day; ``>2026-11-01``, ``<=2026-11-01T12:00``: after
    or before the date or time. Units: s, m, h, d, w.
    """
    operator = ""
    for candidate in (">=", "<=", ">", "<"):
        if value.startswith(candidate):
            operator, value = candidate, value[len(candidate) :]
            break
    relative = _RELATIVE.match(value)
    if relative:
        sign, amount, unit = relative.groups()
        moment = now - int(amount) * _UNITS[unit]
        if operator.startswith(">") or (not operator and sign == "-"):
            return moment, None
        return None, moment
    moment_and_day = _absolute(value)
    if moment_and_day is None:
        raise SearchError(
            f"{key}:{value}: use a relative time (-24h, >-7d, +30d) or a UTC date "
            "(2026-11-01, <2026-11-01, >=2026-11-01T12:00)"
        )
    start, is_day = moment_and_day
    if operator.startswith(">"):
        return start, None
    if operator.startswith("<"):
        return None, start
    if is_day:
        return start, start + 86400 - 0.001
    return start, start


def _absolute(value: str) -> tuple[float, bool] | None:
    """A UTC date (True: a whole day) or date and time as Unix seconds, else None."""
    text = value[:-1] if value.endswith("Z") else value
    try:
        if len(text) == 10:
            day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=timezone.utc)
            return day.timestamp(), True
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp(), False


def _checked(key: str, value: str, state: SearchState) -> str:
    """A level must be one of the levels; ``release:latest`` is the newest release."""
    if key == "level":
        lower = value.lower()
        if lower not in LEVELS:
            raise SearchError(f"unknown level {value!r}: use one of {', '.join(LEVELS)}")
        return lower
    if key == "release" and value == "latest":
        latest = state.context.latest_release()
        if latest is None:
            raise SearchError("release:latest: no event of this project has a release yet")
        return latest
    return value


def _with(filters: IssueFilter, key: str, value: str) -> IssueFilter:
    if key == "level":
        return replace(filters, level=value)
    if key == "environment":
        return replace(filters, environment=value)
    return replace(filters, release=value)


def _status(value: str) -> str | None:
    value = value.lower()
    if value == "all":
        return None
    if value not in ISSUE_STATUSES:
        raise SearchError(
            f"unknown status {value!r}: use unresolved, resolved, ignored, all, "
            "assigned or unassigned"
        )
    return value
