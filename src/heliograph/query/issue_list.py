"""The issue list page's read model: filters from the URL, one page of issues.

A page costs a fixed number of indexed queries whatever its size: the issues
(one query), their 24-hour trends (one query for all rows) and the filter
choices (cached for a minute, since a select box need not be live).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from heliograph.query.search import SearchContext, SearchError, parse_issue_search
from heliograph.query.serialize import short_id
from heliograph.query.time_range import ANY_TIME, TimeRange, parse_time_range, within
from heliograph.store.base import Issue, IssueFilter, Project

if TYPE_CHECKING:
    from heliograph.store.contract import IssueStore

PAGE_SIZE = 25
TREND_HOURS = 24
OPTIONS_TTL = 60.0
STATUS_TABS = ("unresolved", "resolved", "ignored", "all")
SORT_CHOICES = (("date", "Last seen"), ("new", "First seen"), ("freq", "Events"))
_SORT_PARAM = {"last_seen": "date", "first_seen": "new", "count": "freq"}
_NOT_STATUSES = ("assigned", "unassigned")
# Matching issues are counted up to this many; more shows as "1,000+".
COUNT_CAP = 1000


@dataclass(frozen=True, slots=True)
class IssueRow:
    issue: Issue
    short_id: str
    title_type: str | None  # "KeyError" of "KeyError: 'user'", shown in bold
    title_value: str
    trend: list[int]


def split_title(title: str) -> tuple[str | None, str]:
    """``"Type: value"`` titles split for display; other titles stay whole."""
    kind, sep, value = title.partition(": ")
    if sep and kind and " " not in kind:
        return kind, value
    return None, title


@dataclass(frozen=True, slots=True)
class IssueList:
    project: Project
    filters: IssueFilter
    query: str  # the search box, as typed
    status_tab: str  # one of STATUS_TABS
    sort: str  # Sentry's sort name: date, new, freq
    rows: list[IssueRow]
    cursor: str | None
    next_cursor: str | None
    trend_end_hour: int
    environments: list[str]
    releases: list[str]
    error: str | None
    # The time range (query/time_range.py) and how many issues match (None: not counted).
    time_range: TimeRange = ANY_TIME
    total: int | None = None

    @property
    def total_label(self) -> str:
        """``"1,234 issues"``, or ``"1,000+ issues"`` past the count's cap."""
        if self.total is None:
            return ""
        shown = f"{COUNT_CAP:,}+" if self.total > COUNT_CAP else f"{self.total:,}"
        return f"{shown} issue{'' if self.total == 1 else 's'}"


def _has_status_token(query: str) -> bool:
    """Whether the search names a status (``is:assigned`` does not: the tab still applies)."""
    return any(
        token.lower().startswith("is:") and token[3:].lower() not in _NOT_STATUSES
        for token in query.split()
    )


def effective_params(params: Mapping[str, str]) -> dict[str, str]:
    """The URL's parameters, with ``is:`` typed in the search box beating the tab.

    The status tabs put ``status=`` in the URL while the search box may say
    ``is:resolved``; what the user typed last is the search box, so it wins.
    Empty values (a select left on "All") are dropped.
    """
    cleaned = {k: v for k, v in params.items() if v}
    if _has_status_token(cleaned.get("query", "")):
        cleaned.pop("status", None)
    return cleaned


class _OptionsCache:
    """Distinct tag values per (store, project, key), kept for ``OPTIONS_TTL``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[tuple[int, int, str], tuple[float, list[str]]] = {}

    def get(self, store: IssueStore, project_id: int, key: str) -> list[str]:
        cache_key = (id(store), project_id, key)
        now = time.monotonic()
        with self._lock:
            hit = self._values.get(cache_key)
        if hit and now - hit[0] < OPTIONS_TTL:
            return hit[1]
        values = store.tag_values(project_id, key, limit=100)
        with self._lock:
            self._values[cache_key] = (now, values)
        return values


filter_options = _OptionsCache()


def short_id_number(project: Project, query: str) -> int | None:
    """The 12 of ``PROJ-12`` when the search is this project's short id (any case), else None."""
    prefix, sep, number = query.strip().rpartition("-")
    if sep and prefix.lower() == project.slug.lower() and number.isascii() and number.isdigit():
        return int(number)
    return None


def build_issue_list(
    store: IssueStore,
    project: Project,
    params: Mapping[str, str],
    context: SearchContext | None = None,
) -> IssueList:
    """Parse the filters, fetch one page and its trends; a bad search is an error.

    A search that is one of the project's short ids (``PROJ-12``) lists that
    issue, whatever its status: it is how people paste an id from an alert.
    """
    cleaned = effective_params(params)
    query = params.get("query", "")
    cursor = cleaned.get("cursor")
    error = None
    time_range = ANY_TIME
    try:
        time_range = parse_time_range(cleaned, time.time())
        filters = within(parse_issue_search(project.id, cleaned, context), time_range)
    except SearchError as exc:
        filters, error = IssueFilter(project_id=project.id), str(exc)
    issues: list[Issue] = []
    next_cursor = None
    number = short_id_number(project, query)
    if number is not None:
        error = None
        found = store.issue_by_number(project.id, number)
        issues = [found] if found else []
    elif error is None:
        try:
            issues, next_cursor = store.list_issues(filters, limit=PAGE_SIZE, cursor=cursor)
        except ValueError as exc:
            error = str(exc)
    total = store.count_issues(filters, cap=COUNT_CAP) if error is None else None
    end_hour = int(time.time() // 3600)
    trends = store.issue_trend([i.id for i in issues], hours=TREND_HOURS) if issues else {}
    rows = [
        IssueRow(
            issue,
            short_id(project, issue),
            *split_title(issue.title),
            trends.get(issue.id, [0] * TREND_HOURS),
        )
        for issue in issues
    ]
    return IssueList(
        project=project,
        filters=filters,
        query=query,
        status_tab=filters.status or "all",
        sort=_SORT_PARAM[filters.sort],
        rows=rows,
        cursor=cursor,
        next_cursor=next_cursor,
        trend_end_hour=end_hour,
        environments=filter_options.get(store, project.id, "environment"),
        releases=filter_options.get(store, project.id, "release"),
        error=error,
        time_range=time_range,
        total=total,
    )


def without_status_tokens(query: str) -> str:
    """The search text minus status tokens (``is:resolved``): what a status tab link carries."""
    return " ".join(t for t in query.split() if not _has_status_token(t))
