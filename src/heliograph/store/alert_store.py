"""Alerts, one implementation for every SQL backend: rules, firing, and the outbox.

Firing happens inside digest's transaction (:class:`AlertPass`), so an alert
exists exactly when the events that caused it are stored: a replayed batch
finds its events stored already and fires nothing, and no crash can lose an
alert whose events were kept. What a rule fires is a notification (its
payload: the rule, the issue or the metric) and one delivery per action, an
outbox row that a delivery thread claims, sends and records
(:mod:`heliograph.alerts.delivery`). ``alert_fires`` remembers when a rule
last fired for a subject (an issue, or the project's metric): one
conditional upsert decides "at most once per interval", under the
transaction's locks, so two nodes digesting the same issue fire it once.

Claiming uses a lease: a delivery taken by a sender that dies is taken again
once its lease ends; on PostgreSQL, ``FOR UPDATE SKIP LOCKED`` lets several
nodes claim at once without waiting on each other.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic

import orjson

from heliograph.alerts.rules import (
    ISSUE_TRIGGERS,
    LLM_TRIGGERS,
    MIN_LLM_CALLS,
    AlertAction,
    AlertRule,
)
from heliograph.llm_vocabulary import PRICED_EVENTS
from heliograph.model import Event
from heliograph.store.account_reads import DbT
from heliograph.store.account_records import visible_projects_sql
from heliograph.store.base import DigestBatch, GroupedEvent
from heliograph.store.llm_latency import histogram_percentile
from heliograph.store.sql_dialect import SqlDialect

__all__ = ["AlertPass", "AlertStoreMixin", "Delivery", "NotificationRecord", "batch_projects"]

# A claimed delivery is someone else's to retry after this long (seconds).
LEASE_SECONDS = 120.0

_RULE_COLUMNS = (
    "id, project_id, name, trigger_kind, threshold, window_seconds, interval_seconds, filters, "
    "actions, enabled, snoozed_until, created_at, updated_at"
)
_ISSUE_COLUMNS = (
    "id, project_id, group_hash, title, culprit, level, status, substatus, times_seen, "
    "users_seen, first_seen, last_seen, first_release, last_release, short_number"
)


def _action(raw: dict[str, Any]) -> AlertAction:
    return AlertAction(
        type=raw["type"],
        targets=tuple(raw.get("targets") or ()),
        url=raw.get("url"),
        secret=raw.get("secret"),
    )


def _action_json(action: AlertAction) -> str:
    return orjson.dumps(action.as_json(with_secret=True)).decode()


def rule_from_row(row: Sequence[Any]) -> AlertRule:
    return AlertRule(
        id=int(row[0]),
        project_id=int(row[1]),
        name=row[2],
        trigger=row[3],
        threshold=None if row[4] is None else float(row[4]),
        window=int(row[5]),
        interval=int(row[6]),
        filters=orjson.loads(row[7]),
        actions=tuple(_action(a) for a in orjson.loads(row[8])),
        enabled=bool(row[9]),
        snoozed_until=None if row[10] is None else float(row[10]),
        created_at=float(row[11]),
        updated_at=float(row[12]),
    )


@dataclass(frozen=True, slots=True)
class Delivery:
    """One action of one notification (or of several, grouped), claimed for sending."""

    id: int
    notification_id: int
    project_id: int
    action: AlertAction
    attempts: int
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    action: str
    target: str
    status: str  # pending, sent, failed
    attempts: int
    last_error: str | None
    sent_at: float | None


@dataclass(frozen=True, slots=True)
class NotificationRecord:
    id: int
    project_id: int
    rule_id: int | None
    subject: str
    payload: dict[str, Any]
    created_at: float
    deliveries: tuple[DeliveryRecord, ...]


def fire(
    conn: Any,
    dialect: SqlDialect,
    rule: AlertRule,
    subject: str,
    payload: dict[str, Any],
    now: float,
    *,
    check_interval: bool = True,
) -> bool:
    """Make a notification for ``rule`` about ``subject``, unless it fired for it within
    its interval. Returns whether it fired."""
    if check_interval:
        cursor = conn.execute(
            dialect.sql(
                "INSERT INTO alert_fires (rule_id, subject, fired_at) VALUES (?, ?, ?) "
                "ON CONFLICT (rule_id, subject) DO UPDATE SET fired_at = excluded.fired_at "
                "WHERE alert_fires.fired_at <= ?"
            ),
            (rule.id, subject, now, now - rule.interval),
        )
        if cursor.rowcount != 1:
            return False
    body = {"rule": {"id": rule.id, "name": rule.name, "trigger": rule.trigger}, **payload}
    row = conn.execute(
        dialect.sql(
            "INSERT INTO alert_notifications (project_id, rule_id, subject, payload, created_at) "
            "VALUES (?, ?, ?, ?, ?) RETURNING id"
        ),
        (rule.project_id, rule.id or None, subject, orjson.dumps(body).decode(), now),
    ).fetchone()
    cursor = conn.cursor()
    try:
        cursor.executemany(
            dialect.sql(
                "INSERT INTO alert_deliveries (notification_id, project_id, action_json, status, "
                "attempts, next_attempt_at) VALUES (?, ?, ?, 'pending', 0, ?)"
            ),
            [(int(row[0]), rule.project_id, _action_json(a), now) for a in rule.actions],
        )
    finally:
        cursor.close()
    return True


def batch_projects(batch: DigestBatch) -> set[int]:
    """The projects whose rules a batch may set off (errors and analytics events)."""
    return {g.event.project_id for g in batch.errors} | {e.project_id for e in batch.analytics}


def _issue_json(row: Sequence[Any]) -> dict[str, Any]:
    return {
        "id": int(row[0]),
        "project_id": int(row[1]),
        "title": row[3],
        "culprit": row[4],
        "level": row[5],
        "status": row[6],
        "substatus": row[7],
        "times_seen": int(row[8]),
        "users_seen": int(row[9]),
        "first_seen": float(row[10]),
        "last_seen": float(row[11]),
        "first_release": row[12],
        "last_release": row[13],
        "short_number": row[14],
    }


def _matches(rule: AlertRule, events: Iterable[Event]) -> bool:
    """Whether one of the issue's new events passes every filter of the rule."""
    filters = rule.filters
    for event in events:
        if filters.get("environment") and event.environment != filters["environment"]:
            continue
        if filters.get("release") and event.release != filters["release"]:
            continue
        if filters.get("level") and event.level != filters["level"]:
            continue
        tags = filters.get("tags") or {}
        if any(event.tags.get(key) != value for key, value in tags.items()):
            continue
        return True
    return False


class AlertPass:
    """The alert rules of a digest batch, evaluated inside its transaction.

    ``before`` (ahead of the batch's writes) notes which of its issues exist
    and their status; ``after_errors`` and ``after_llm`` (after the writes)
    fire what the new events caused. Nothing is read when the batch's
    projects have no active rule of the kind.
    """

    def __init__(self, conn: Any, dialect: SqlDialect, project_ids: Iterable[int], now: float):
        self.conn = conn
        self.dialect = dialect
        self.now = now
        ids = sorted(set(project_ids))
        self.rules: dict[int, list[AlertRule]] = {}
        if ids:
            condition, params = dialect.in_list("project_id", ids)
            rows = conn.execute(
                dialect.sql(f"SELECT {_RULE_COLUMNS} FROM alert_rules WHERE {condition}"),
                params,
            ).fetchall()
            for row in rows:
                rule = rule_from_row(row)
                if rule.active(now):
                    self.rules.setdefault(rule.project_id, []).append(rule)
        self._before: dict[tuple[int, str], str] = {}

    def _of(self, project_id: int, triggers: tuple[str, ...]) -> list[AlertRule]:
        return [r for r in self.rules.get(project_id, []) if r.trigger in triggers]

    def before(self, errors: Sequence[GroupedEvent]) -> None:
        """Note the status of the batch's issues that exist already."""
        by_project: dict[int, set[str]] = {}
        for grouped in errors:
            if self._of(grouped.event.project_id, ISSUE_TRIGGERS):
                by_project.setdefault(grouped.event.project_id, set()).add(grouped.group_hash)
        for project_id, hashes in sorted(by_project.items()):
            condition, params = self.dialect.in_list("group_hash", sorted(hashes))
            rows = self.conn.execute(
                self.dialect.sql(
                    f"SELECT group_hash, status FROM issues WHERE project_id = ? AND {condition}"
                ),
                [project_id, *params],
            ).fetchall()
            for group_hash, status in rows:
                self._before[(project_id, group_hash)] = status

    def after_errors(
        self, errors: Sequence[GroupedEvent], new_keys: set[tuple[int, str]], events_table: str
    ) -> None:
        """Fire the issue rules the batch's new error events set off."""
        fresh: dict[tuple[int, str], list[Event]] = {}
        for grouped in errors:
            event = grouped.event
            if (event.project_id, event.event_id) in new_keys and self._of(
                event.project_id, ISSUE_TRIGGERS
            ):
                fresh.setdefault((event.project_id, grouped.group_hash), []).append(event)
        for (project_id, group_hash), events in sorted(fresh.items()):
            row = self.conn.execute(
                self.dialect.sql(
                    f"SELECT {_ISSUE_COLUMNS} FROM issues WHERE project_id = ? AND group_hash = ?"
                ),
                (project_id, group_hash),
            ).fetchone()
            if row is None or self._muted(int(row[0])):
                continue
            before = self._before.get((project_id, group_hash))
            for rule in self._of(project_id, ISSUE_TRIGGERS):
                if rule.filters and not _matches(rule, events):
                    continue
                if self._issue_fires(rule, row, before):
                    fire(self.conn, self.dialect, rule, f"issue:{row[0]}",
                         {"issue": _issue_json(row)}, self.now)  # fmt: skip

    def _muted(self, issue_id: int) -> bool:
        row = self.conn.execute(
            self.dialect.sql("SELECT muted_until FROM issue_alert_mutes WHERE issue_id = ?"),
            (issue_id,),
        ).fetchone()
        return row is not None and (row[0] is None or float(row[0]) > self.now)

    def _issue_fires(self, rule: AlertRule, row: Sequence[Any], before: str | None) -> bool:
        if rule.trigger == "new_issue":
            return before is None
        if rule.trigger == "regression":
            return before == "resolved" and row[6] == "unresolved"
        if rule.trigger == "issue_users":
            return rule.threshold is not None and int(row[9]) >= rule.threshold
        # issue_events: events in the window, counted by the hour (a window
        # reaches back to the start of the hour it begins in).
        first_hour = int((self.now - rule.window) // 3600)
        found = self.conn.execute(
            self.dialect.sql(
                f"SELECT {self.dialect.int_sum('count')} FROM issue_hourly "
                "WHERE issue_id = ? AND hour >= ?"
            ),
            (int(row[0]), first_hour),
        ).fetchone()
        return rule.threshold is not None and int(found[0] or 0) >= rule.threshold

    def after_llm(self, events: Sequence[Event]) -> None:
        """Fire the LLM rules of the projects whose new events include LLM calls."""
        projects = sorted(
            {e.project_id for e in events if e.name in PRICED_EVENTS}
            & {pid for pid in self.rules if self._of(pid, LLM_TRIGGERS)}
        )
        for project_id in projects:
            for rule in self._of(project_id, LLM_TRIGGERS):
                metric = self._llm_metric(rule)
                if metric is None or rule.threshold is None or metric < rule.threshold:
                    continue
                model = rule.filters.get("model")
                payload = {
                    "metric": {
                        "name": rule.trigger,
                        "value": metric,
                        "threshold": rule.threshold,
                        "window": rule.window,
                        "model": model,
                    }
                }
                subject = f"{rule.trigger}:{model or '*'}"
                fire(self.conn, self.dialect, rule, subject, payload, self.now)

    def _llm_metric(self, rule: AlertRule) -> float | None:
        first_hour = int((self.now - rule.window) // 3600)
        where = "project_id = ? AND hour >= ?"
        params: list[Any] = [rule.project_id, first_hour]
        if rule.filters.get("model"):
            where += " AND model = ?"
            params.append(rule.filters["model"])
        if rule.trigger == "llm_p95_latency":
            rows = self.conn.execute(
                self.dialect.sql(
                    f"SELECT bucket, {self.dialect.int_sum('count')} FROM llm_latency_hourly "
                    f"WHERE {where} GROUP BY bucket"
                ),
                params,
            ).fetchall()
            return histogram_percentile({int(b): int(n) for b, n in rows}, 0.95)
        row = self.conn.execute(
            self.dialect.sql(
                f"SELECT SUM(cost_usd), {self.dialect.int_sum('requests')}, "
                f"{self.dialect.int_sum('errors')} FROM llm_hourly WHERE {where}"
            ),
            params,
        ).fetchone()
        cost, requests, errors = float(row[0] or 0), int(row[1] or 0), int(row[2] or 0)
        if rule.trigger == "llm_cost":
            return cost
        return errors / requests if requests >= MIN_LLM_CALLS else None


class AlertStoreMixin(Generic[DbT]):
    """Rules, mutes, email opt-outs and the outbox; the class provides ``db``, ``dialect``."""

    db: DbT
    dialect: ClassVar[SqlDialect]

    def _alert_rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        statement = self.dialect.sql(sql)
        return self.db.read(lambda conn: conn.execute(statement, params).fetchall())

    # -- rules -----------------------------------------------------------------

    def create_alert_rule(
        self, project_id: int, fields: dict[str, Any], *, user_id: int | None
    ) -> AlertRule:
        """A new rule from :func:`heliograph.alerts.rules.check_rule`'s fields."""
        now = time.time()

        def write(conn: Any) -> AlertRule:
            row = conn.execute(
                self.dialect.sql(
                    "INSERT INTO alert_rules (project_id, name, trigger_kind, threshold, "
                    "window_seconds, interval_seconds, filters, actions, enabled, snoozed_until, "
                    f"created_at, updated_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                    f"?, ?, ?) RETURNING {_RULE_COLUMNS}"
                ),
                (project_id, *self._rule_values(fields), now, now, user_id),
            ).fetchone()
            return rule_from_row(row)

        rule: AlertRule = self.db.write(write)
        return rule

    def _rule_values(self, fields: dict[str, Any]) -> tuple[Any, ...]:
        return (
            fields["name"],
            fields["trigger"],
            fields["threshold"],
            fields["window"],
            fields["interval"],
            orjson.dumps(fields["filters"]).decode(),
            "[" + ",".join(_action_json(a) for a in fields["actions"]) + "]",
            int(fields["enabled"]),
            fields["snoozed_until"],
        )

    def update_alert_rule(self, rule_id: int, fields: dict[str, Any]) -> AlertRule | None:
        def write(conn: Any) -> AlertRule | None:
            row = conn.execute(
                self.dialect.sql(
                    "UPDATE alert_rules SET name = ?, trigger_kind = ?, threshold = ?, "
                    "window_seconds = ?, interval_seconds = ?, filters = ?, actions = ?, "
                    f"enabled = ?, snoozed_until = ?, updated_at = ? WHERE id = ? "
                    f"RETURNING {_RULE_COLUMNS}"
                ),
                (*self._rule_values(fields), time.time(), rule_id),
            ).fetchone()
            return rule_from_row(row) if row else None

        found: AlertRule | None = self.db.write(write)
        return found

    def delete_alert_rule(self, rule_id: int) -> bool:
        def write(conn: Any) -> bool:
            conn.execute(self.dialect.sql("DELETE FROM alert_fires WHERE rule_id = ?"), (rule_id,))
            cursor = conn.execute(
                self.dialect.sql("DELETE FROM alert_rules WHERE id = ?"), (rule_id,)
            )
            return bool(cursor.rowcount)

        deleted: bool = self.db.write(write)
        return deleted

    def get_alert_rule(self, rule_id: int) -> AlertRule | None:
        rows = self._alert_rows(f"SELECT {_RULE_COLUMNS} FROM alert_rules WHERE id = ?", (rule_id,))
        return rule_from_row(rows[0]) if rows else None

    def list_alert_rules(self, project_id: int) -> list[AlertRule]:
        rows = self._alert_rows(
            f"SELECT {_RULE_COLUMNS} FROM alert_rules WHERE project_id = ? ORDER BY id",
            (project_id,),
        )
        return [rule_from_row(row) for row in rows]

    # -- mutes and opt-outs -----------------------------------------------------

    def mute_issue_alerts(self, issue_id: int, until: float | None, *, user_id: int | None) -> None:
        """No alert about this issue until ``until`` (None: until unmuted)."""
        self.db.write(
            lambda conn: conn.execute(
                self.dialect.sql(
                    "INSERT INTO issue_alert_mutes (issue_id, muted_until, muted_by) "
                    "VALUES (?, ?, ?) ON CONFLICT (issue_id) DO UPDATE SET "
                    "muted_until = excluded.muted_until, muted_by = excluded.muted_by"
                ),
                (issue_id, until, user_id),
            )
        )

    def unmute_issue_alerts(self, issue_id: int) -> None:
        self.db.write(
            lambda conn: conn.execute(
                self.dialect.sql("DELETE FROM issue_alert_mutes WHERE issue_id = ?"), (issue_id,)
            )
        )

    def issue_alerts_muted(self, issue_id: int) -> tuple[bool, float | None]:
        """Whether alerts about the issue are muted now, and until when (None: for good)."""
        rows = self._alert_rows(
            "SELECT muted_until FROM issue_alert_mutes WHERE issue_id = ?", (issue_id,)
        )
        if not rows:
            return False, None
        until = None if rows[0][0] is None else float(rows[0][0])
        return until is None or until > time.time(), until

    def set_alert_emails(self, user_id: int, enabled: bool) -> None:
        self.db.write(
            lambda conn: conn.execute(
                self.dialect.sql("UPDATE users SET alert_emails = ? WHERE id = ?"),
                (int(enabled), user_id),
            )
        )

    def alert_emails_enabled(self, user_id: int) -> bool:
        rows = self._alert_rows("SELECT alert_emails FROM users WHERE id = ?", (user_id,))
        return bool(rows and rows[0][0])

    def alert_email_recipients(self, project_id: int) -> list[str]:
        """The project's members who receive alert emails: who may see it, not opted out."""
        visible = visible_projects_sql("u.id")
        rows = self._alert_rows(
            f"SELECT u.email FROM users u, projects p WHERE p.id = ? AND u.alert_emails <> 0 "
            f"AND {visible} ORDER BY u.email",
            (project_id,),
        )
        return [row[0] for row in rows]

    # -- notifications outside digest ---------------------------------------------

    def notify(self, rule: AlertRule, subject: str, payload: dict[str, Any], *, test: bool) -> bool:
        """Fire ``rule`` outside digest: a heartbeat check (at most once per interval),
        or a test notification (always). Returns whether it fired."""
        now = time.time()
        fired: bool = self.db.write(
            lambda conn: fire(
                conn, self.dialect, rule, subject, payload, now, check_interval=not test
            )
        )
        return fired

    def _last_event_at(self, project_id: int, events_table: str) -> float | None:
        """When the project's newest stored event happened (any kind)."""
        rows = self._alert_rows(
            f"SELECT MAX(timestamp) FROM {events_table} WHERE project_id = ? AND kind = ? "
            f"UNION ALL SELECT MAX(timestamp) FROM {events_table} WHERE project_id = ? "
            "AND kind = ?",
            (project_id, "error", project_id, "analytics"),
        )
        found = [float(row[0]) for row in rows if row[0] is not None]
        return max(found) if found else None

    def heartbeat_rules(self) -> list[AlertRule]:
        rows = self._alert_rows(
            f"SELECT {_RULE_COLUMNS} FROM alert_rules WHERE trigger_kind = 'heartbeat'"
        )
        return [rule_from_row(row) for row in rows]

    # -- the outbox -------------------------------------------------------------

    def claim_deliveries(self, *, limit: int = 50, now: float | None = None) -> list[Delivery]:
        """Take up to ``limit`` due deliveries for sending (leased, not yet attempted)."""
        now = time.time() if now is None else now

        def write(conn: Any) -> list[Any]:
            rows: list[Any] = conn.execute(
                self.dialect.sql(
                    "UPDATE alert_deliveries SET lease_until = ?, attempts = attempts + 1 "
                    "WHERE id IN (SELECT id FROM alert_deliveries WHERE status = 'pending' "
                    "AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?) "
                    f"ORDER BY id LIMIT ?{self.dialect.skip_locked}) "
                    "RETURNING id, notification_id, project_id, action_json, attempts"
                ),
                (now + LEASE_SECONDS, now, now, limit),
            ).fetchall()
            return rows

        claimed = self.db.write(write)
        if not claimed:
            return []
        ids = sorted({int(row[1]) for row in claimed})
        condition, params = self.dialect.in_list("id", ids)
        payloads = {
            int(row[0]): orjson.loads(row[1])
            for row in self._alert_rows(
                f"SELECT id, payload FROM alert_notifications WHERE {condition}", params
            )
        }
        return sorted(
            (
                Delivery(
                    int(row[0]),
                    int(row[1]),
                    int(row[2]),
                    _action(orjson.loads(row[3])),
                    int(row[4]),
                    payloads.get(int(row[1]), {}),
                )
                for row in claimed
            ),
            key=lambda d: d.id,
        )

    def finish_delivery(
        self, delivery: Delivery, error: str | None, *, retry_at: float | None = None
    ) -> None:
        """Record a sending attempt: sent (``error`` None); failed, to be tried again at
        ``retry_at``; or, without ``retry_at``, failed for good."""
        now = time.time()
        if error is None:
            sql = (
                "UPDATE alert_deliveries SET status = 'sent', sent_at = ?, lease_until = NULL, "
                "last_error = NULL WHERE id = ?"
            )
            params: tuple[Any, ...] = (now, delivery.id)
        elif retry_at is None:
            sql = (
                "UPDATE alert_deliveries SET status = 'failed', lease_until = NULL, "
                "last_error = ? WHERE id = ?"
            )
            params = (error[:500], delivery.id)
        else:
            sql = (
                "UPDATE alert_deliveries SET next_attempt_at = ?, lease_until = NULL, "
                "last_error = ? WHERE id = ?"
            )
            params = (retry_at, error[:500], delivery.id)
        statement = self.dialect.sql(sql)
        self.db.write(lambda conn: conn.execute(statement, params))

    def alert_history(self, project_id: int, *, limit: int = 50) -> list[NotificationRecord]:
        """The project's latest notifications, newest first, with how each delivery went."""
        rows = self._alert_rows(
            "SELECT id, project_id, rule_id, subject, payload, created_at FROM alert_notifications "
            "WHERE project_id = ? ORDER BY created_at DESC, id DESC LIMIT ?",
            (project_id, limit),
        )
        if not rows:
            return []
        condition, params = self.dialect.in_list("notification_id", [int(r[0]) for r in rows])
        deliveries: dict[int, list[DeliveryRecord]] = {}
        for row in self._alert_rows(
            "SELECT notification_id, action_json, status, attempts, last_error, sent_at "
            f"FROM alert_deliveries WHERE {condition} ORDER BY id",
            params,
        ):
            action = _action(orjson.loads(row[1]))
            target = ", ".join(action.targets) if action.type == "email" else action.url or ""
            deliveries.setdefault(int(row[0]), []).append(
                DeliveryRecord(
                    action.type,
                    target,
                    row[2],
                    int(row[3]),
                    row[4],
                    None if row[5] is None else float(row[5]),
                )
            )
        return [
            NotificationRecord(
                int(row[0]),
                int(row[1]),
                None if row[2] is None else int(row[2]),
                row[3],
                orjson.loads(row[4]),
                float(row[5]),
                tuple(deliveries.get(int(row[0]), [])),
            )
            for row in rows
        ]
