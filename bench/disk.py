"""Disk per event: how many bytes the SQLite store grows by for each kind of event.

Digests realistic events into a fresh store, one kind at a time, and prints
the growth of ``heliograph.sqlite3`` per event after a WAL checkpoint:

- sentry-sdk errors (10 frames with local variables, 20 breadcrumbs, a
  request, contexts; 50 distinct issues), as in ``bench/digest.py``;
- PostHog ``$ai_generation`` calls without their prompts and completions
  (the default: projects keep no LLM payloads);
- the same calls with about 2 KB of prompt and completion kept
  (a project that turned "keep LLM payloads" on).

    python bench/disk.py [--events N]

The figures are for sizing a data directory (docs/operations.md). Indexes
and the rollups are included; the free pages SQLite keeps after retention
deletes are not (they are reused before the file grows again).
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.digest import error_event, generation
from heliograph.bootstrap import ensure_defaults
from heliograph.digest.worker import DigestWorker
from heliograph.store import open_queue, open_store

BATCH = 50
PROMPT = "Summarise the customer's last three orders and suggest one product. " * 15
COMPLETION = "The customer bought running shoes, socks and a water bottle. " * 15


def generation_with_text(n: int) -> dict[str, Any]:
    event = generation(n)
    event["properties"]["$ai_input"] = [{"role": "user", "content": f"{n}: {PROMPT}"}]
    event["properties"]["$ai_output_choices"] = [{"role": "assistant", "content": COMPLETION}]
    return event


def file_bytes(path: Path) -> int:
    """The database's size once its WAL is folded in."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    return int(page_size * (pages - free))


def measure(count: int, kind: str, make: Callable[[int], dict[str, Any]], keep: bool) -> float:
    """Bytes per event for ``count`` events of one kind, in a fresh store."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        path = root / "heliograph.sqlite3"
        store = open_store(f"sqlite:///{path}")
        ensure_defaults(store, "http://127.0.0.1")
        project = store.list_projects()[0]
        store.update_project(project.id, keep_llm_payloads=keep)
        queue = open_queue(root)
        before = file_bytes(path)

        async def fill() -> None:
            if kind == "sentry_store":
                for n in range(count):
                    body = orjson.dumps(make(n))
                    await queue.append(project.id, "sentry_store", time.time(), body)
            else:
                for start in range(0, count, BATCH):
                    batch = [make(n) for n in range(start, min(count, start + BATCH))]
                    await queue.append(project.id, "posthog", time.time(), orjson.dumps(batch))

        asyncio.run(fill())
        DigestWorker(queue, store).drain(timeout=600)
        queue.close()
        store.close()
        return (file_bytes(path) - before) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=5000, help="events of each kind")
    args = parser.parse_args()
    kinds = [
        ("errors", "sentry_store", error_event, False),
        ("LLM calls, no payloads", "posthog", generation, False),
        ("LLM calls, ~2 KB payloads kept", "posthog", generation_with_text, True),
    ]
    for label, kind, make, keep in kinds:
        per_event = measure(args.events, kind, make, keep)
        print(f"{label}: {per_event:,.0f} bytes/event ({args.events} events)")


if __name__ == "__main__":
    main()
