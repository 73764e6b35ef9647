"""Who the LLM spend went to: the users page and the dashboard's cost breakdown.

Both read :meth:`~heliograph.store.contract.LlmReads.llm_breakdown`: calls of
the page's time range grouped by user (distinct id), or by whatever the
dashboard's "break down by" names: a column (model, provider, environment,
release, session) or any property the calls carried (``customer_tier``,
``feature``: what an app adds to each call's properties).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from heliograph.query.llm import TimeWindow, time_window
from heliograph.store.base import Project
from heliograph.store.llm_breakdown import COLUMN_DIMENSIONS, LlmBreakdown, LlmBreakdownQuery

if TYPE_CHECKING:
    from heliograph.store.contract import LlmReads

__all__ = [
    "BREAKDOWN_CHOICES",
    "Breakdown",
    "UserList",
    "build_breakdown",
    "build_user_list",
]

USERS_SHOWN = 100
BREAKDOWN_ROWS = 20
# What "break down by" offers besides a property of the calls; "" is none.
BREAKDOWN_CHOICES = tuple(COLUMN_DIMENSIONS)
PROPERTY = "property"
# A property key as apps name them (PostHog's $-prefixed ones included).
_PROPERTY_KEY = re.compile(r"^[\w$][\w$.\-:/ ]{0,99}$")


@dataclass(frozen=True, slots=True)
class UserList:
    project: Project
    window: TimeWindow
    breakdown: LlmBreakdown


def build_user_list(
    store: LlmReads, project: Project, params: Mapping[str, str], now: float | None = None
) -> UserList:
    """Users of the range, the costliest first (``?range=24h|7d|30d``)."""
    window = time_window(params.get("range"), None, time.time() if now is None else now)
    query = LlmBreakdownQuery(
        project.id, window.since, window.until, dimension="user", limit=USERS_SHOWN
    )
    return UserList(project, window, store.llm_breakdown(query))


@dataclass(frozen=True, slots=True)
class Breakdown:
    """The dashboard's "break down cost by": what was asked, and the groups (None: nothing)."""

    by: str  # a BREAKDOWN_CHOICES entry, PROPERTY, or "" for none
    prop: str
    result: LlmBreakdown | None
    error: str | None = None

    @property
    def label(self) -> str:
        return self.prop if self.by == PROPERTY else self.by


def build_breakdown(
    store: LlmReads, project: Project, window: TimeWindow, params: Mapping[str, str]
) -> Breakdown:
    """``?by=user|model|...`` or ``?by=property&prop=<key>``; nothing asked, nothing read."""
    by = (params.get("by") or "").strip()
    prop = (params.get("prop") or "").strip()
    if not by:
        return Breakdown("", prop, None)
    if by == PROPERTY:
        if not _PROPERTY_KEY.match(prop):
            return Breakdown(by, prop, None, "Name a property to break down by: customer_tier.")
        query = LlmBreakdownQuery(
            project.id, window.since, window.until, prop=prop, limit=BREAKDOWN_ROWS
        )
    elif by in BREAKDOWN_CHOICES:
        query = LlmBreakdownQuery(
            project.id, window.since, window.until, dimension=by, limit=BREAKDOWN_ROWS
        )
    else:
        return Breakdown("", prop, None, f"Cannot break down by {by[:40]!r}.")
    return Breakdown(by, prop, store.llm_breakdown(query))
