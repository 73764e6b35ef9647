"""Disk use per project: rows and bytes each project keeps, for the admin status page."""

from __future__ import annotations

import time

from heliograph.store.base import DigestBatch, Project
from heliograph.store.contract import Store
from tests.contract.builders import ai_event, error, pageview, record_errors
from tests.contract.test_replays import segment


def test_an_empty_store_uses_nothing(store: Store, project: Project) -> None:
    assert store.disk_use() == []


def test_each_project_counts_its_own_events_llm_rows_and_replays(
    store: Store, project: Project, other_project: Project
) -> None:
    now = time.time()
    record_errors(store, *(error(project.id, f"g{n}", at=now - n) for n in range(3)))
    calls = [ai_event(project.id, trace="t1", at=now - n) for n in range(2)]
    store.record(DigestBatch(analytics=[*calls, pageview(project.id, at=now)]))
    store.record(DigestBatch(analytics=[pageview(other_project.id, at=now)]))
    recording = segment(store, project, "a" * 32, "0", at=now)
    store.record(DigestBatch(replays=[recording]))

    found = {use.project_id: use for use in store.disk_use()}

    shop, blog = found[project.id], found[other_project.id]
    assert shop.events == 6  # three errors, two LLM calls, a pageview
    assert shop.llm_rows == 2
    assert shop.replay_bytes == recording.bytes
    assert shop.event_bytes > 0
    assert shop.total_bytes == shop.event_bytes + recording.bytes
    assert (blog.events, blog.llm_rows, blog.replay_bytes) == (1, 0, 0)
    assert 0 < blog.event_bytes < shop.event_bytes
    # The largest first: what an admin looks for.
    assert [use.project_id for use in store.disk_use()] == [project.id, other_project.id]


def test_retention_frees_what_it_deletes(store: Store, project: Project) -> None:
    now = time.time()
    store.update_project(project.id, retention_days=1)
    record_errors(
        store, error(project.id, "old", at=now - 3 * 86400), error(project.id, "new", at=now)
    )
    store.purge_expired(now=now)
    [shop] = [use for use in store.disk_use() if use.project_id == project.id]
    assert shop.events == 1
