"""Digest alone: how many queued payloads per second become stored events.

Fills a fresh queue with realistic sentry-sdk error events (10 frames, 20
breadcrumbs, request and contexts) and PostHog ``$ai_generation`` batches,
then times the real digest worker draining it into a fresh store, in this
process, with no server and no ingest competing for the cores.

    python bench/digest.py [--errors N] [--generations N] [--workers N]
                           [--database-url URL] [--alert-rules N]

Prints errors/s and generations/s. ``--alert-rules N`` gives the project N
alert rules first (new issues, regressions, issue frequency and LLM spend, in
turn: what digest evaluates in its transaction), to compare with none.

With ``--workers N`` the payloads are spread over N queue shards and
drained by N real ``heliograph digest`` processes writing one store, as
``serve --workers N`` runs them (pin them with ``taskset -c LIST python
bench/digest.py ...``). Compare runs made back
to back: this machine's speed varies from hour to hour.

The store is a fresh SQLite file unless ``--database-url`` names another,
such as ``postgresql://user@host:port/db``: give an empty database (the
bench creates its schema and default project there, and both measurements
write to it, errors first). The queue stays on local disk, as on a node.
``--events-url`` puts the events in ClickHouse (``clickhouse://...``), or
``--events-url chdb`` in the ClickHouse engine in this process (the
``tests/clickhouse.py`` one; in-process digest only).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from heliograph.alerts.rules import check_rule
from heliograph.bootstrap import ensure_defaults
from heliograph.digest.worker import DigestWorker
from heliograph.store import open_node_queue, open_queue, open_store
from heliograph.store.contract import Store
from heliograph.store.queue import PayloadQueue

GENERATIONS_PER_BATCH = 50


def error_event(n: int) -> dict[str, Any]:
    frames = [
        {
            "filename": f"app/module_{i}.py",
            "module": f"app.module_{i}",
            "function": f"handler_{i}",
            "lineno": 10 + i,
            "context_line": f"    result = step_{i}(payload)",
            "pre_context": ["def handler(payload):", "    check(payload)"],
            "post_context": ["    return result"],
            "vars": {"payload": {"user": n, "items": [1, 2, 3]}, "attempt": i},
            "in_app": i > 3,
        }
        for i in range(10)
    ]
    return {
        "event_id": uuid.uuid4().hex,
        "timestamp": time.time(),
        "platform": "python",
        "level": "error",
        "release": "app@1.2.3",
        "environment": "production",
        "server_name": "web-1",
        "exception": {
            "values": [
                {
                    "type": "KeyError",
                    "value": f"'missing_{n % 50}'",
                    "mechanism": {"type": "generic", "handled": False},
                    "stacktrace": {"frames": frames},
                }
            ]
        },
        "breadcrumbs": {
            "values": [
                {"timestamp": time.time(), "category": "http", "message": f"GET /api/{i}"}
                for i in range(20)
            ]
        },
        "request": {
            "url": "https://example.com/api/orders",
            "method": "POST",
            "headers": {"User-Agent": "Mozilla/5.0", "Cookie": "session=abc"},
            "data": {"order": n, "password": "hunter2"},
        },
        "contexts": {"runtime": {"name": "CPython", "version": "3.12.1"}},
        "user": {"id": str(n % 500), "email": f"user{n % 500}@example.com"},
        "tags": {"route": "/api/orders", "region": "eu"},
    }


def generation(n: int) -> dict[str, Any]:
    return {
        "event": "$ai_generation",
        "distinct_id": f"user-{n % 300}",
        "uuid": str(uuid.uuid4()),
        "properties": {
            "$ai_model": "gpt-4o-mini",
            "$ai_provider": "openai",
            "$ai_input_tokens": 500 + n % 100,
            "$ai_output_tokens": 120,
            "$ai_latency": 0.8,
            "$ai_trace_id": f"trace-{n // 5}",
            "$ai_http_status": 200,
        },
    }


def fill_shards(root: Path, shards: int, errors: int, generations: int) -> None:
    """Spread the payloads over ``shards`` queue shards, as N acceptors would."""
    for shard in range(shards):
        queue = open_queue(root, shard)
        fill(queue, errors // shards, generations // shards)
        queue.close()


def fill(queue: PayloadQueue, errors: int, generations: int) -> None:
    async def go() -> None:
        for n in range(errors):
            await queue.append(1, "sentry_store", time.time(), orjson.dumps(error_event(n)))
        for start in range(0, generations, GENERATIONS_PER_BATCH):
            batch = [generation(n) for n in range(start, start + GENERATIONS_PER_BATCH)]
            await queue.append(1, "posthog", time.time(), orjson.dumps(batch))

    asyncio.run(go())


def store_url(root: Path, database_url: str | None) -> str:
    """``database_url``, else a fresh SQLite file in ``root``."""
    return database_url or f"sqlite:///{root / 'heliograph.sqlite3'}"


def events_store_url(events_url: str) -> str:
    """``events_url``; ``chdb``: a fresh database on the engine in this process."""
    if events_url != "chdb":
        return events_url
    from tests import clickhouse

    clickhouse.register()
    return f"chdb://{clickhouse.new_database()}"


_RULES = (
    {"trigger": "new_issue"},
    {"trigger": "regression"},
    {"trigger": "issue_events", "threshold": 1_000_000, "window": 3600},
    {"trigger": "llm_cost", "threshold": 1_000_000, "window": 3600},
)


def add_alert_rules(store: Store, count: int) -> None:
    """``count`` rules on the default project, none of which would send anything here."""
    project = store.list_projects()[0]
    for n in range(count):
        raw = {**_RULES[n % len(_RULES)], "name": f"bench {n}",
               "actions": [{"type": "webhook", "url": "http://127.0.0.1:9/nowhere"}]}  # fmt: skip
        store.create_alert_rule(project.id, check_rule(raw), user_id=None)


def measure_in_process(
    errors: int,
    generations: int,
    database_url: str | None = None,
    events_url: str = "",
    alert_rules: int = 0,
) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store = open_store(store_url(root, database_url), events_url=events_store_url(events_url))
        queue = open_queue(root)
        ensure_defaults(store, "http://127.0.0.1")
        add_alert_rules(store, alert_rules)
        fill(queue, errors, generations)
        worker = DigestWorker(queue, store)
        started = time.perf_counter()
        worker.drain(timeout=600)
        elapsed = time.perf_counter() - started
        queue.close()
        store.close()
    return elapsed


def measure_processes(
    errors: int,
    generations: int,
    workers: int,
    database_url: str | None = None,
    events_url: str = "",
) -> float:
    """Seconds for N digest processes to drain N pre-filled shards into one store."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        url = store_url(root, database_url)
        store = open_store(url, events_url=events_url)
        ensure_defaults(store, "http://127.0.0.1")
        store.close()
        fill_shards(root, workers, errors, generations)
        node = open_node_queue(root)
        env = {**os.environ, "HELIOGRAPH_DATABASE_URL": url, "HELIOGRAPH_EVENTS_URL": events_url}
        started = time.perf_counter()
        processes = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "heliograph",
                    "digest",
                    "--data-dir",
                    str(root),
                    "--worker",
                    str(n),
                    "--workers",
                    str(workers),
                ],
                stderr=subprocess.DEVNULL,
                env=env,
            )
            for n in range(workers)
        ]
        try:
            while node.measure():
                time.sleep(0.01)
            elapsed = time.perf_counter() - started
        finally:
            for process in processes:
                process.terminate()
                process.wait()
            node.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--errors", type=int, default=3000)
    parser.add_argument("--generations", type=int, default=10000)
    parser.add_argument("--workers", type=int, default=0, help="digest processes (0: in-process)")
    parser.add_argument(
        "--database-url",
        default=None,
        help="the store to write (an empty database, e.g. postgresql://...); "
        "default: a fresh SQLite file",
    )
    parser.add_argument(
        "--alert-rules", type=int, default=0, help="alert rules on the project (in-process)"
    )
    parser.add_argument(
        "--events-url",
        default="",
        help="where the events go: clickhouse://..., or chdb (the engine in this process)",
    )
    args = parser.parse_args()
    if args.events_url == "chdb" and args.workers:
        parser.error("--events-url chdb runs in this process only: leave out --workers")

    def measure(errors: int, generations: int) -> float:
        if args.workers:
            return measure_processes(
                errors, generations, args.workers, args.database_url, args.events_url
            )
        return measure_in_process(
            errors, generations, args.database_url, args.events_url, args.alert_rules
        )

    if args.errors:
        seconds = measure(args.errors, 0)
        print(f"errors: {args.errors / seconds:,.0f}/s ({args.errors} in {seconds:.2f} s)")
    if args.generations:
        seconds = measure(0, args.generations)
        print(
            f"generations: {args.generations / seconds:,.0f}/s "
            f"({args.generations} in {seconds:.2f} s)"
        )


if __name__ == "__main__":
    main()
