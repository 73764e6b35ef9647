"""PostgreSQL (and ClickHouse) at scale: the reads users do, over millions of events.

    python bench/scale.py [--errors 1000000] [--issues 20000] [--generations 1000000]
        [--repeat 30] [--quick] [--database-url URL] [--reuse] [--events chdb]

With ``--events chdb`` the events live in ClickHouse (the engine in this
process, chdb, in a temporary directory) and PostgreSQL keeps the rest, as
``HELIOGRAPH_EVENTS_URL`` deploys it; the issue's goal there is 10M
generations and 2M errors (``--generations 10000000 --errors 2000000``).

Loads a throwaway PostgreSQL cluster (``tests/postgres.py``; or an empty
database given by ``--database-url``) with ``--errors`` error events over
``--issues`` issues (popularity skewed: a few issues hold most events),
5 environments, 50 releases (one after the other, with stragglers) and 30
days, with realistic titles and culprits; and ``--generations`` LLM
generations (5 per trace, 3 traces per session, 6 models), some of whose
traces also carry errors. Then times each read (``--repeat`` times after one
warm-up; p50/p95) and prints them beside the goals: issue list p95 <= 50 ms
with environment/release filters and a text search, LLM dashboard p95
<= 300 ms, trace page p95 <= 100 ms.

How it loads (it is a bench, not the way data arrives):

* errors by ``COPY`` straight into the tables (``--load copy``, the default):
  the bench computes the rows ``store.record`` would write (events, issues,
  issue tags, users, hourly counts) with the store's own helpers
  (``event_tags``, ``user_key``, ``event_document``), then triages (one issue
  in six resolved, one in twenty ignored). ``--load record`` goes through
  ``store.record`` with a :class:`DigestBatch` of ``--batch`` (5,000) errors
  at a time instead: exactly digest's rows, but slower (on 2 cores about
  4,000 errors/s, against ~8,000/s by ``COPY``);
* generations go through the PostgreSQL backend's typed-row writer
  (``write_llm_rows``: ``llm_events`` plus every rollup, as digest writes
  them), 20,000 rows a transaction, with no ``events`` row of their own (the
  dashboard, lists and trace pages never read those);
* then ``VACUUM ANALYZE``, as autovacuum would do soon after such a load.

With ``--events chdb``, the events go where that store keeps them: error
documents and typed generation rows into ClickHouse, 50,000 rows an insert
(the rows the store's own ``_send`` makes), and their keys and every
PostgreSQL rollup as above. Before the reads, ``--record N`` (default 20,000)
times N more errors through ``store.record`` in digest's batches of 500, on
either backend: the store's write rate on one core.

Error documents are small (one exception, three frames, ~1 KB), so the
``events`` table is smaller than real sentry events would make it; the reads
timed here fetch few documents. ``--quick`` (50k errors, 50k generations,
2,000 issues) runs in under a minute. ``--reuse`` with ``--database-url``
skips loading when the project already has issues: time the same data again
(for example after a schema change, which opening the store migrates).
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from heliograph.bootstrap import ensure_defaults
from heliograph.model import Event, Exception_, Frame, User
from heliograph.query.llm import (
    build_dashboard,
    build_generation_list,
    build_session_list,
    build_trace_list,
)
from heliograph.query.llm_detail import build_trace_page
from heliograph.store.base import (
    DigestBatch,
    GroupedEvent,
    IssueFilter,
    Project,
    event_document,
)
from heliograph.store.clickhouse.store import ClickHouseStore, error_row, llm_row
from heliograph.store.issue_rows import event_tags, user_key
from heliograph.store.llm_records import LlmEventRecord, TraceFilter
from heliograph.store.postgresql import PostgresStore
from heliograph.store.postgresql.llm_write import add_to_rollups, write_llm_rows

DAY = 86400.0
SPAN = 30 * DAY
ENVIRONMENTS = (("production", 70), ("staging", 15), ("development", 8), ("qa", 4), ("canary", 3))
RELEASES = 50
MODELS = (
    ("gpt-4o-mini", "openai", 0.9, (0.15e-6, 0.6e-6)),
    ("gpt-4.1", "openai", 2.2, (2e-6, 8e-6)),
    ("claude-sonnet-4-20250514", "anthropic", 3.0, (3e-6, 15e-6)),
    ("claude-3-5-haiku-20241022", "anthropic", 1.1, (0.8e-6, 4e-6)),
    ("gemini-2.0-flash", "google", 0.8, (0.1e-6, 0.4e-6)),
    ("acme-llm-7b-instruct", "self-hosted", 1.6, None),
)
PACKAGES = ("api", "billing", "checkout", "search", "accounts", "notifications", "reports",
            "inventory", "shipping", "auth", "media", "analytics", "webhooks", "admin")  # fmt: skip
MODULES = ("views", "services", "models", "tasks", "serializers", "clients", "utils", "handlers",
           "repositories", "forms")  # fmt: skip
VERBS = ("get", "create", "update", "delete", "sync", "render", "validate", "charge", "refund",
         "export", "import", "send", "resolve", "fetch", "parse", "apply", "schedule")  # fmt: skip
NOUNS = ("order", "invoice", "user", "cart", "payment", "report", "token", "webhook",
         "session", "product", "shipment", "coupon", "subscription", "thumbnail", "address",
         "profile")  # fmt: skip
KINDS: tuple[tuple[str, Callable[[random.Random, str], str]], ...] = (
    ("KeyError", lambda r, n: f"'{n}_id'"),
    ("ValueError", lambda r, n: "invalid literal for int() with base 10: "
                                f"'{n}-{r.randint(1, 999)}'"),
    ("TypeError", lambda r, n: f"'NoneType' object is not subscriptable ({n})"),
    ("AttributeError", lambda r, n: f"'{n.title()}' object has no attribute "
                                    f"'{r.choice(VERBS)}_at'"),
    ("TimeoutError", lambda r, n: f"Request to {n}-service timed out after "
                                  f"{r.choice((5, 10, 30))}s"),
    ("ConnectionError", lambda r, n: f"HTTPSConnectionPool(host='{n}.internal', port=443): "
                                     "Max retries exceeded"),
    ("IntegrityError", lambda r, n: f'duplicate key value violates unique constraint "{n}s_pkey"'),
    ("PermissionDenied", lambda r, n: f"User may not {r.choice(VERBS)} this {n}"),
    ("ZeroDivisionError", lambda r, n: "division by zero"),
    ("JSONDecodeError", lambda r, n: f"Expecting value: line 1 column {r.randint(1, 80)} (char 0)"),
    ("DoesNotExist", lambda r, n: f"{n.title()} matching query does not exist."),
    ("RuntimeError", lambda r, n: f"{n} queue is full ({r.randint(1, 64) * 1000} items)"),
)  # fmt: skip

GOALS = {"issues": 50.0, "dashboard": 300.0, "trace": 100.0}


def _pct(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))]


# --- data ------------------------------------------------------------------------------------


class Issues:
    """``count`` issue shapes: group hash, title, culprit, frames; skewed popularity."""

    def __init__(self, count: int, rng: random.Random) -> None:
        self.rows = []
        for index in range(count):
            kind, value = KINDS[index % len(KINDS)]
            noun = rng.choice(NOUNS)
            package, module = rng.choice(PACKAGES), rng.choice(MODULES)
            function = f"{rng.choice(VERBS)}_{noun}"
            module_path = f"app.{package}.{module}"
            title = f"{kind}: {value(rng, noun)}"
            self.rows.append((f"{index:032x}", title, f"{module_path} in {function}",
                              module_path, function, kind))  # fmt: skip
        # Zipf-ish: the issue of rank r gets weight 1 / r ** 0.9, ranks shuffled.
        order = list(range(count))
        rng.shuffle(order)
        weights = [0.0] * count
        for rank, index in enumerate(order, 1):
            weights[index] = 1 / rank**0.9
        total = 0.0
        self.cumulative = []
        for w in weights:
            total += w
            self.cumulative.append(total)
        self.most_popular = order[0]

    def pick(self, rng: random.Random, k: int) -> list[int]:
        return rng.choices(range(len(self.rows)), cum_weights=self.cumulative, k=k)


def error_event(
    issues: Issues, index: int, n: float, project_id: int, start: float, rng: random.Random,
    trace_id: str | None,
) -> GroupedEvent:  # fmt: skip
    group_hash, title, culprit, module_path, function, kind = issues.rows[index]
    stamp = start + SPAN * n + rng.uniform(0, 60)
    release = max(0, min(RELEASES - 1, int(RELEASES * n) - (rng.random() < 0.1)))
    environment = rng.choices([e for e, _ in ENVIRONMENTS], [w for _, w in ENVIRONMENTS])[0]
    user_id = rng.randint(1, 50_000)
    frames = [
        Frame(function="dispatch", module="app.core.router", filename="app/core/router.py",
              lineno=88, in_app=True, context_line="    return handler(request)"),
        Frame(function=function, module=module_path,
              filename=module_path.replace(".", "/") + ".py", lineno=rng.randint(20, 400),
              in_app=True, context_line="    result = self.client.call(payload)",
              vars={"payload": {"id": user_id}, "attempt": 1}),
        Frame(function="call", module="app.lib.client", filename="app/lib/client.py",
              lineno=142, in_app=False, context_line="    raise " + kind + "(message)"),
    ]  # fmt: skip
    event = Event(
        project_id=project_id,
        event_id=uuid.UUID(int=rng.getrandbits(128)).hex,
        timestamp=stamp,
        received_at=stamp + 0.5,
        platform="python",
        level="error" if rng.random() < 0.9 else "warning",
        exceptions=[Exception_(type=kind, value=title.partition(": ")[2], frames=frames)],
        tags={"browser": rng.choice(("Chrome", "Firefox", "Safari", "Edge"))},
        user=User(id=str(user_id)),
        environment=environment,
        release=f"web@2.{release}.0",
        server_name=f"web-{rng.randint(1, 12)}",
        trace_id=trace_id or uuid.UUID(int=rng.getrandbits(128)).hex,
        transaction=f"/{function.replace('_', '/')}",
        sdk_name="sentry.python",
        sdk_version="2.19.0",
    )
    return GroupedEvent(event, group_hash, "v1", title, culprit)


def load_errors(
    store: PostgresStore, project_id: int, count: int, issues: Issues, start: float,
    batch_size: int, llm_traces: list[str],
) -> float:  # fmt: skip
    """``count`` errors through ``store.record`` in batches; returns seconds."""
    rng = random.Random(5)
    began = time.perf_counter()
    for offset in range(0, count, batch_size):
        size = min(batch_size, count - offset)
        picked = issues.pick(rng, size)
        errors = []
        for position, issue in enumerate(picked):
            n = (offset + position) / count
            # One error in 50 happened inside an LLM trace (the trace page lists it).
            trace = None
            if llm_traces and rng.random() < 0.02:
                trace = llm_traces[min(len(llm_traces) - 1, int(n * len(llm_traces)))]
            errors.append(error_event(issues, issue, n, project_id, start, rng, trace))
        result = store.record(DigestBatch(errors=errors))
        assert not result.rejected, result.rejected[:3]
        if (offset // batch_size) % 20 == 19:
            done = offset + size
            print(f"  errors: {done:,} in {time.perf_counter() - began:.0f} s", flush=True)
    return time.perf_counter() - began


def copy_errors(
    store: PostgresStore, project_id: int, count: int, issues: Issues, start: float,
    llm_traces: list[str],
) -> float:  # fmt: skip
    """The rows ``store.record`` would write for ``count`` errors, by ``COPY``; returns seconds.

    The same events as :func:`load_errors` (same generator, same seed), and
    the same derived rows, computed here with the store's own helpers
    (``event_tags``, ``user_key``, ``event_document``): events, then issues
    (ids 1..N: the database must be empty), their tags, users and hourly
    counts. One issue in six is then resolved and one in twenty ignored, as
    users triage.
    """
    rng = random.Random(5)
    chunk = 20_000
    began = time.perf_counter()
    # issue index -> [first, last, times, level of the last, first release, last release]
    seen: dict[int, list[Any]] = {}
    tags: dict[tuple[int, str, str], list[float]] = {}
    users: dict[int, set[str]] = {}
    hourly: dict[tuple[int, int], int] = {}
    clickhouse = isinstance(store, ClickHouseStore)
    if clickhouse:  # keys here, documents in ClickHouse
        event_columns = "project_id, event_id, issue_id, kind, timestamp, pending, id"
    else:
        event_columns = ("project_id, event_id, issue_id, kind, name, timestamp, received_at, "
                         "level, environment, release, distinct_id, trace_id, data")  # fmt: skip
    row_id = 0
    with store.db.pool.connection() as conn:
        for offset in range(0, count, chunk):
            size = min(chunk, count - offset)
            picked = issues.pick(rng, size)
            documents: list[bytes] = []
            with (
                conn.transaction(),
                conn.cursor() as cursor,
                cursor.copy(
                    f"COPY {'event_keys' if clickhouse else 'events'} ({event_columns}) FROM STDIN"
                ) as copy,
            ):
                for position, index in enumerate(picked):
                    n = (offset + position) / count
                    trace = None
                    if llm_traces and rng.random() < 0.02:
                        trace = llm_traces[min(len(llm_traces) - 1, int(n * len(llm_traces)))]
                    event = error_event(issues, index, n, project_id, start, rng, trace).event
                    issue_id = index + 1
                    row_id += 1
                    if clickhouse:
                        copy.write_row((project_id, event.event_id, issue_id, event.kind,
                                        event.timestamp, False, row_id))  # fmt: skip
                        documents.append(
                            error_row(event, row_id, issue_id, event_document(event), 90)
                        )
                    else:
                        copy.write_row((
                            project_id, event.event_id, issue_id, event.kind, event.name,
                            event.timestamp, event.received_at, event.level, event.environment,
                            event.release, event.distinct_id, event.trace_id,
                            event_document(event),
                        ))  # fmt: skip
                    ts = event.timestamp
                    row = seen.get(index)
                    if row is None:
                        seen[index] = [ts, ts, 1, event.level, event.release, event.release]
                    else:
                        row[1] = max(row[1], ts)
                        row[2] += 1
                        row[3] = event.level
                        row[5] = event.release or row[5]
                    for key, value in event_tags(event):
                        tag = tags.get((issue_id, key, value))
                        if tag is None:
                            tags[(issue_id, key, value)] = [1, ts, ts]
                        else:
                            tag[0] += 1
                            tag[2] = ts
                    who = user_key(event)
                    if who:
                        users.setdefault(issue_id, set()).add(who)
                    hour = (issue_id, int(ts // 3600))
                    hourly[hour] = hourly.get(hour, 0) + 1
            if clickhouse:
                _insert_rows(store, "error_events", documents, offset)
            done = offset + size
            if (offset // chunk) % 10 == 9:
                print(f"  errors: {done:,} in {time.perf_counter() - began:.0f} s", flush=True)
        if clickhouse:
            cursor = conn.execute(
                "SELECT setval(pg_get_serial_sequence('event_keys', 'id'), %s)", (row_id,)
            )
        triage = random.Random(9)
        with conn.transaction(), conn.cursor() as cursor:
            columns = ("id, project_id, group_hash, grouping_version, title, culprit, level, "
                       "platform, first_seen, last_seen, times_seen, users_seen, status, "
                       "substatus, resolved_at, first_release, last_release")  # fmt: skip
            with cursor.copy(f"COPY issues ({columns}) FROM STDIN") as copy:
                for index, (first, last, times, level, first_rel, last_rel) in seen.items():
                    group_hash, title, culprit = issues.rows[index][:3]
                    status, substatus, resolved_at = "unresolved", "ongoing", None
                    if times == 1:
                        substatus = "new"
                    roll = triage.random()
                    if roll < 1 / 6:
                        status, substatus, resolved_at = "resolved", "resolved", last + 3600
                    elif roll < 1 / 6 + 1 / 20:
                        status, substatus = "ignored", "archived"
                    copy.write_row((
                        index + 1, project_id, group_hash, "v1", title, culprit, level,
                        "python", first, last, times, len(users.get(index + 1, ())), status,
                        substatus, resolved_at, first_rel, last_rel,
                    ))  # fmt: skip
            with cursor.copy(
                "COPY issue_tags (issue_id, key, value, times_seen, first_seen, last_seen) "
                "FROM STDIN"
            ) as copy:
                for (issue_id, key, value), (times, first, last) in tags.items():
                    copy.write_row((issue_id, key, value, times, first, last))
            with cursor.copy("COPY issue_users (issue_id, user_key) FROM STDIN") as copy:
                for issue_id, keys in users.items():
                    for key in keys:
                        copy.write_row((issue_id, key))
            with cursor.copy("COPY issue_hourly (issue_id, hour, count) FROM STDIN") as copy:
                for (issue_id, slot), number in hourly.items():
                    copy.write_row((issue_id, slot, number))
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('issues', 'id'), "
                "(SELECT max(id) FROM issues))"
            )
            cursor.execute(
                "INSERT INTO outcomes (project_id, day, category, outcome, reason, quantity) "
                "VALUES (%s, %s, 'error', 'accepted', '', %s)",
                (project_id, int(time.time() // DAY), count),
            )
    return time.perf_counter() - began


def llm_rows(
    project_id: int, count: int, start: float, chunk: int = 20_000
) -> Iterator[list[LlmEventRecord]]:
    """Generations over 30 days in chunks of ``chunk``: 5 per trace, 3 traces per session."""
    rng = random.Random(3)
    trace_id = session_id = ""
    for offset in range(0, count, chunk):
        batch = []
        for index in range(offset, min(offset + chunk, count)):
            if index % 5 == 0:
                trace_id = f"{index // 5:032x}"
                if index % 15 == 0:
                    session_id = uuid.UUID(int=rng.getrandbits(128)).hex[:16]
            model, provider, median, price = MODELS[
                min(int(rng.paretovariate(1.2)) - 1, len(MODELS) - 1)
            ]
            latency = median * math.exp(rng.gauss(0, 0.5))
            stamp = start + SPAN * index / count + rng.uniform(0, 30)
            tokens_in, tokens_out = rng.randint(100, 4000), rng.randint(10, 800)
            failed = rng.random() < 0.02
            batch.append(
                LlmEventRecord(
                    id=10**12 + index, project_id=project_id,
                    event_id=uuid.UUID(int=rng.getrandbits(128)).hex, name="$ai_generation",
                    timestamp=stamp, started_at=stamp - latency, trace_id=trace_id,
                    span_id=None, parent_id=None, session_id=session_id,
                    distinct_id=f"user-{rng.randint(1, 20000)}", model=model, provider=provider,
                    input_tokens=tokens_in, output_tokens=tokens_out, cache_read_tokens=None,
                    cache_creation_tokens=None, reasoning_tokens=None,
                    total_cost_usd=tokens_in * price[0] + tokens_out * price[1] if price else None,
                    cost_source="price_table" if price else "unknown", latency_s=latency,
                    ttft_s=latency * 0.2 if rng.random() < 0.5 else None, is_error=failed,
                    error="Error code: 429 - rate limited" if failed else None,
                    http_status=429 if failed else 200, span_name=None,
                    environment="production", release="bot@1.0",
                )
            )  # fmt: skip
        yield batch


def _insert_rows(store: ClickHouseStore, table: str, rows: list[bytes], key: int) -> None:
    """``rows`` (JSON) into ``table`` as the store inserts them, in one insert."""
    from heliograph.store.clickhouse.store import TABLE_COLUMNS

    store.events.insert(table, TABLE_COLUMNS[table], b"\n".join(rows), token=f"bench:{key}")


def load_generations(store: PostgresStore, project_id: int, count: int, start: float) -> float:
    began = time.perf_counter()
    clickhouse = isinstance(store, ClickHouseStore)
    chunk = 100_000 if clickhouse else 20_000
    for number, batch in enumerate(llm_rows(project_id, count, start, chunk)):
        if isinstance(store, ClickHouseStore):
            # Typed rows into ClickHouse (50,000 an insert), the rollups into PostgreSQL
            # (100,000 rows a transaction: one per trace in llm_traces).
            store.db.write(partial(add_to_rollups, rows=batch))
            for part in range(0, len(batch), 50_000):
                rows = [llm_row(row, 90) for row in batch[part : part + 50_000]]
                _insert_rows(store, "llm_events", rows, number * 1000 + part)
        else:
            store.db.write(partial(write_llm_rows, rows=batch))
        if number % 10 == 9:
            done = (number + 1) * len(batch)
            print(f"  generations: {done:,} in {time.perf_counter() - began:.0f} s", flush=True)
    return time.perf_counter() - began


# --- timing ----------------------------------------------------------------------------------


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float, int]:
    """(p50 ms, p95 ms, size of the result) over ``repeat`` calls after one warm-up."""
    result = fn()
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    times.sort()
    size = len(result[0]) if isinstance(result, tuple) else len(result) if isinstance(
        result, list) else 1 if result is not None else 0  # fmt: skip
    return _pct(times, 0.5) * 1000, _pct(times, 0.95) * 1000, size


def reads(store: PostgresStore, project: Project, issues: Issues) -> list[tuple[str, str, Any]]:
    """(goal group, name, call) for every read timed."""
    pid = project.id
    last_release = f"web@2.{RELEASES - 1}.0"
    old_release = f"web@2.{RELEASES // 5}.0"
    popular = store.list_issues(IssueFilter(pid, status=None, sort="count"), limit=1, cursor=None)
    top_issue = popular[0][0].id
    rng = random.Random(11)
    some = store.list_issues(IssueFilter(pid, status=None), limit=200, cursor=None)[0]
    typical = rng.choice(some[50:]).id
    page2 = store.list_issues(IssueFilter(pid), limit=25, cursor=None)[1]
    error_trace = store.issue_events(typical, limit=1, cursor=None)[0][0].event.trace_id or ""
    traces = store.llm_traces(TraceFilter(pid), limit=50)[0]
    llm_trace = traces[-1].trace_id if traces else ""

    def issue_list(**filters: Any) -> Callable[[], object]:
        return lambda: store.list_issues(IssueFilter(pid, **filters), limit=25, cursor=None)

    hourly = {"range": "7d", "bucket": "hour"}
    day, week, month = {"range": "24h"}, {"range": "7d"}, {"range": "30d"}
    return [
        ("issues", "issues: unfiltered", issue_list()),
        ("issues", "issues: unfiltered, page 2",
         lambda: store.list_issues(IssueFilter(pid), limit=25, cursor=page2)),
        ("issues", "issues: env=production", issue_list(environment="production")),
        ("issues", "issues: env+release (new)",
         issue_list(environment="production", release=last_release)),
        ("issues", "issues: env+release (rare)", issue_list(environment="qa", release=old_release)),
        ("issues", "issues: search 'Timeout'", issue_list(query="Timeout")),
        ("issues", "issues: search 'refund_invoice'", issue_list(query="refund_invoice")),
        ("issues", "issues: search no match", issue_list(query="no such thing")),
        ("issues", "issues: env+rel+search",
         issue_list(environment="production", release=last_release, query="billing")),
        ("issues", "issues: all statuses, by count", issue_list(status=None, sort="count")),
        ("issues", "issue events (top issue)",
         lambda: store.issue_events(top_issue, limit=50, cursor=None)),
        ("issues", "issue events (typical)",
         lambda: store.issue_events(typical, limit=50, cursor=None)),
        ("issues", "latest_event (top issue)", lambda: store.latest_event(top_issue)),
        ("issues", "latest_event (typical)", lambda: store.latest_event(typical)),
        ("dashboard", "dashboard 24h/hour", lambda: build_dashboard(store, project, day)),
        ("dashboard", "dashboard 7d/day", lambda: build_dashboard(store, project, week)),
        ("dashboard", "dashboard 7d/hour", lambda: build_dashboard(store, project, hourly)),
        ("dashboard", "dashboard 30d/day", lambda: build_dashboard(store, project, month)),
        ("dashboard", "generations", lambda: build_generation_list(store, project, {})),
        ("dashboard", "generations by model",
         lambda: build_generation_list(store, project, {"model": "gemini-2.0-flash"})),
        ("dashboard", "generations by user",
         lambda: build_generation_list(store, project, {"user": "user-17"})),
        ("dashboard", "generations errors",
         lambda: build_generation_list(store, project, {"errors": "1"})),
        ("dashboard", "traces", lambda: build_trace_list(store, project, {})),
        ("dashboard", "sessions 7d", lambda: build_session_list(store, project, {"range": "7d"})),
        ("trace", "events by trace id", lambda: store.events_by_trace(pid, error_trace)),
        ("trace", "LLM trace tree", lambda: build_trace_page(store, project, llm_trace)),
    ]  # fmt: skip


# --- main ------------------------------------------------------------------------------------


def open_bench_store(url: str, events: str | None) -> PostgresStore:
    """PostgreSQL alone, or with its events in the ClickHouse engine in this process."""
    if events != "chdb":
        return PostgresStore(url)
    from tests.clickhouse import ChdbClient, new_database

    return ClickHouseStore(url, ChdbClient(new_database()))


def time_record(store: PostgresStore, project_id: int, issues: Issues, count: int) -> None:
    """``count`` errors more through ``store.record`` in digest's batches: the write rate."""
    if not count:
        return
    rng = random.Random(13)
    batches = []
    for offset in range(0, count, 500):
        picked = issues.pick(rng, min(500, count - offset))
        batches.append(DigestBatch(errors=[
            error_event(issues, index, 1.0, project_id, time.time() - SPAN, rng, None)
            for index in picked
        ]))  # fmt: skip
    began = time.perf_counter()
    for batch in batches:
        assert not store.record(batch).rejected
    seconds = time.perf_counter() - began
    print(f"store.record: {count:,} errors in batches of 500 in {seconds:.1f} s "
          f"({count / seconds:,.0f}/s)")  # fmt: skip


def run(url: str, args: argparse.Namespace) -> None:
    store = open_bench_store(url, args.events)
    try:
        project = ensure_defaults(store, "http://127.0.0.1").project
        issues = Issues(args.issues, random.Random(7))
        loaded = store.db.read(
            lambda c: (
                c.execute(
                    "SELECT count(*) FROM issues WHERE project_id = %s", (project.id,)
                ).fetchone()
                or (0,)
            )
        )[0]
        if loaded and args.reuse:
            print(f"reusing the loaded database ({loaded:,} issues)")
        else:
            assert not loaded, "the database already has issues: pass --reuse to time them"
            start = time.time() - SPAN
            seconds = load_generations(store, project.id, args.generations, start)
            print(f"loaded {args.generations:,} generations in {seconds:.0f} s "
                  f"({args.generations / max(seconds, 1e-9):,.0f}/s)")  # fmt: skip
            traces = [f"{i:032x}" for i in range(0, args.generations // 5)]
            if args.load == "copy":
                seconds = copy_errors(store, project.id, args.errors, issues, start, traces)
            else:
                seconds = load_errors(
                    store, project.id, args.errors, issues, start, args.batch, traces
                )
            print(f"loaded {args.errors:,} errors ({args.load}) in {seconds:.0f} s "
                  f"({args.errors / max(seconds, 1e-9):,.0f}/s)")  # fmt: skip
            began = time.perf_counter()
            with store.db.pool.connection() as conn:
                conn.autocommit = True
                conn.execute("VACUUM ANALYZE")
                conn.autocommit = False
            print(f"VACUUM ANALYZE in {time.perf_counter() - began:.0f} s")
        time_record(store, project.id, issues, args.record)
        counts: Any = store.db.read(
            lambda c: c.execute(
                "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM issues), "
                "(SELECT count(*) FROM issue_tags), (SELECT count(*) FROM llm_events), "
                "(SELECT count(*) FROM llm_traces), "
                "pg_size_pretty(pg_database_size(current_database()))"
            ).fetchone()
        )  # fmt: skip
        print("rows: {:,} events, {:,} issues, {:,} issue tags, {:,} generations, "
              "{:,} traces; database {}".format(*counts))  # fmt: skip
        if isinstance(store, ClickHouseStore):
            for table in ("error_events", "llm_events"):
                [(rows, size)] = store.events.query(
                    "SELECT sum(rows), formatReadableSize(sum(bytes_on_disk)) FROM system.parts "
                    "WHERE active AND database = currentDatabase() AND table = {t:String}",
                    {"t": table},
                )
                print(f"clickhouse {table}: {rows:,} rows, {size} on disk")
        print(f"\n{'read':<34} {'p50 ms':>8} {'p95 ms':>8} {'rows':>5}  goal")
        worst: dict[str, float] = {}
        for group, name, fn in reads(store, project, issues):
            if args.only and not any(word in name for word in args.only):
                continue
            p50, p95, size = timed(fn, args.repeat)
            goal = GOALS[group]
            if group == "dashboard" and not name.startswith("dashboard"):
                mark = ""  # the lists beside the dashboard: shown, no goal of their own
            else:
                mark = f"p95 <= {goal:.0f} {'ok' if p95 <= goal else 'MISS'}"
                worst[group] = max(worst.get(group, 0.0), p95)
            print(f"{name:<34} {p50:8.1f} {p95:8.1f} {size:5}  {mark}", flush=True)
        print()
        for group, p95 in worst.items():
            state = "ok" if p95 <= GOALS[group] else "MISS"
            print(f"worst {group:<10} p95 {p95:7.1f} ms  (goal <= {GOALS[group]:.0f} ms) {state}")
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--errors", type=int, default=1_000_000)
    parser.add_argument("--issues", type=int, default=20_000)
    parser.add_argument("--generations", type=int, default=1_000_000)
    parser.add_argument(
        "--load", choices=["copy", "record"], default="copy",
        help="errors by COPY of the rows record writes (default), or through store.record",
    )  # fmt: skip
    parser.add_argument("--batch", type=int, default=5_000, help="errors per DigestBatch")
    parser.add_argument("--repeat", type=int, default=30, help="timings per read (>= 20)")
    parser.add_argument("--quick", action="store_true", help="50k errors, 50k generations")
    parser.add_argument("--database-url", help="an empty database (default: a throwaway cluster)")
    parser.add_argument("--reuse", action="store_true", help="time an already loaded database")
    parser.add_argument("--only", action="append", default=[], help="reads whose name has this")
    parser.add_argument(
        "--events", choices=["chdb"], help="events in ClickHouse (the engine in this process)"
    )
    parser.add_argument(
        "--record", type=int, default=20_000, help="errors timed through store.record"
    )
    args = parser.parse_args()
    if args.quick:
        args.errors, args.generations, args.issues = 50_000, 50_000, 2_000
    if args.database_url:
        run(args.database_url, args)
        return
    from tests.postgres import PostgresCluster, cluster

    clusters: Generator[PostgresCluster | None] = cluster()  # type: ignore[assignment]
    running = next(clusters)
    if running is None:
        sys.exit("no PostgreSQL installation found (initdb); pass --database-url")
    try:
        run(running.new_database(), args)
    finally:
        clusters.close()


if __name__ == "__main__":
    main()
