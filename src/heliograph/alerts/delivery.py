"""The delivery thread: claims due notifications from the outbox, sends, records.

One runs in the first digest process of every node (``serve`` supervises
it). Each pass claims due deliveries (leased: a node that dies mid-send
leaves them to another after the lease), groups those going to the same
place for the same project into one message, sends each group through its
channel, and records the outcome: sent, or failed and retried with backoff
until the last attempt (``docs/alerts.md``). The same thread checks the
heartbeat rules once a minute: a project that has received nothing for a
rule's window fires it (at most once per interval, whichever node notices).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

from heliograph.alerts.channels import (
    Channel,
    DeliveryError,
    EmailChannel,
    SlackChannel,
    SmtpSettings,
    WebhookChannel,
)
from heliograph.alerts.messages import render
from heliograph.alerts.rules import MEMBERS, AlertAction
from heliograph.metrics import ALERT_DELIVERIES
from heliograph.store.alert_store import Delivery
from heliograph.store.base import Project
from heliograph.store.contract import Alerts, ProjectLookup

__all__ = ["AlertDelivery", "AlertSink"]

logger = logging.getLogger(__name__)

PASS_SECONDS = 2.0
HEARTBEAT_SECONDS = 60.0
# The waits before each retry of a failed delivery; after the last, it has failed.
RETRY_SECONDS = (10.0, 30.0, 120.0, 600.0)
PROJECT_DELETED = "the project was deleted"


class AlertSink(Alerts, ProjectLookup, Protocol):
    """What the delivery thread needs of the store."""


class AlertDelivery:
    def __init__(
        self,
        store: AlertSink,
        *,
        base_url: str,
        smtp: SmtpSettings | None,
        every: float = PASS_SECONDS,
        heartbeat_every: float = HEARTBEAT_SECONDS,
        retries: tuple[float, ...] = RETRY_SECONDS,
    ) -> None:
        self.store = store
        self.base_url = base_url
        self.smtp = smtp
        self.every = every
        self.heartbeat_every = heartbeat_every
        self.retries = retries
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="alert-delivery", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=15)

    def _loop(self) -> None:
        next_heartbeat = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() >= next_heartbeat:
                    self.check_heartbeats()
                    next_heartbeat = time.monotonic() + self.heartbeat_every
                while self.run_once() and not self._stop.is_set():
                    pass  # a full page: there may be more due right away
            except Exception:
                logger.exception("alert delivery pass failed; trying again shortly")
            self._stop.wait(self.every)

    def run_once(self, now: float | None = None) -> int:
        """Send what is due; returns how many deliveries were claimed."""
        claimed = self.store.claim_deliveries(limit=50, now=now)
        groups: dict[tuple[int, AlertAction], list[Delivery]] = {}
        for delivery in claimed:
            groups.setdefault((delivery.project_id, delivery.action), []).append(delivery)
        for (project_id, action), deliveries in groups.items():
            error = self._send(project_id, action, deliveries)
            given_up = 0
            for delivery in deliveries:
                retry_at = self._retry_at(delivery)
                self.store.finish_delivery(delivery, error, retry_at=retry_at)
                outcome = "sent" if error is None else "failed" if retry_at is None else "retried"
                ALERT_DELIVERIES.labels(action.type, outcome).inc()
                given_up += error is not None and retry_at is None
            if given_up and error != PROJECT_DELETED:
                # An alert nobody will receive: the operator must hear of it
                # (self-monitoring reports it as an issue of the internal project).
                logger.error(
                    "%d %s alert(s) of project %d not delivered after the last attempt: %s",
                    given_up,
                    action.type,
                    project_id,
                    error,
                )
        return len(claimed)

    def _retry_at(self, delivery: Delivery) -> float | None:
        """When to try a failed delivery again (its ``attempts`` counts this one); None:
        that was the last try."""
        if delivery.attempts > len(self.retries):
            return None
        return time.time() + self.retries[delivery.attempts - 1]

    def _send(self, project_id: int, action: AlertAction, deliveries: list[Delivery]) -> str | None:
        project = self.store.get_project_by_id(project_id)
        if project is None:
            return PROJECT_DELETED
        message = render([d.payload for d in deliveries], project, self.base_url)
        try:
            self.channel(project, action).send(message)
        except DeliveryError as exc:
            logger.warning("alert %s to %s failed: %s", action.type, project.slug, exc)
            return str(exc)
        return None

    def channel(self, project: Project, action: AlertAction) -> Channel:
        if action.type == "email":
            recipients: list[str] = []
            for target in action.targets:
                if target == MEMBERS:
                    recipients += self.store.alert_email_recipients(project.id)
                else:
                    recipients.append(target)
            return EmailChannel(self.smtp, list(dict.fromkeys(recipients)))
        if action.type == "slack":
            return SlackChannel(action.url or "")
        return WebhookChannel(action.url or "", action.secret or "")

    def check_heartbeats(self, now: float | None = None) -> int:
        """Fire every heartbeat rule whose project has been silent for its window."""
        now = time.time() if now is None else now
        fired = 0
        for rule in self.store.heartbeat_rules():
            if not rule.active(now):
                continue
            last = self.store.last_event_at(rule.project_id)
            # Silent since the later of its last event and the rule's creation.
            if now - max(last or 0.0, rule.created_at) < rule.window:
                continue
            payload = {"heartbeat": {"window": rule.window, "last_event_at": last}}
            fired += self.store.notify(rule, "heartbeat", payload, test=False)
        return fired
