"""Web analytics rollups, written in digest's transaction, and the dashboard's reads.

The dashboard must answer for a month of a busy site in milliseconds, so it
never reads raw events. For each analytics event stored for the first time,
:func:`record_web_analytics` adds, in the batch's transaction (a replayed
event is not new, so nothing is counted twice):

* ``event_hourly``: events per (hour, name), for the explorer's event names
  and the counts that need no property;
* for ``$pageview`` events (:func:`~heliograph.store.web_shaping.pageview_of`):
  ``web_hourly`` (pageviews, sessions, bounces per hour),
  ``web_top_hourly`` (pageviews and sessions per page, referring domain,
  browser, OS, device and, when known, country), ``web_sessions`` (one row per session: its first
  hour and its pageviews, what sessions and bounces are derived from) and
  the visitor sketches ``web_visitors_hourly`` / ``web_visitors_daily``
  (HyperLogLog registers, :mod:`heliograph.store.hll`).

A session is counted, with its entry page, referrer and client, in the hour
its first pageview was written; it is a bounce while it has one pageview.
The session upsert returns the session's pageviews after the batch, so the
batch knows whether it started the session or ended a bounce, without a
read that a concurrent digest worker could make stale. Everything else is an
additive upsert (or ``MAX`` for registers), in key order: one lock order on
every node.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any, ClassVar, Generic

from heliograph.model import Event
from heliograph.store.base import TimeUnit
from heliograph.store.hll import estimate, register_of
from heliograph.store.llm_reads import DbT
from heliograph.store.sql_dialect import SqlDialect
from heliograph.store.web_records import (
    MAX_VALUE_TEXT,
    WEB_DIMENSIONS,
    EventNameCount,
    VisitorCounts,
    WebHour,
    WebTop,
)
from heliograph.store.web_shaping import Pageview, pageview_of

__all__ = ["WebRollupReadsMixin", "record_web_analytics"]

# Sessions upserted per statement (four parameters each, well under SQLite's limit).
_SESSION_CHUNK = 200
_SECONDS_PER_DAY = 86400
# Distinct values kept per (project, hour, dimension) in web_top_hourly; later new
# values count under OTHER, so a flood of made-up paths adds a row, not a row each.
MAX_TOP_VALUES = 1000
OTHER = "(other)"


def _executemany(conn: Any, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
    if not rows:
        return
    cursor = conn.cursor()
    try:
        cursor.executemany(sql, rows)
    finally:
        cursor.close()


def record_web_analytics(conn: Any, dialect: SqlDialect, events: Sequence[Event]) -> None:
    """Add a batch's new analytics events to the rollups (call in digest's transaction)."""
    names: Counter[tuple[int, int, str]] = Counter()
    pageviews: list[Pageview] = []
    for event in events:
        if event.kind != "analytics":
            continue
        names[(event.project_id, int(event.timestamp // 3600), event.name[:MAX_VALUE_TEXT])] += 1
        found = pageview_of(event)
        if found is not None:
            pageviews.append(found)
    _executemany(
        conn,
        dialect.sql(
            "INSERT INTO event_hourly (project_id, hour, name, events) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (project_id, hour, name) DO UPDATE SET "
            "events = event_hourly.events + excluded.events"
        ),
        [(*key, count) for key, count in sorted(names.items())],
    )
    if pageviews:
        _record_pageviews(conn, dialect, pageviews)


def _record_pageviews(conn: Any, dialect: SqlDialect, pageviews: list[Pageview]) -> None:
    pageviews.sort(key=lambda view: view.timestamp)
    hourly: defaultdict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0, 0])
    top: defaultdict[tuple[int, int, str, str], list[int]] = defaultdict(lambda: [0, 0])
    first_of: dict[tuple[int, str], Pageview] = {}
    views_of: Counter[tuple[int, str]] = Counter()
    registers: dict[tuple[str, int, int, int], int] = {}
    for view in pageviews:
        hour = int(view.timestamp // 3600)
        hourly[(view.project_id, hour)][0] += 1
        for dimension, value in view.dimensions():
            top[(view.project_id, hour, dimension, value)][0] += 1
        key = (view.project_id, view.session)
        first_of.setdefault(key, view)
        views_of[key] += 1
        register, rank = register_of(view.visitor)
        day = int(view.timestamp // _SECONDS_PER_DAY)
        for table, period in (("web_visitors_hourly", hour), ("web_visitors_daily", day)):
            slot = (table, view.project_id, period, register)
            if rank > registers.get(slot, 0):
                registers[slot] = rank
    for (project_id, _session), (hour, total) in _upsert_sessions(
        conn, dialect, first_of, views_of
    ).items():
        added = views_of[(project_id, _session)]
        before = total - added
        counts = hourly[(project_id, hour)]
        if before == 0:
            counts[1] += 1
            for dimension, value in first_of[(project_id, _session)].dimensions():
                top[(project_id, hour, dimension, value)][1] += 1
        counts[2] += int(total == 1) - int(before == 1)
    _executemany(
        conn,
        dialect.sql(
            "INSERT INTO web_hourly (project_id, hour, pageviews, sessions, bounces) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (project_id, hour) DO UPDATE SET "
            "pageviews = web_hourly.pageviews + excluded.pageviews, "
            "sessions = web_hourly.sessions + excluded.sessions, "
            "bounces = web_hourly.bounces + excluded.bounces"
        ),
        [(*key, *values) for key, values in sorted(hourly.items())],
    )
    _executemany(
        conn,
        dialect.sql(
            "INSERT INTO web_top_hourly (project_id, hour, dimension, value, pageviews, sessions) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (project_id, hour, dimension, value) "
            "DO UPDATE SET pageviews = web_top_hourly.pageviews + excluded.pageviews, "
            "sessions = web_top_hourly.sessions + excluded.sessions"
        ),
        [(*key, *values) for key, values in sorted(_fold_rare(conn, dialect, top).items())],
    )
    for table, unit in (("web_visitors_hourly", "hour"), ("web_visitors_daily", "day")):
        _executemany(
            conn,
            dialect.sql(
                f"INSERT INTO {table} (project_id, {unit}, register, rank) VALUES (?, ?, ?, ?) "
                f"ON CONFLICT (project_id, {unit}, register) DO UPDATE SET "
                f"rank = {dialect.greatest(f'{table}.rank', 'excluded.rank')}"
            ),
            [(*slot[1:], rank) for slot, rank in sorted(registers.items()) if slot[0] == table],
        )


def _fold_rare(
    conn: Any, dialect: SqlDialect, top: dict[tuple[int, int, str, str], list[int]]
) -> dict[tuple[int, int, str, str], list[int]]:
    """``top`` with the values that would take an hour's dimension past
    :data:`MAX_TOP_VALUES` distinct values counted under :data:`OTHER` instead.

    One count per (project, hour, dimension) of the batch; the values already
    there are looked up only when the batch could pass the bound. Concurrent
    writers may together pass it by a batch's worth: a bound, not an exact cap.
    """
    groups: defaultdict[tuple[int, int, str], list[str]] = defaultdict(list)
    for project_id, hour, dimension, value in top:
        groups[(project_id, hour, dimension)].append(value)
    folded: dict[tuple[int, int, str, str], list[int]] = {}
    where = "project_id = ? AND hour = ? AND dimension = ?"
    for group, values in sorted(groups.items()):
        stored = int(
            conn.execute(
                dialect.sql(f"SELECT COUNT(*) FROM web_top_hourly WHERE {where}"), group
            ).fetchone()[0]
        )
        known: set[str] = set()
        if stored + len(values) > MAX_TOP_VALUES:
            condition, params = dialect.in_list("value", values)
            known = {
                str(row[0])
                for row in conn.execute(
                    dialect.sql(f"SELECT value FROM web_top_hourly WHERE {where} AND {condition}"),
                    [*group, *params],
                ).fetchall()
            }
        room = MAX_TOP_VALUES - stored
        # Most counted first: a batch's own frequent values keep their rows.
        for value in sorted(values, key=lambda v: (-top[(*group, v)][0], v)):
            counts = top[(*group, value)]
            if value not in known and value != OTHER:
                if room > 0:
                    room -= 1
                else:
                    value = OTHER
            slot = folded.setdefault((*group, value), [0, 0])
            slot[0] += counts[0]
            slot[1] += counts[1]
    return folded


def _upsert_sessions(
    conn: Any,
    dialect: SqlDialect,
    first_of: dict[tuple[int, str], Pageview],
    views_of: Counter[tuple[int, str]],
) -> dict[tuple[int, str], tuple[int, int]]:
    """Add the batch's pageviews to their sessions; each session's (first hour, pageviews)."""
    keys = sorted(first_of)
    found: dict[tuple[int, str], tuple[int, int]] = {}
    for start in range(0, len(keys), _SESSION_CHUNK):
        chunk = keys[start : start + _SESSION_CHUNK]
        values = ", ".join(["(?, ?, ?, ?)"] * len(chunk))
        params: list[Any] = []
        for key in chunk:
            params += [*key, int(first_of[key].timestamp // 3600), views_of[key]]
        rows = conn.execute(
            dialect.sql(
                "INSERT INTO web_sessions (project_id, session_id, hour, pageviews) "
                f"VALUES {values} "
                "ON CONFLICT (project_id, session_id) DO UPDATE SET "
                "pageviews = web_sessions.pageviews + excluded.pageviews "
                "RETURNING project_id, session_id, hour, pageviews"
            ),
            params,
        ).fetchall()
        for row in rows:
            key = (int(row[0]), str(row[1]))
            if key in first_of:
                found[key] = (int(row[2]), int(row[3]))
    return found


class WebRollupReadsMixin(Generic[DbT]):
    """The dashboard's reads of the rollups; the class provides ``db`` and ``dialect``."""

    db: DbT
    dialect: ClassVar[SqlDialect]

    def _rows(self, sql: str, params: Sequence[Any]) -> list[Any]:
        statement = self.dialect.sql(sql)
        rows: list[Any] = self.db.read(lambda c: c.execute(statement, params).fetchall())
        return rows

    def web_traffic(self, project_id: int, first_hour: int, last_hour: int) -> list[WebHour]:
        """Pageviews, sessions and bounces of each hour of ``[first_hour, last_hour]`` with any."""
        rows = self._rows(
            "SELECT hour, pageviews, sessions, bounces FROM web_hourly "
            "WHERE project_id = ? AND hour >= ? AND hour <= ? ORDER BY hour",
            (project_id, first_hour, last_hour),
        )
        return [WebHour(int(r[0]), int(r[1]), int(r[2]), int(r[3])) for r in rows]

    def web_top(
        self, project_id: int, dimension: str, first_hour: int, last_hour: int, *, limit: int = 10
    ) -> list[WebTop]:
        """The most frequent values of ``dimension``: pages by pageviews; referrers and clients,
        which are what a session started with, by sessions (values that started none left out)."""
        if dimension not in WEB_DIMENSIONS:
            raise ValueError(f"not a web analytics dimension: {dimension!r}")
        order = "2" if dimension == "page" else "3"
        having = "" if dimension == "page" else f" HAVING {self.dialect.int_sum('sessions')} > 0"
        rows = self._rows(
            f"SELECT value, {self.dialect.int_sum('pageviews')}, "
            f"{self.dialect.int_sum('sessions')} FROM web_top_hourly "
            "WHERE project_id = ? AND dimension = ? AND hour >= ? AND hour <= ? "
            f"GROUP BY value{having} ORDER BY {order} DESC, value{self.dialect.text_order} LIMIT ?",
            (project_id, dimension, first_hour, last_hour, limit),
        )
        return [WebTop(str(r[0]), int(r[1]), int(r[2])) for r in rows]

    def web_visitors(self, project_id: int, first: int, last: int, unit: TimeUnit) -> VisitorCounts:
        """Unique visitors over ``[first, last]`` (hours or days, by ``unit``) and per bucket."""
        table = "web_visitors_hourly" if unit == "hour" else "web_visitors_daily"
        rows = self._rows(
            f"SELECT {unit}, register, rank FROM {table} "
            f"WHERE project_id = ? AND {unit} >= ? AND {unit} <= ?",
            (project_id, first, last),
        )
        buckets: defaultdict[int, list[tuple[int, int]]] = defaultdict(list)
        for period, register, rank in rows:
            buckets[int(period)].append((int(register), int(rank)))
        return VisitorCounts(
            total=estimate((int(r[1]), int(r[2])) for r in rows),
            by_bucket={period: estimate(sketch) for period, sketch in buckets.items()},
        )

    def event_names(
        self, project_id: int, first_hour: int, last_hour: int, *, limit: int = 200
    ) -> list[EventNameCount]:
        """Analytics event names seen in ``[first_hour, last_hour]``, most frequent first."""
        rows = self._rows(
            f"SELECT name, {self.dialect.int_sum('events')} FROM event_hourly "
            "WHERE project_id = ? AND hour >= ? AND hour <= ? GROUP BY name "
            f"ORDER BY 2 DESC, name{self.dialect.text_order} LIMIT ?",
            (project_id, first_hour, last_hour, limit),
        )
        return [EventNameCount(str(r[0]), int(r[1])) for r in rows]
