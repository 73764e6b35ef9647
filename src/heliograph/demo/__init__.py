"""``heliograph demo``: a "demo" project full of realistic data, to try every page.

Seven days of a made-up support product: LLM agents with nested spans, tool
calls, rate-limit retries, a payment tool that sometimes fails (and raises
an error linked to its trace), several models and providers including a
self-hosted one with no known price, sessions, pageviews and a handful of
recurring application errors.

Everything goes through the real pipeline: payloads shaped like what the
PostHog SDK and sentry-sdk send are appended to the ingest queue and a
digest pass turns them into events, issues, costs and rollups, exactly as
for live traffic. No server needs to be running; if one is, its own digest
process simply shares the work. The same seed gives the same events (ids
included), so running the command twice adds nothing the second time
within the same hour.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

from heliograph.demo.catalog import (
    ERROR_KINDS,
    PAGES,
    ErrorKind,
    payment_error,
    sentry_payload,
)
from heliograph.demo.traces import TraceBuilder, build_trace
from heliograph.digest.worker import DigestWorker
from heliograph.store import open_queue
from heliograph.store.base import Project
from heliograph.store.contract import Store

__all__ = ["DemoResult", "run_demo"]

DEMO_ORG = "default"
DAY = 86400.0
POSTHOG_BATCH = 250


@dataclass(frozen=True, slots=True)
class DemoResult:
    """What was added, and where to look."""

    project: Project
    public_key: str
    traces: int
    llm_events: int
    pageviews: int
    errors: int
    url_path: str  # the LLM dashboard, relative to the server's URL


def run_demo(
    store: Store,
    data_dir: Path,
    project: str = "demo",
    *,
    seed: int = 42,
    days: int = 7,
    traces: int = 600,
    now: float | None = None,
) -> DemoResult:
    """Fill ``project`` (created in the default organization if missing) with demo data.

    The payloads go through shard 0 of the ingest queue in ``data_dir`` (the
    server's, when one runs) and a digest pass into ``store``. Returns once everything
    is digested, typically in a few seconds.
    """
    return _run(store, data_dir, project, seed, days, traces, now)


def _run(
    store: Store,
    data_dir: Path,
    slug: str,
    seed: int,
    days: int,
    trace_count: int,
    now: float | None,
) -> DemoResult:
    project, public_key = _ensure_project(store, slug)
    # The demo shows prompts and completions: its project keeps payloads.
    store.update_project(project.id, keep_llm_payloads=1)
    end = time.time() if now is None else now
    begin = end - days * DAY
    # Arrival times depend on "now"; everything else comes from generators
    # seeded per session, so each session's events (and their ids) are the
    # same on every run: running the demo again finds them stored already.
    arrivals = _arrivals(random.Random(f"{seed}:arrivals"), begin, end)
    analytics: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    planned = trace_total = llm_total = pageviews = 0
    users = [f"user_{1000 + i}" for i in range(48)]
    session_index = 0
    while planned < trace_count:
        rng = random.Random(f"{seed}:session:{session_index}")
        session_index += 1
        started = next(arrivals)
        user, session = rng.choice(users), _hex(rng, 12)
        moment = started
        for _ in range(rng.choices((1, 2, 3, 4), weights=(45, 30, 15, 10))[0]):
            planned += 1
            if moment > end - 30:
                continue  # would end in the future
            trace_total += 1
            builder = TraceBuilder(rng, moment, user, session, _release(moment, end))
            build_trace(builder)
            analytics += builder.events
            llm_total += len(builder.events)
            if builder.failed_payment is not None:
                errors.append(payment_error(rng, builder, builder.failed_payment))
            moment = builder.end + rng.uniform(20, 600)
        for index in range(rng.randint(2, 6)):
            analytics.append(_pageview(rng, user, session, started + index * rng.uniform(5, 90)))
            pageviews += 1
    errors += _background_errors(random.Random(f"{seed}:errors"), begin, end, users)
    _enqueue_and_digest(store, data_dir, project.id, analytics, errors)
    return DemoResult(
        project=project,
        public_key=public_key,
        traces=trace_total,
        llm_events=llm_total,
        pageviews=pageviews,
        errors=len(errors),
        url_path=f"/{project.organization_slug}/{project.slug}/llm/",
    )


def _ensure_project(store: Store, slug: str) -> tuple[Project, str]:
    org = store.get_organization(DEMO_ORG) or store.create_organization(
        DEMO_ORG, "Default organization"
    )
    project = store.get_project(org.slug, slug) or store.create_project(
        org.id, slug, slug.replace("-", " ").title()
    )
    keys = [k for k in store.project_keys(project.id) if k.revoked_at is None]
    key = keys[0] if keys else store.create_key(project.id, "Demo")
    return project, key.public_key


def _arrivals(rng: random.Random, start: float, end: float) -> Iterator[float]:
    """Session start times with a daily rhythm: busy in (UTC) working hours, quiet at night.

    Endless and unordered (sessions are independent); the caller takes what it needs.
    """
    while True:
        moment = rng.uniform(start, end)
        hour = datetime.fromtimestamp(moment, tz=timezone.utc).hour
        daytime = max(0.0, math.sin(math.pi * (hour - 6) / 16)) if 6 <= hour < 22 else 0.0
        if rng.random() < 0.2 + 0.8 * daytime:
            yield moment


def _release(moment: float, end: float) -> str:
    return "support-bot@2.4.0" if moment > end - 2 * DAY else "support-bot@2.3.1"


def _hex(rng: random.Random, nbytes: int) -> str:
    return f"{rng.getrandbits(nbytes * 8):0{nbytes * 2}x}"


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, tz=timezone.utc).isoformat()


def _pageview(rng: random.Random, user: str, session: str, moment: float) -> dict[str, Any]:
    path = rng.choice(PAGES)
    return {
        "event": "$pageview",
        "distinct_id": user,
        "uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "timestamp": _iso(moment),
        "properties": {
            "$current_url": f"https://support.example.com{path}",
            "$pathname": path,
            "$session_id": session,
            "$lib": "web",
            "$browser": rng.choice(("Chrome", "Firefox", "Safari")),
            "environment": "production",
        },
    }


def _background_errors(
    rng: random.Random, start: float, end: float, users: list[str]
) -> list[dict[str, Any]]:
    """Application errors with no LLM involved, recurring over the week."""
    payloads = []
    for kind in ERROR_KINDS:
        for _ in range(kind.weekly):
            moment = rng.uniform(start, end)
            payloads.append(_error_payload(rng, kind, moment, rng.choice(users), end))
    return payloads


def _error_payload(
    rng: random.Random, kind: ErrorKind, moment: float, user: str, end: float
) -> dict[str, Any]:
    return sentry_payload(
        rng,
        kind,
        moment=moment,
        user=user,
        release=_release(moment, end),
        trace_id=_hex(rng, 16),
        span_id=_hex(rng, 8),
    )


def _enqueue_and_digest(
    store: Store,
    data_dir: Path,
    project_id: int,
    analytics: list[dict[str, Any]],
    errors: list[dict[str, Any]],
) -> None:
    queue = open_queue(data_dir)
    received = time.time()

    async def append_all() -> None:
        # Concurrent appends share commits (the queue's group commit).
        appends = [
            queue.append(
                project_id, "posthog", received, orjson.dumps(analytics[i : i + POSTHOG_BATCH])
            )
            for i in range(0, len(analytics), POSTHOG_BATCH)
        ]
        appends += [
            queue.append(project_id, "sentry_store", received, orjson.dumps(payload))
            for payload in errors
        ]
        await asyncio.gather(*appends)

    try:
        # In a thread of its own: the caller may be running an event loop already.
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(asyncio.run, append_all()).result()
        DigestWorker(queue, store).drain(timeout=120)
    finally:
        queue.close()
