"""Digest's sink: batches recorded once, replays harmless, outcomes counted, events read back."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from heliograph.store.base import (
    DigestBatch,
    Issue,
    IssueFilter,
    Outcome,
    Project,
    RecordResult,
    event_document,
)
from heliograph.store.contract import Store
from tests.contract.builders import DAY, ai_event, error, pageview, record_errors


def tally(store: Store, project_id: int, **kwargs: Any) -> dict[tuple[str, str, str], int]:
    """Outcomes as (category, outcome, reason) -> quantity: order is no part of the contract."""
    return {
        (o.category, o.outcome, o.reason): o.quantity for o in store.outcomes(project_id, **kwargs)
    }


def all_issues(store: Store, project_id: int) -> list[Issue]:
    issues, _ = store.list_issues(IssueFilter(project_id, status=None), limit=100, cursor=None)
    return issues


def test_a_clean_batch_is_recorded_with_nothing_rejected(store: Store, project: Project) -> None:
    batch = DigestBatch(
        errors=[error(project.id, "a"), error(project.id, "b")],
        analytics=[pageview(project.id, at=time.time())],
    )
    result = store.record(batch)
    assert isinstance(result, RecordResult) and result.rejected == ()
    for event in [g.event for g in batch.errors] + batch.analytics:
        stored = store.get_event(project.id, event.event_id)
        assert stored is not None and stored.event.event_id == event.event_id
    assert sorted(i.group_hash for i in all_issues(store, project.id)) == ["a", "b"]


def test_replaying_a_batch_changes_no_count(store: Store, project: Project) -> None:
    now = time.time()
    batch = DigestBatch(
        errors=[
            error(project.id, "a", at=now - 20, user_id="u1", environment="prod"),
            error(project.id, "a", at=now - 10, user_id="u2", environment="prod"),
        ],
        analytics=[pageview(project.id, at=now)],
    )
    store.record(batch)
    [issue] = all_issues(store, project.id)
    before = (
        issue,
        store.issue_tags(issue.id),
        store.issue_trend([issue.id], hours=2),
        tally(store, project.id),
        store.issue_events(issue.id, limit=10, cursor=None)[0],
    )
    replay = store.record(batch)  # digest crashed after the commit and runs the batch again
    assert replay.rejected == ()
    after = (
        store.get_issue(issue.id),
        store.issue_tags(issue.id),
        store.issue_trend([issue.id], hours=2),
        tally(store, project.id),
        store.issue_events(issue.id, limit=10, cursor=None)[0],
    )
    assert after == before
    assert before[0].times_seen == 2 and before[0].users_seen == 2


def test_accepted_outcomes_count_each_new_event_once(store: Store, project: Project) -> None:
    first, second = error(project.id, "a"), error(project.id, "a")
    view = pageview(project.id, at=time.time())
    store.record(DigestBatch(errors=[first], analytics=[view]))
    store.record(DigestBatch(errors=[first], analytics=[view]))
    assert tally(store, project.id) == {
        ("error", "accepted", ""): 1,
        ("analytics", "accepted", ""): 1,
    }
    store.record(DigestBatch(errors=[first, second]))  # one replayed, one new
    assert tally(store, project.id)[("error", "accepted", "")] == 2


def test_submitted_batches_are_written_once_their_futures_resolve(
    store: Store, project: Project
) -> None:
    batches = [DigestBatch(errors=[error(project.id, "a")]) for _ in range(3)]
    futures = [store.submit_record(batch) for batch in batches]
    assert [f.result(timeout=10).rejected for f in futures] == [(), (), ()]
    for batch in batches:
        assert store.get_event(project.id, batch.errors[0].event.event_id) is not None
    assert all_issues(store, project.id)[0].times_seen == 3


def test_an_event_twice_in_one_batch_is_stored_once(store: Store, project: Project) -> None:
    grouped = error(project.id, "a")
    store.record(DigestBatch(errors=[grouped, grouped]))
    [issue] = all_issues(store, project.id)
    assert issue.times_seen == 1
    events, _ = store.issue_events(issue.id, limit=10, cursor=None)
    assert [e.event_id for e in events] == [grouped.event.event_id]
    assert tally(store, project.id) == {("error", "accepted", ""): 1}


def test_event_ids_are_unique_per_project_only(
    store: Store, project: Project, other_project: Project
) -> None:
    event_id = uuid.uuid4().hex
    record_errors(store, error(project.id, "a", event_id=event_id))
    record_errors(store, error(other_project.id, "a", event_id=event_id))
    for p in (project, other_project):
        stored = store.get_event(p.id, event_id)
        assert stored is not None and stored.project_id == p.id
        assert len(all_issues(store, p.id)) == 1


def test_an_unwritable_event_is_rejected_alone(store: Store, project: Project) -> None:
    good = error(project.id, "good")
    bad = error(project.id, "bad")
    bad.event.extra["handle"] = object()  # no storage can serialise this
    result = store.record(DigestBatch(errors=[good, bad]))
    assert [(r.project_id, r.event_id) for r in result.rejected] == [
        (project.id, bad.event.event_id)
    ]
    assert result.rejected[0].reason
    assert store.get_event(project.id, good.event.event_id) is not None
    assert store.get_event(project.id, bad.event.event_id) is None
    assert [i.group_hash for i in all_issues(store, project.id)] == ["good"]
    assert tally(store, project.id) == {
        ("error", "accepted", ""): 1,
        ("error", "invalid", "internal"): 1,
    }


def test_batch_outcomes_are_recorded_with_the_events(store: Store, project: Project) -> None:
    store.record(
        DigestBatch(
            errors=[error(project.id)],
            outcomes=[Outcome(project.id, "error", "filtered", "browser-extensions", 3)],
        )
    )
    assert tally(store, project.id) == {
        ("error", "accepted", ""): 1,
        ("error", "filtered", "browser-extensions"): 3,
    }


def test_add_outcomes_sums_per_category_outcome_and_reason(
    store: Store, project: Project, other_project: Project
) -> None:
    store.add_outcomes(
        [
            Outcome(project.id, "error", "rate_limited", "key", 2),
            Outcome(project.id, "error", "rate_limited", "key", 5),
            Outcome(project.id, "error", "rate_limited", "project", 1),
            Outcome(project.id, "analytics", "rate_limited", "key", 4),
            Outcome(other_project.id, "error", "rate_limited", "key", 100),
        ]
    )
    store.add_outcomes([Outcome(project.id, "error", "rate_limited", "key", 3)])
    assert tally(store, project.id) == {
        ("analytics", "rate_limited", "key"): 4,
        ("error", "rate_limited", "key"): 10,
        ("error", "rate_limited", "project"): 1,
    }
    assert tally(store, other_project.id) == {("error", "rate_limited", "key"): 100}
    assert all(o.project_id == project.id for o in store.outcomes(project.id))


def test_outcomes_are_read_over_a_window_of_days(store: Store, project: Project) -> None:
    today = int(time.time() // DAY)
    store.add_outcomes(
        [
            Outcome(project.id, "error", "filtered", "old", 7, day=today - 40),
            Outcome(project.id, "error", "filtered", "recent", 1, day=today - 2),
            Outcome(project.id, "error", "filtered", "today", 1),
        ]
    )
    assert set(tally(store, project.id)) == {
        ("error", "filtered", "recent"),
        ("error", "filtered", "today"),
    }
    assert tally(store, project.id, days=60)[("error", "filtered", "old")] == 7
    assert set(tally(store, project.id, days=1)) == {("error", "filtered", "today")}


def test_get_event_returns_the_event_as_recorded(store: Store, project: Project) -> None:
    grouped = error(
        project.id,
        "a",
        environment="prod",
        release="1.2.3",
        user_id="42",
        tags={"browser": "Firefox"},
        trace_id="ab" * 16,
        message="while saving",
    )
    record_errors(store, grouped)
    stored = store.get_event(project.id, grouped.event.event_id)
    assert stored is not None
    assert stored.project_id == project.id and stored.issue_id is not None
    assert stored.event == grouped.event
    # Event ids are accepted in UUID form too, as users paste them.
    dashed = str(uuid.UUID(grouped.event.event_id)).upper()
    again = store.get_event(project.id, dashed)
    assert again is not None and again.event.event_id == grouped.event.event_id


def test_get_event_is_scoped_to_its_project(
    store: Store, project: Project, other_project: Project
) -> None:
    grouped = error(project.id)
    record_errors(store, grouped)
    assert store.get_event(other_project.id, grouped.event.event_id) is None
    assert store.get_event(project.id, uuid.uuid4().hex) is None


def test_analytics_events_are_stored_without_an_issue(store: Store, project: Project) -> None:
    view = pageview(project.id, at=time.time())
    store.record(DigestBatch(analytics=[view]))
    stored = store.get_event(project.id, view.event_id)
    assert stored is not None and stored.issue_id is None
    assert stored.event.kind == "analytics" and stored.event.name == "$pageview"
    assert all_issues(store, project.id) == []


def test_events_by_trace_links_errors_and_analytics_in_time_order(
    store: Store, project: Project, other_project: Project
) -> None:
    now = time.time()
    trace = "cd" * 16
    late_error = error(project.id, "a", at=now - 1, trace_id=trace)
    early_call = ai_event(project.id, trace=trace, at=now - 5)
    store.record(
        DigestBatch(
            errors=[
                late_error,
                error(project.id, "b", at=now - 3, trace_id="ef" * 16),
                error(other_project.id, "a", at=now - 2, trace_id=trace),
            ],
            analytics=[early_call],
        )
    )
    found = store.events_by_trace(project.id, trace)
    assert [e.event_id for e in found] == [early_call.event_id, late_error.event.event_id]
    assert store.events_by_trace(project.id, "00" * 16) == []


def test_recorded_data_survives_reopening(
    store: Store, project: Project, reopen: Callable[[], Store]
) -> None:
    grouped = error(project.id, "a")
    record_errors(store, grouped)
    reopened = reopen()
    stored = reopened.get_event(project.id, grouped.event.event_id)
    assert stored is not None and stored.event == grouped.event
    [issue] = all_issues(reopened, project.id)
    assert issue.times_seen == 1
    assert reopened.get_project_by_id(project.id) == project


def test_the_store_keeps_the_document_digest_encoded(store: Store, project: Project) -> None:
    """Digest encodes events in its own workers; the store writes those bytes as they are."""
    grouped = error(project.id, "encoded")
    view = pageview(project.id, at=time.time())
    encoded_error = replace(grouped.event, message="as digest encoded it")
    encoded_view = replace(view, name="$pageview-as-encoded")
    batch = DigestBatch(
        errors=[grouped],
        analytics=[view],
        documents={
            (project.id, grouped.event.event_id): event_document(encoded_error),
            (project.id, view.event_id): event_document(encoded_view),
        },
    )
    store.record(batch)
    stored_error = store.get_event(project.id, grouped.event.event_id)
    stored_view = store.get_event(project.id, view.event_id)
    assert stored_error is not None and stored_error.event.message == "as digest encoded it"
    assert stored_view is not None and stored_view.event.name == "$pageview-as-encoded"
    # Without a document, the store encodes the event itself.
    plain = error(project.id, "plain")
    store.record(DigestBatch(errors=[plain]))
    stored_plain = store.get_event(project.id, plain.event.event_id)
    assert stored_plain is not None and stored_plain.event == plain.event


def test_nul_characters_in_any_text_never_cost_an_event(store: Store, project: Project) -> None:
    """Clients send NULs (a hostile model name, a tag); every backend stores the event."""
    nul = "a\x00b"
    grouped = error(
        project.id,
        f"group {nul}",
        title=f"ValueError: {nul}",
        environment=nul,
        release=nul,
        user_id=nul,
        tags={nul: nul},
        message=nul,
    )
    call = ai_event(project.id, trace=f"trace-{nul}", at=time.time(), model=nul, provider=nul)
    result = store.record(DigestBatch(errors=[grouped], analytics=[call]))
    assert result.rejected == ()
    stored = store.get_event(project.id, grouped.event.event_id)
    assert stored is not None and stored.event.message == nul  # the document keeps it as sent
    assert store.get_event(project.id, call.event_id) is not None
    assert [issue.times_seen for issue in all_issues(store, project.id)] == [1]
    assert tally(store, project.id)[("error", "accepted", "")] == 1
