"""The issue search language: Sentry's ``query=`` syntax, plus plain parameters.

``is:unresolved level:error environment:production release:1.2 free text``:
``key:value`` tokens filter, anything else is matched against title and
culprit. Values may be quoted (``release:"1.0 beta"``). ``is:all`` (or
``status=all``) lifts the default ``unresolved`` filter. Any other
``key:value`` with a tag-like key (``browser.name:Chrome``, ``device:iPhone``,
``user:42``) keeps the issues that saw that tag value.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import replace

from heliograph.store.base import ISSUE_STATUSES, IssueFilter

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


class SearchError(ValueError):
    """The search could not be understood; the message says why."""


def _tokens(query: str) -> list[str]:
    try:
        return shlex.split(query)
    except ValueError:
        return query.split()


def parse_issue_search(project_id: int, params: Mapping[str, str]) -> IssueFilter:
    """Build the store filter from ``query=`` and the explicit parameters.

    Explicit parameters (``status``, ``level``, ``environment``, ``release``)
    win over the same key in ``query``.
    """
    filters = IssueFilter(project_id=project_id)
    text: list[str] = []
    for token in _tokens(params.get("query", "")):
        key, sep, value = token.partition(":")
        if not sep or not value:
            text.append(token)
            continue
        key = key.lower()
        if key == "is":
            filters = replace(filters, status=_status(value))
        elif key in ("level", "environment", "release"):
            filters = _with(filters, key, value)
        elif _TAG_KEY.match(key) and not value.startswith("//"):
            if len(filters.tags) >= MAX_TAG_FILTERS:
                raise SearchError(f"at most {MAX_TAG_FILTERS} tag filters at once")
            filters = replace(filters, tags=(*filters.tags, (key, value)))
        else:
            text.append(token)
    if "status" in params:
        filters = replace(filters, status=_status(params["status"]))
    for key in ("level", "environment", "release"):
        if params.get(key):
            filters = _with(filters, key, params[key])
    if text:
        filters = replace(filters, query=" ".join(text))
    sort = params.get("sort")
    if sort:
        if sort not in SORTS:
            raise SearchError(f"unknown sort {sort!r}: use one of {', '.join(sorted(SORTS))}")
        filters = replace(filters, sort=SORTS[sort])  # type: ignore[arg-type]
    return filters


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
        raise SearchError(f"unknown status {value!r}: use unresolved, resolved, ignored or all")
    return value
