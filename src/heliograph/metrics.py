"""Every Prometheus metric the server exports, defined once (``docs/monitoring.md``).

Why one module: a metric defined twice (two modules, two names for the same
thing) is a bug Prometheus users find only on their dashboards. The code that
counts imports the objects from here; :mod:`heliograph.metrics_exposition`
renders them.

A node is many processes (:mod:`heliograph.node`), so prometheus-client runs
in its multiprocess mode there: the supervisor sets ``PROMETHEUS_MULTIPROC_DIR``
(:data:`MULTIPROC_ENV`) in its children's environment before they start, each
child writes its values to files of its own in that directory, and a scrape
sums them. The mode is chosen when ``prometheus_client`` is first imported,
which is why nothing here may be imported by the supervisor before it has set
the variable. Without the variable (tests building the app in-process, CLI
tools) every metric lives in this process's registry, with the same names.

Gauges say how their values from several processes combine
(``multiprocess_mode``): ``livemax`` for "this worker is up" (the series
goes when the supervisor sees the process die), ``max`` for timestamps that
must outlive the process (the last batch of a worker that crashed).
Counters of a process that died keep counting in the sum: nothing goes
backwards when a child is restarted.

Per-worker figures carry a ``worker`` label: ``acceptor-N`` or ``digest-N``,
stable across restarts (a pid is not), so a series and an alert survive one.
"""

from __future__ import annotations

import os
import time

from prometheus_client import Counter, Gauge, Histogram, values

from heliograph import __version__

__all__ = [
    "AI_FIX_CALLS",
    "AI_FIX_COST",
    "AI_FIX_TOKENS",
    "ALERT_DELIVERIES",
    "BUILD_INFO",
    "DIGEST_BATCH_SECONDS",
    "DIGEST_DEAD_LETTERED",
    "DIGEST_ERRORS",
    "DIGEST_EVENTS",
    "DIGEST_HEARTBEAT",
    "DIGEST_LAST_BATCH",
    "DIGEST_PAYLOADS",
    "HTTP_REQUESTS",
    "HTTP_SECONDS",
    "INGEST_PAYLOADS",
    "MULTIPROC_ENV",
    "RETENTION_DELETED",
    "RETENTION_PASSES",
    "STORE_SECONDS",
    "WORKERS_CONFIGURED",
    "WORKER_RESTARTS",
    "WORKER_START",
    "WORKER_UP",
    "mark_worker_up",
    "multiprocess_active",
    "multiprocess_dir",
    "worker_name",
]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Seconds: requests are answered in milliseconds, digest batches and commits
# take up to seconds under load (SQLite's write lock, a large batch).
_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SLOW = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

# -- the node's processes ---------------------------------------------------

BUILD_INFO = Gauge(
    "heliograph_build_info",
    "Always 1; the running version in the version label.",
    ["version"],
    multiprocess_mode="max",
)
WORKER_UP = Gauge(
    "heliograph_worker_up",
    "1 while the worker process runs (gone once the supervisor sees it exit).",
    ["worker"],
    multiprocess_mode="livemax",
)
WORKER_START = Gauge(
    "heliograph_worker_start_time_seconds",
    "When the worker process started (Unix time).",
    ["worker"],
    multiprocess_mode="livemax",
)
WORKERS_CONFIGURED = Gauge(
    "heliograph_workers_configured",
    "Worker processes the supervisor runs, by role (acceptor, digest).",
    ["role"],
    multiprocess_mode="livemax",
)
WORKER_RESTARTS = Counter(
    "heliograph_worker_restarts",
    "Times the supervisor restarted a worker process that had exited.",
    ["worker"],
)

# -- HTTP (acceptors) ------------------------------------------------------

HTTP_REQUESTS = Counter(
    "heliograph_http_requests",
    "Requests answered, by route template (never the raw path) and status code.",
    ["method", "route", "status"],
)
HTTP_SECONDS = Histogram(
    "heliograph_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by route template.",
    ["method", "route"],
    buckets=_FAST,
)

# -- ingest ----------------------------------------------------------------

INGEST_PAYLOADS = Counter(
    "heliograph_ingest_payloads",
    "Ingest requests by protocol and outcome (accepted, refused, rate_limited), "
    "with the refusal's reason.",
    ["protocol", "outcome", "reason"],
)

# -- digest ----------------------------------------------------------------

DIGEST_PAYLOADS = Counter(
    "heliograph_digest_payloads",
    "Queued payloads digest took off the queue (stored or dead-lettered), by payload kind.",
    ["worker", "kind"],
)
DIGEST_EVENTS = Counter(
    "heliograph_digest_events",
    "Events, LLM calls and replay segments digest committed to the store, by kind.",
    ["worker", "kind"],
)
DIGEST_BATCH_SECONDS = Histogram(
    "heliograph_digest_batch_duration_seconds",
    "Time to decode, scrub, group and price one batch (before its commit).",
    ["worker"],
    buckets=_SLOW,
)
DIGEST_ERRORS = Counter(
    "heliograph_digest_errors",
    "Digest failures: batch_failed (retried payload by payload), store_unavailable "
    "(waits and retries), unexpected.",
    ["worker", "error"],
)
DIGEST_DEAD_LETTERED = Counter(
    "heliograph_digest_dead_lettered",
    "Payloads digest could not store and moved to the dead letters.",
    ["worker"],
)
DIGEST_LAST_BATCH = Gauge(
    "heliograph_digest_last_batch_timestamp_seconds",
    "When the worker last committed a batch (Unix time).",
    ["worker"],
    multiprocess_mode="max",
)
DIGEST_HEARTBEAT = Gauge(
    "heliograph_digest_heartbeat_timestamp_seconds",
    "When the worker's digest loop last went round, idle or not (Unix time).",
    ["worker"],
    multiprocess_mode="max",
)

# -- store -----------------------------------------------------------------

STORE_SECONDS = Histogram(
    "heliograph_store_operation_duration_seconds",
    "Store latency by operation: digest_commit (a batch's transaction, from submit "
    "to committed), retention_pass.",
    ["operation"],
    buckets=_SLOW,
)
RETENTION_DELETED = Counter(
    "heliograph_retention_deleted_rows",
    "Rows retention deleted, by kind (events, issues, llm_rows, replays, ...).",
    ["kind"],
)
RETENTION_PASSES = Counter(
    "heliograph_retention_passes",
    "Retention passes, by outcome (ok, failed).",
    ["outcome"],
)

# -- AI fixes and alerts ---------------------------------------------------

AI_FIX_CALLS = Counter(
    "heliograph_ai_fix_calls",
    "Calls to the AI-fix provider, by provider, model and outcome (ok, error).",
    ["provider", "model", "outcome"],
)
AI_FIX_TOKENS = Counter(
    "heliograph_ai_fix_tokens",
    "Tokens of AI-fix calls, by direction (input, output).",
    ["provider", "model", "direction"],
)
AI_FIX_COST = Counter(
    "heliograph_ai_fix_cost_usd",
    "What AI-fix calls cost in US dollars, priced like customers' LLM calls; calls "
    "of a model without a known price add nothing.",
    ["provider", "model"],
)
EVALUATOR_RUNS = Counter(
    "heliograph_evaluator_runs",
    "Generations evaluators looked at, by kind and outcome: passed, failed, scored "
    "(no threshold), skipped (no text, or the day's budget spent), error (the judge failed "
    "or answered nonsense).",
    ["kind", "outcome"],
)
EVALUATOR_COST = Counter(
    "heliograph_evaluator_cost_usd",
    "What LLM-as-judge evaluators' calls cost in US dollars (the evaluator's token prices, "
    "else the price table); calls of a model without a known price add nothing.",
    [],
)
ALERT_DELIVERIES = Counter(
    "heliograph_alert_deliveries",
    "Alert notifications by channel (email, slack, webhook) and outcome: sent, "
    "retried (failed, tried again later), failed (the last try failed).",
    ["channel", "outcome"],
)

_worker = "main"


def multiprocess_dir() -> str | None:
    """The directory the node's processes write their metrics to; None: this process only."""
    return os.environ.get(MULTIPROC_ENV) or None


def multiprocess_active() -> bool:
    """This process writes its values to the multiprocess directory (the variable was
    set before prometheus-client was first imported here)."""
    return values.ValueClass is not values.MutexValue


def worker_name() -> str:
    """This process's ``worker`` label (``main`` outside a supervised node)."""
    return _worker


def mark_worker_up(name: str) -> None:
    """Called once by a supervised child at start: its name, liveness and version."""
    global _worker
    _worker = name
    WORKER_UP.labels(name).set(1)
    WORKER_START.labels(name).set(time.time())
    BUILD_INFO.labels(__version__).set(1)
