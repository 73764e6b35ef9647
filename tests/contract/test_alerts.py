"""Alerts: rules fire inside digest's transaction, once per subject and interval, and
the outbox hands each delivery to one sender, retrying failures until the last try."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from heliograph.alerts.rules import AlertRule, check_rule
from heliograph.store.base import DigestBatch, IssueFilter, Organization, Project
from heliograph.store.contract import Store
from tests.contract.builders import ai_event, error, record_errors

WEBHOOK = {"type": "webhook", "url": "https://hooks.example/alerts", "secret": "s3cret"}


def rule(store: Store, project: Project, trigger: str, **extra: Any) -> AlertRule:
    raw = {"name": f"{trigger} rule", "trigger": trigger, "actions": [WEBHOOK], **extra}
    return store.create_alert_rule(project.id, check_rule(raw), user_id=None)


def fired(store: Store, project: Project) -> list[dict[str, Any]]:
    return [n.payload for n in store.alert_history(project.id, limit=500)]


def test_rules_are_kept_as_given_and_per_project(
    store: Store, project: Project, other_project: Project
) -> None:
    made = rule(store, project, "issue_events", threshold=100, window=600,
                filters={"environment": "production", "tags": {"tier": "gold"}})  # fmt: skip
    rule(store, other_project, "new_issue")
    found = store.get_alert_rule(made.id)
    assert found == made
    assert (found.threshold, found.window, found.filters["tags"]) == (100, 600, {"tier": "gold"})
    assert found.actions[0].secret == "s3cret"  # kept to sign with
    assert [r.id for r in store.list_alert_rules(project.id)] == [made.id]
    changed = store.update_alert_rule(made.id, check_rule({"threshold": 5}, found))
    assert changed is not None and changed.threshold == 5 and changed.actions == found.actions
    assert store.delete_alert_rule(made.id) and store.get_alert_rule(made.id) is None


def test_a_new_issue_fires_once_however_often_its_events_come(
    store: Store, project: Project
) -> None:
    rule(store, project, "new_issue")
    first = error(project.id, "checkout")
    record_errors(store, first, error(project.id, "checkout"))
    store.record(DigestBatch(errors=[first]))  # a replayed batch: its event is stored already
    record_errors(store, error(project.id, "checkout"))
    record_errors(store, error(project.id, "login"))
    titles = sorted(p["issue"]["title"] for p in fired(store, project))
    assert titles == ["ValueError: checkout", "ValueError: login"]
    deliveries = [d for n in store.alert_history(project.id) for d in n.deliveries]
    assert {(d.action, d.status) for d in deliveries} == {("webhook", "pending")}


def test_a_regression_fires_when_a_resolved_issue_comes_back(
    store: Store, project: Project
) -> None:
    rule(store, project, "regression")
    record_errors(store, error(project.id, "g"))
    [issue], _ = store.list_issues(IssueFilter(project.id), limit=5, cursor=None)
    record_errors(store, error(project.id, "g"))
    assert fired(store, project) == []  # unresolved: not a regression
    store.set_issue_status(issue.id, "resolved")
    record_errors(store, error(project.id, "g"))
    [payload] = fired(store, project)
    assert payload["issue"]["id"] == issue.id and payload["issue"]["substatus"] == "regressed"


def test_a_burst_fires_one_frequency_alert(store: Store, project: Project) -> None:
    rule(store, project, "issue_events", threshold=100, window=3600, interval=3600)
    now = time.time()
    for start in range(0, 1000, 250):
        record_errors(store, *[error(project.id, "hot", at=now) for _ in range(start, start + 250)])
    record_errors(store, *[error(project.id, "cold", at=now) for _ in range(50)])
    [payload] = fired(store, project)
    assert payload["issue"]["title"] == "ValueError: hot"
    assert payload["rule"]["trigger"] == "issue_events"


def test_filters_mutes_and_snoozes_keep_quiet(store: Store, project: Project) -> None:
    rule(store, project, "new_issue", filters={"environment": "production", "level": "error"})
    snoozed = rule(store, project, "new_issue")
    store.update_alert_rule(snoozed.id, check_rule({"snoozed_until": time.time() + 600}, snoozed))
    record_errors(store, error(project.id, "staging-only", environment="staging"))
    record_errors(store, error(project.id, "prod", environment="production"))
    assert [p["issue"]["title"] for p in fired(store, project)] == ["ValueError: prod"]
    users = rule(store, project, "issue_users", threshold=1)
    record_errors(store, error(project.id, "muted", user_id="u1"))
    issues, _ = store.list_issues(IssueFilter(project.id), limit=10, cursor=None)
    [issue] = [i for i in issues if i.title.endswith("muted")]
    before = len(fired(store, project))
    store.mute_issue_alerts(issue.id, None, user_id=None)
    assert store.issue_alerts_muted(issue.id) == (True, None)
    record_errors(store, error(project.id, "muted", user_id="u2"))
    assert len(fired(store, project)) == before
    store.unmute_issue_alerts(issue.id)
    assert store.issue_alerts_muted(issue.id) == (False, None)
    store.delete_alert_rule(users.id)


def test_llm_spend_fires_once_when_it_passes_the_threshold(store: Store, project: Project) -> None:
    rule(store, project, "llm_cost", threshold=1.0, window=3600, filters={"model": "gpt-4o"})
    now = time.time()
    cheap = [ai_event(project.id, trace="t", at=now, model="gpt-4o", cost=0.3) for _ in range(3)]
    store.record(DigestBatch(analytics=cheap))
    assert fired(store, project) == []  # $0.90
    other = [ai_event(project.id, trace="t", at=now, model="gpt-4o-mini", cost=5.0)]
    store.record(DigestBatch(analytics=other))
    assert fired(store, project) == []  # another model
    store.record(DigestBatch(analytics=[ai_event(project.id, trace="t", at=now, model="gpt-4o",
                                                 cost=0.3) for _ in range(5)]))  # fmt: skip
    [payload] = fired(store, project)
    assert payload["metric"]["name"] == "llm_cost" and payload["metric"]["value"] >= 1.0
    store.record(DigestBatch(analytics=[ai_event(project.id, trace="t", at=now, model="gpt-4o",
                                                 cost=3.0)]))  # fmt: skip
    assert len(fired(store, project)) == 1  # within its interval


def test_each_delivery_goes_to_one_sender_and_failures_are_retried(
    store: Store, project: Project, reopen: Callable[[], Store]
) -> None:
    rule(store, project, "new_issue")
    record_errors(store, error(project.id, "a"), error(project.id, "b"))
    now = time.time()
    claimed = store.claim_deliveries(now=now)
    assert len(claimed) == 2 and {d.action.type for d in claimed} == {"webhook"}
    assert store.claim_deliveries(now=now) == []  # leased to the first sender
    sent, failing = claimed
    store.finish_delivery(sent, None)
    store.finish_delivery(failing, "HTTP 500 from the receiver", retry_at=now + 60)
    assert store.claim_deliveries(now=now + 1) == []  # waits its backoff
    again = reopen()  # another node, or a restart: the outbox is in the store
    retried = again.claim_deliveries(now=now + 3600)
    assert [d.id for d in retried] == [failing.id] and retried[0].attempts == 2
    attempts = [retried[0].attempts]
    later = now + 3600
    while retried:
        last = retried[0].attempts >= 4
        later += 3600
        again.finish_delivery(retried[0], "HTTP 500", retry_at=None if last else later)
        retried = again.claim_deliveries(now=later)
        attempts += [d.attempts for d in retried]
    assert attempts == [2, 3, 4]  # then recorded as failed for good
    statuses = {
        (d.status, d.last_error) for n in again.alert_history(project.id) for d in n.deliveries
    }
    assert statuses == {("sent", None), ("failed", "HTTP 500")}


def test_tests_and_heartbeats_fire_outside_digest(store: Store, project: Project) -> None:
    beat = rule(store, project, "heartbeat", window=600, interval=3600)
    assert store.notify(beat, "test", {"test": True}, test=True)
    assert store.notify(beat, "test", {"test": True}, test=True)  # a test always sends
    assert store.notify(beat, "heartbeat", {"heartbeat": {"window": 600}}, test=False)
    assert not store.notify(beat, "heartbeat", {"heartbeat": {"window": 600}}, test=False)
    assert [r.id for r in store.heartbeat_rules()] == [beat.id]
    assert store.last_event_at(project.id) is None
    record_errors(store, error(project.id, "x", at=1_700_000_000.0))
    assert store.last_event_at(project.id) == 1_700_000_000.0


def test_alert_emails_go_to_members_who_did_not_opt_out(
    store: Store, org: Organization, project: Project
) -> None:
    ada = store.create_user("ada@acme.test")
    bob = store.create_user("bob@acme.test")
    store.create_user("eve@elsewhere.test")
    store.add_member(ada.id, org.id, "member")
    store.add_member(bob.id, org.id, "admin")
    assert store.alert_email_recipients(project.id) == ["ada@acme.test", "bob@acme.test"]
    store.set_alert_emails(bob.id, False)
    assert not store.alert_emails_enabled(bob.id)
    assert store.alert_email_recipients(project.id) == ["ada@acme.test"]
