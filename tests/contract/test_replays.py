"""Session replays: segments summed into replays once, their blobs read back, errors linked
both ways, lists paged, and everything gone with the replay or past retention."""

from __future__ import annotations

import time
import uuid
import zlib
from collections.abc import Callable
from typing import Any

import orjson

from heliograph.store.base import DigestBatch, IssueFilter, Project
from heliograph.store.contract import Store
from heliograph.store.replay_records import ReplayError, ReplayFilter, ReplaySegment
from tests.contract.builders import DAY, error, record_errors


def rrweb(at: float, n: int = 3) -> list[dict[str, Any]]:
    return [{"type": 3, "timestamp": int((at + i) * 1000), "data": {"source": 1}} for i in range(n)]


def segment(
    store: Store,
    project: Project,
    replay_id: str,
    name: str,
    *,
    at: float,
    events: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> ReplaySegment:
    """A segment as digest makes it: its blob written first."""
    events = rrweb(at) if events is None else events
    blob = zlib.compress(orjson.dumps(events))
    key = f"replays/{project.id}/{replay_id}/{name}.json.gz"
    store.blobs.put(key, blob)
    fields: dict[str, Any] = {
        "project_id": project.id,
        "replay_id": replay_id,
        "segment": name,
        "source": "sentry",
        "started_at": at,
        "ended_at": at + len(events) - 1,
        "events": len(events),
        "bytes": len(blob),
        "blob_key": key,
        **extra,
    }
    return ReplaySegment(**fields)


def test_segments_add_up_to_their_replay_once(store: Store, project: Project) -> None:
    now = time.time()
    first = segment(store, project, "r1", "000000000", at=now, clicks=2,
                    first_url="https://shop.test/", distinct_id="u1",
                    browser="Chrome 120", environment="production")  # fmt: skip
    second = segment(store, project, "r1", "000000001", at=now + 10, clicks=1,
                     console_errors=1, network_errors=2, first_url="https://shop.test/cart",
                     distinct_id="u2")  # fmt: skip
    store.record(DigestBatch(replays=[second]))
    store.record(DigestBatch(replays=[first, second]))  # the second again: a replayed batch
    replay = store.get_replay(project.id, "r1")
    assert replay is not None
    assert (replay.segments, replay.events, replay.bytes) == (2, 6, first.bytes + second.bytes)
    assert (replay.clicks, replay.console_errors, replay.network_errors) == (3, 1, 2)
    assert (replay.started_at, replay.ended_at) == (now, now + 12)
    # The earliest segment's URL is where the replay starts, whatever arrived first.
    assert replay.first_url == "https://shop.test/"
    assert (replay.browser, replay.environment) == ("Chrome 120", "production")
    assert replay.distinct_id in ("u1", "u2")
    assert store.replay_usage(project.id) == first.bytes + second.bytes
    outcomes = {(o.category, o.outcome): o.quantity for o in store.outcomes(project.id)}
    assert outcomes[("replay", "accepted")] == 2


def test_events_come_back_in_time_order_across_segments(store: Store, project: Project) -> None:
    now = time.time()
    late = segment(store, project, "r2", "b", at=now + 100)
    early = segment(store, project, "r2", "a", at=now)
    store.record(DigestBatch(replays=[late, early]))
    events = store.replay_events(project.id, "r2")
    stamps = [e["timestamp"] for e in events]
    assert len(events) == 6 and stamps == sorted(stamps)
    assert [s.segment for s in store.replay_segments(project.id, "r2")] == ["a", "b"]


def test_replays_list_newest_first_in_pages_and_filters(
    store: Store, project: Project, other_project: Project
) -> None:
    now = time.time()
    batch = DigestBatch(
        replays=[
            segment(store, project, f"r{i}", "0", at=now - i * 60, distinct_id=f"u{i % 2}")
            for i in range(5)
        ]
        + [segment(store, other_project, "elsewhere", "0", at=now)]
    )
    store.record(batch)
    seen: list[str] = []
    cursor = None
    while True:
        page, cursor = store.list_replays(ReplayFilter(project.id), limit=2, cursor=cursor)
        seen += [r.replay_id for r in page]
        if cursor is None:
            break
    assert seen == ["r0", "r1", "r2", "r3", "r4"]
    mine, _ = store.list_replays(ReplayFilter(project.id, distinct_id="u1"), limit=10)
    assert [r.replay_id for r in mine] == ["r1", "r3"]
    recent, _ = store.list_replays(ReplayFilter(project.id, since=now - 90), limit=10)
    assert [r.replay_id for r in recent] == ["r0", "r1"]
    short, _ = store.list_replays(ReplayFilter(project.id, min_seconds=3), limit=10)
    assert short == []  # every replay here lasts two seconds


def test_errors_link_to_replays_whichever_arrives_first(store: Store, project: Project) -> None:
    now = time.time()
    before = error(project.id, "g1", at=now)
    record_errors(store, before)
    # The replay names an error stored before it, and one not stored yet.
    later_id = uuid.uuid4().hex
    store.record(
        DigestBatch(
            replays=[
                segment(store, project, "r3", "0", at=now,
                        error_ids=(before.event.event_id, later_id))
            ]
        )
    )  # fmt: skip
    later = error(project.id, "g2", at=now + 1, event_id=later_id)
    # The error arrives and names its replay (its replayId tag).
    store.record(
        DigestBatch(
            errors=[later], replay_errors=[ReplayError(project.id, "r3", later.event.event_id)]
        )
    )
    replay = store.get_replay(project.id, "r3")
    assert replay is not None and replay.errors == 2
    assert sorted(store.replay_error_ids(project.id, "r3")) == sorted(
        [before.event.event_id, later_id]
    )
    issues, _ = store.list_issues(IssueFilter(project.id), limit=10, cursor=None)
    assert len(issues) == 2
    for issue in issues:
        assert [r.replay_id for r in store.issue_replays(issue.id)] == ["r3"]
    with_errors, _ = store.list_replays(ReplayFilter(project.id, with_errors=True), limit=5)
    assert [r.replay_id for r in with_errors] == ["r3"]


def test_deleting_a_replay_removes_its_rows_and_blobs(store: Store, project: Project) -> None:
    seg = segment(store, project, "r4", "0", at=time.time())
    store.record(DigestBatch(replays=[seg]))
    assert store.blobs.get(seg.blob_key) is not None
    assert store.delete_replay(project.id, "r4")
    assert store.get_replay(project.id, "r4") is None
    assert store.replay_events(project.id, "r4") == []
    assert store.blobs.get(seg.blob_key) is None
    assert not store.delete_replay(project.id, "r4")


def test_retention_purges_old_replays_and_their_blobs(store: Store, project: Project) -> None:
    now = time.time()
    old = segment(store, project, "old", "0", at=now - 200 * DAY)
    new = segment(store, project, "new", "0", at=now)
    store.record(DigestBatch(replays=[old, new]))
    dry = store.purge_expired(now=now, dry_run=True)
    assert sum(p.replays for p in dry.projects) == 1
    report = store.purge_expired(now=now)
    assert sum(p.replays for p in report.projects) == 1
    assert store.get_replay(project.id, "old") is None
    assert store.blobs.get(old.blob_key) is None
    assert store.get_replay(project.id, "new") is not None


def test_replays_survive_a_restart(
    store: Store, project: Project, reopen: Callable[[], Store]
) -> None:
    seg = segment(store, project, "r5", "0", at=time.time())
    store.record(DigestBatch(replays=[seg]))
    again = reopen()
    assert again.get_replay(project.id, "r5") is not None
    assert len(again.replay_events(project.id, "r5")) == 3


def test_links_to_sessions_never_recorded_go_with_retention(store: Store, project: Project) -> None:
    """Every PostHog error names its session; most sessions are never recorded."""
    now = time.time()
    ghost = error(project.id, "g1", at=now)
    store.record(
        DigestBatch(
            errors=[ghost], replay_errors=[ReplayError(project.id, "ghost", ghost.event.event_id)]
        )
    )
    assert store.replay_error_ids(project.id, "ghost") == [ghost.event.event_id]
    store.purge_expired(now=now)
    assert store.replay_error_ids(project.id, "ghost") == [ghost.event.event_id]
    store.purge_expired(now=now + 200 * DAY)
    assert store.replay_error_ids(project.id, "ghost") == []
