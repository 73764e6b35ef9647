"""A node's processes share the queue's shards, the digest work and the keys.

``heliograph serve --workers N`` runs N acceptors, each appending to its own
queue shard, and N digest processes. These tests run the real pieces: queue
shard files, real ``heliograph digest`` processes, and two runtimes over one
data directory standing for two acceptor processes.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from heliograph.bootstrap import ensure_defaults
from heliograph.config import Settings
from heliograph.ingest.http import check_backlog
from heliograph.protocols.errors import RateLimited
from heliograph.runtime import Runtime
from heliograph.store import open_node_queue, open_queue, open_store, queue_shards
from heliograph.store.base import IssueFilter
from tests.payloads import sentry_event

PROJECT = 1


def fill(data_dir: Path, shard: int, events: list[dict[str, object]]) -> list[int]:
    queue = open_queue(data_dir, shard)
    try:
        return [
            asyncio.run(queue.append(PROJECT, "sentry_store", time.time(), orjson.dumps(event)))
            for event in events
        ]
    finally:
        queue.close()


def test_each_shard_numbers_its_payloads_in_its_own_range(tmp_path: Path) -> None:
    zero = fill(tmp_path, 0, [sentry_event()])
    five = fill(tmp_path, 5, [sentry_event(), sentry_event()])
    assert zero == [1]
    assert five == [(5 << 40) + 1, (5 << 40) + 2]
    assert queue_shards(tmp_path) == [0, 5]
    node = open_node_queue(tmp_path)
    try:
        assert node.measure() == 3 and node.depth == 3
    finally:
        node.close()


def test_two_digest_processes_make_one_issue_with_the_exact_count(tmp_path: Path) -> None:
    """One group's events in four shards, drained by two real digest processes."""
    store = open_store(f"sqlite:///{tmp_path / 'heliograph.sqlite3'}")
    ensure_defaults(store, "http://127.0.0.1")
    per_shard = 150
    event_ids = []
    for shard in range(4):
        events = [sentry_event("same group", exc_type="SharedGroupError") for _ in range(per_shard)]
        fill(tmp_path, shard, events)
        event_ids += [str(event["event_id"]) for event in events]
    # The same event sent twice, to two acceptors: stored once.
    fill(
        tmp_path,
        3,
        [sentry_event("same group", exc_type="SharedGroupError", event_id=event_ids[0])],
    )
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "heliograph",
                "digest",
                "--data-dir",
                str(tmp_path),
                "--worker",
                str(n),
                "--workers",
                "2",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for n in range(2)
    ]
    node = open_node_queue(tmp_path)
    try:
        deadline = time.monotonic() + 60
        while node.measure() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert node.measure() == 0, "digest did not drain every shard"
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(timeout=30)
        node.close()
    try:
        issues, _ = store.list_issues(IssueFilter(PROJECT), limit=10, cursor=None)
        assert [(issue.title, issue.times_seen) for issue in issues] == [
            ("SharedGroupError: same group", 4 * per_shard)
        ]
        assert all(store.get_event(PROJECT, event_id) for event_id in event_ids[::37])
    finally:
        store.close()
    assert all(worker.returncode == 0 for worker in workers)


def _open_store_at(url: str) -> None:
    open_store(url).close()


def test_processes_opening_a_new_store_at_once_migrate_it_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'heliograph.sqlite3'}"
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_open_store_at, args=(url,)) for _ in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
    assert [process.exitcode for process in processes] == [0, 0, 0, 0]
    store = open_store(url)
    try:
        ensure_defaults(store, "http://127.0.0.1")  # the schema is whole
        assert store.get_project_by_id(PROJECT) is not None
    finally:
        store.close()


def test_a_key_changed_in_one_acceptor_applies_at_once_in_the_others(tmp_path: Path) -> None:
    settings = replace(Settings(), data_dir=tmp_path)
    first = Runtime(settings, shard=0, acceptors=2)
    ensure_defaults(first.store, settings.base_url)
    second = Runtime(settings, shard=1, acceptors=2)
    try:
        second.keys.reload()  # just loaded: an unknown key alone would not reload it yet
        key = first.store.create_key(PROJECT, "new", None)
        first.keys.changed()
        assert second.keys.project_for(key.public_key) == PROJECT

        first.store.revoke_key(PROJECT, key.public_key)
        first.keys.changed()
        assert second.keys.project_for(key.public_key) is None
    finally:
        second.close()
        first.close()


def test_the_backlog_bound_counts_every_acceptors_shard(tmp_path: Path) -> None:
    """Payloads waiting in another acceptor's shard make this one refuse, too."""
    settings = replace(Settings(), data_dir=tmp_path, max_backlog=3)
    runtime = Runtime(settings, shard=0, acceptors=2)
    try:
        ensure_defaults(runtime.store, settings.base_url)
        check_backlog(runtime.gate)  # nothing waits anywhere: room
        fill(tmp_path, 1, [sentry_event() for _ in range(3)])
        runtime.backlog.measure()  # what the next refresh, a quarter second on, would read
        with pytest.raises(RateLimited):
            check_backlog(runtime.gate)
    finally:
        runtime.close()


def test_digest_lag_is_the_age_of_the_oldest_payload_of_any_shard(tmp_path: Path) -> None:
    first, second = open_queue(tmp_path, 0), open_queue(tmp_path, 1)
    node = open_node_queue(tmp_path)
    try:
        assert node.oldest_received_at() is None
        asyncio.run(second.append(1, "posthog", 200.0, b"[]"))
        asyncio.run(first.append(1, "posthog", 300.0, b"[]"))
        asyncio.run(first.append(1, "posthog", 100.0, b"[]"))  # a late clock: order is by id
        assert node.oldest_received_at() == 200.0
        second.remove([p.id for p in second.oldest(10)])
        assert node.oldest_received_at() == 300.0
    finally:
        node.close()
        first.close()
        second.close()


def test_a_child_that_refuses_the_data_stops_the_node_instead_of_restarting(
    tmp_path: Path,
) -> None:
    """A digest process that meets a schema a newer release migrated (another node was
    upgraded first) exits with REFUSED_EXIT_STATUS: restarting it every second cannot help."""
    import socket

    from heliograph.node import REFUSED_EXIT_STATUS, Child, Node

    sock = socket.socket()
    node = Node(Settings(data_dir=tmp_path), 1, sock)
    exit_with = [sys.executable, "-c", "import sys, time; time.sleep(0.2); sys.exit({})"]
    node.acceptors = [Child("acceptor 0", [*exit_with[:-1], exit_with[-1].format(0)])]
    node.digesters = [
        Child("digest worker 0", [*exit_with[:-1], exit_with[-1].format(REFUSED_EXIT_STATUS)])
    ]
    for child in node.children:
        child.spawn()
    started = time.monotonic()
    node.supervise()  # returns by itself
    node.stop()
    assert node.refused and time.monotonic() - started < 10
