"""LLM analytics benchmark: capture and OTLP ingest end to end, and dashboard queries at 1M.

    python bench/analytics.py [--batches 400] [--otlp-requests 400] [--rows 1000000]
        [--workers N] [--server-cpus LIST] [--client-cpus LIST] [--clients P]

Three parts, each on a fresh data directory:

1. ``/batch/``: PostHog batches of 100 ``$ai_generation`` events (the shape
   posthog-python sends), posted over keep-alive connections by a small
   raw-socket client at ``--concurrency``. Reports events/s accepted (2xx)
   and, separately, events/s digested (until the backlog is empty).
2. OTLP: ``ExportTraceServiceRequest`` protobuf bodies, each holding traces of
   10 GenAI spans (an agent span, tool spans, chat spans with token usage),
   with the project key as ``Authorization: Bearer``. Reports spans/s
   persisted end to end: from the first request to an empty digest backlog.
3. Dashboard: ``--rows`` generations spread over 30 days bulk-loaded through
   the store's own write path (``write_llm_rows``: typed rows and rollups),
   then every dashboard query timed repeatedly, in-process and as full page
   loads through a live server.

Parts 1 and 2 start ``heliograph serve`` as a subprocess on a free port
and print the memory of its whole process tree (sum of each process's peak
RSS). For scaling runs they take ``--workers`` (passed to the server only when
given), ``--server-cpus`` (taskset), ``--client-cpus`` and ``--clients`` (load
generator processes and where they run); the dashboard part ignores these.
See bench/README.md.
Prints figures and compares them with the previous run saved in
``bench/results/analytics.json``. Not a pass/fail test; targets on a 2-core
machine: >= 20,000 events/s accepted, >= 10,000 OTLP spans/s persisted,
dashboard p95 <= 300 ms.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
from live import Server, add_scaling_options, describe_setup, pinned, replay, setup_fields

RESULTS = Path(__file__).parent / "results" / "analytics.json"
MODELS = (
    ("gpt-4o-mini", "openai", 0.9),
    ("gpt-4.1", "openai", 2.2),
    ("claude-sonnet-4-20250514", "anthropic", 3.0),
    ("claude-3-5-haiku-20241022", "anthropic", 1.1),
    ("gemini-2.0-flash", "google", 0.8),
    ("acme-llm-7b-instruct", "self-hosted", 1.6),
)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))]


def _http(method: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return (head + "\r\n").encode() + body


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, tz=timezone.utc).isoformat()


# --- part 1: PostHog /batch/ --------------------------------------------------------------


def posthog_bodies(key: str, batches: int, rng: random.Random) -> list[bytes]:
    """posthog-python's /batch/ bodies: 100 generations each, 5 per trace."""
    now = time.time()
    bodies = []
    for _ in range(batches):
        events = []
        for index in range(100):
            if index % 5 == 0:
                trace_id = uuid.uuid4().hex
            model, provider, median = rng.choice(MODELS)
            events.append(
                {
                    "event": "$ai_generation",
                    "distinct_id": f"user-{rng.randint(1, 5000)}",
                    "uuid": str(uuid.uuid4()),
                    "timestamp": _iso(now - rng.uniform(0, 3600)),
                    "properties": {
                        "$ai_trace_id": trace_id,
                        "$ai_model": model,
                        "$ai_provider": provider,
                        "$ai_input_tokens": rng.randint(100, 4000),
                        "$ai_output_tokens": rng.randint(10, 800),
                        "$ai_latency": round(median * math.exp(rng.gauss(0, 0.5)), 4),
                        "$ai_http_status": 200,
                        "$ai_base_url": "https://api.openai.com/v1",
                        "$ai_model_parameters": {"temperature": 0.2, "max_tokens": 1024},
                        "$lib": "posthog-python",
                        "$lib_version": "7.0.0",
                        "$process_person_profile": True,
                    },
                }
            )
        payload = {
            "api_key": key,
            "batch": events,
            "sent_at": _iso(now),
            "historical_migration": False,
        }
        bodies.append(json.dumps(payload).encode())
    return bodies


def bench_batch(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    server = Server(root / "batch", workers=args.workers, cpus=args.server_cpus)
    try:
        bodies = posthog_bodies(server.key, args.batches, random.Random(1))
        requests = [
            _http("POST", server.port, "/batch/", body, {"Content-Type": "application/json"})
            for body in bodies
        ]
        print(f"/batch/: {len(bodies)} batches of 100 generations "
              f"({statistics.median(len(b) for b in bodies) / 1024:.0f} KiB each) "
              f"at concurrency {args.concurrency}{describe_setup(args)}")  # fmt: skip
        run = replay(server.port, requests, args.concurrency, args.clients, args.client_cpus)
        server.wait_for_digest()
        total = time.monotonic() - run.started
        memory = server.memory()
    finally:
        server.stop()
    seconds, latencies, statuses = run.seconds, run.latencies, run.statuses
    accepted = statuses.get(200, 0) * 100
    return {
        "batch_events_per_s": round(accepted / seconds),
        "batch_digested_events_per_s": round(accepted / total),
        "batch_ack_p50_ms": round(_pct(latencies, 0.5) * 1000, 1),
        "batch_ack_p95_ms": round(_pct(latencies, 0.95) * 1000, 1),
        "batch_statuses": statuses,
        "batch_peak_rss_mb": memory["peak_rss_mb"],
        "batch_rss_mb": memory["rss_mb"],
        "batch_server_processes": memory["server_processes"],
        "batch_setup": setup_fields(args)["setup"],
    }


# --- part 2: OTLP -----------------------------------------------------------------------------


def otlp_bodies(requests: int, traces_per_request: int, rng: random.Random) -> list[bytes]:
    """ExportTraceServiceRequest bodies: traces of 10 GenAI spans (agent, 3 tools, 6 chats)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

    def kv(key: str, value: str | int) -> KeyValue:
        if isinstance(value, int):
            return KeyValue(key=key, value=AnyValue(int_value=value))
        return KeyValue(key=key, value=AnyValue(string_value=value))

    bodies = []
    now = time.time_ns()
    for _ in range(requests):
        request = ExportTraceServiceRequest()
        resource_spans = request.resource_spans.add()
        resource_spans.resource.attributes.extend(
            [kv("service.name", "support-bot"), kv("deployment.environment.name", "production")]
        )
        scope = resource_spans.scope_spans.add()
        scope.scope.name = "bench"
        for _ in range(traces_per_request):
            trace_id, agent_id = os.urandom(16), os.urandom(8)
            start = now - rng.randint(0, 3600) * 10**9
            for index in range(10):
                span = scope.spans.add()
                span.trace_id = trace_id
                span.span_id = agent_id if index == 0 else os.urandom(8)
                span.start_time_unix_nano = start + index * 50_000_000
                span.end_time_unix_nano = span.start_time_unix_nano + rng.randint(20, 3000) * 10**6
                if index == 0:
                    span.name = "invoke_agent support"
                    span.attributes.extend([kv("gen_ai.operation.name", "invoke_agent")])
                    continue
                span.parent_span_id = agent_id
                if index in (3, 6, 9):
                    span.name = "execute_tool lookup_order"
                    span.attributes.extend([kv("gen_ai.operation.name", "execute_tool")])
                    continue
                model, provider, _ = rng.choice(MODELS)
                span.name = f"chat {model}"
                span.attributes.extend(
                    [
                        kv("gen_ai.operation.name", "chat"),
                        kv("gen_ai.provider.name", provider),
                        kv("gen_ai.request.model", model),
                        kv("gen_ai.usage.input_tokens", rng.randint(100, 4000)),
                        kv("gen_ai.usage.output_tokens", rng.randint(10, 800)),
                    ]
                )
        bodies.append(request.SerializeToString())
    return bodies


def bench_otlp(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    server = Server(root / "otlp", workers=args.workers, cpus=args.server_cpus)
    try:
        bodies = otlp_bodies(args.otlp_requests, args.otlp_traces, random.Random(2))
        headers = {
            "Content-Type": "application/x-protobuf",
            "Authorization": f"Bearer {server.key}",
        }
        requests = [_http("POST", server.port, "/v1/traces", body, headers) for body in bodies]
        spans = len(bodies) * args.otlp_traces * 10
        print(f"OTLP: {len(bodies)} requests of {args.otlp_traces} traces x 10 spans "
              f"({statistics.median(len(b) for b in bodies) / 1024:.0f} KiB each) "
              f"at concurrency {args.concurrency}{describe_setup(args)}")  # fmt: skip
        run = replay(server.port, requests, args.concurrency, args.clients, args.client_cpus)
        server.wait_for_digest()
        total = time.monotonic() - run.started
        memory = server.memory()
    finally:
        server.stop()
    seconds, latencies, statuses = run.seconds, run.latencies, run.statuses
    ok = statuses.get(200, 0) * args.otlp_traces * 10
    assert ok == spans, statuses
    return {
        "otlp_spans_accepted_per_s": round(ok / seconds),
        "otlp_spans_persisted_per_s": round(ok / total),
        "otlp_ack_p95_ms": round(_pct(latencies, 0.95) * 1000, 1),
        "otlp_statuses": statuses,
        "otlp_peak_rss_mb": memory["peak_rss_mb"],
        "otlp_rss_mb": memory["rss_mb"],
        "otlp_server_processes": memory["server_processes"],
        "otlp_setup": setup_fields(args)["setup"],
    }


# --- part 3: dashboard queries over 1M generations ----------------------------------------

# USD per input / output token, for the bulk rows (the self-hosted model has no price).
PRICES = {
    "gpt-4o-mini": (0.15e-6, 0.6e-6),
    "gpt-4.1": (2e-6, 8e-6),
    "claude-sonnet-4-20250514": (3e-6, 15e-6),
    "claude-3-5-haiku-20241022": (0.8e-6, 4e-6),
    "gemini-2.0-flash": (0.1e-6, 0.4e-6),
}


def bulk_load(store: Any, project_id: int, rows: int, now: float) -> float:
    """``rows`` generations over the last 30 days through ``write_llm_rows``; returns seconds."""
    from heliograph.store.llm_records import LlmEventRecord
    from heliograph.store.sqlite.llm_write import write_llm_rows

    rng = random.Random(3)
    span = 30 * 86400.0
    start = now - span
    chunk = 20_000
    began = time.perf_counter()
    trace_id = session_id = ""
    for offset in range(0, rows, chunk):
        batch = []
        for index in range(offset, min(offset + chunk, rows)):
            if index % 5 == 0:
                trace_id = uuid.uuid4().hex
                if index % 15 == 0:
                    session_id = uuid.uuid4().hex[:16]
            model, provider, median = MODELS[min(int(rng.paretovariate(1.2)) - 1, len(MODELS) - 1)]
            latency = median * math.exp(rng.gauss(0, 0.5))
            stamp = start + span * index / rows + rng.uniform(0, 30)
            tokens_in, tokens_out = rng.randint(100, 4000), rng.randint(10, 800)
            price = PRICES.get(model)
            failed = rng.random() < 0.02
            batch.append(
                LlmEventRecord(
                    id=index + 1, project_id=project_id, event_id=uuid.uuid4().hex,
                    name="$ai_generation",
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
        store.db.write(lambda conn, rows=batch: write_llm_rows(conn, rows))
    return time.perf_counter() - began


def _timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    fn()  # warm the page cache and the statement cache
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    times.sort()
    return _pct(times, 0.5) * 1000, _pct(times, 0.95) * 1000


def bench_dashboard(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    from heliograph.bootstrap import ensure_defaults
    from heliograph.query.llm import (
        build_dashboard,
        build_generation_list,
        build_session_list,
        build_trace_list,
    )
    from heliograph.query.llm_detail import build_trace_page
    from heliograph.store.llm_records import TraceFilter
    from heliograph.store.sqlite import SQLiteStore

    data_dir = root / "dashboard"
    data_dir.mkdir()
    store = SQLiteStore(data_dir / "heliograph.sqlite3")
    now = time.time()
    project = ensure_defaults(store, "http://127.0.0.1").project
    load_seconds = bulk_load(store, project.id, args.rows, now)
    size_mb = (data_dir / "heliograph.sqlite3").stat().st_size / 2**20
    print(f"dashboard: loaded {args.rows:,} generations in {load_seconds:.1f} s "
          f"({args.rows / load_seconds:,.0f} rows/s, {size_mb:,.0f} MB)")  # fmt: skip
    some_trace = store.llm_traces(TraceFilter(project.id), limit=1)[0][0].trace_id
    hourly, by_model = {"range": "7d", "bucket": "hour"}, {"model": "gemini-2.0-flash"}
    queries: dict[str, Callable[[], object]] = {
        "dashboard 24h/hour": lambda: build_dashboard(store, project, {"range": "24h"}),
        "dashboard 7d/day": lambda: build_dashboard(store, project, {"range": "7d"}),
        "dashboard 7d/hour": lambda: build_dashboard(store, project, hourly),
        "dashboard 30d/day": lambda: build_dashboard(store, project, {"range": "30d"}),
        "generations": lambda: build_generation_list(store, project, {}),
        "generations by model": lambda: build_generation_list(store, project, by_model),
        "generations by user": lambda: build_generation_list(store, project, {"user": "user-17"}),
        "generations errors": lambda: build_generation_list(store, project, {"errors": "1"}),
        "traces": lambda: build_trace_list(store, project, {}),
        "sessions 7d": lambda: build_session_list(store, project, {"range": "7d"}),
        "trace tree": lambda: build_trace_page(store, project, some_trace),
    }  # fmt: skip
    result: dict[str, Any] = {
        "dashboard_rows": args.rows,
        "dashboard_load_rows_per_s": round(args.rows / load_seconds),
        "queries_ms": {},
    }
    dashboard_p95 = []
    for name, fn in queries.items():
        p50, p95 = _timed(fn, args.repeat)
        result["queries_ms"][name] = [round(p50, 1), round(p95, 1)]
        if name.startswith("dashboard"):
            dashboard_p95.append(p95)
        print(f"  {name:>22}: p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")
    result["dashboard_query_p95_ms"] = round(max(dashboard_p95), 1)
    store.close()
    result["dashboard_page_p95_ms"] = _page_loads(data_dir, args.repeat)
    return result


def _page_loads(data_dir: Path, repeat: int) -> float:
    """Full dashboard page loads (query, charts, template) through a live server."""
    server = Server(data_dir)
    try:
        link = subprocess.run(
            [sys.executable, "-m", "heliograph", "login-link", "--data-dir", str(data_dir)],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        worst = 0.0
        with httpx.Client(base_url=server.url, timeout=30) as client:
            client.get("/login/link/" + link.rsplit("/", 1)[1])
            for query in ("range=24h", "range=7d", "range=30d"):
                url = "/default/default/llm/?" + query
                assert client.get(url).status_code == 200
                p50, p95 = _timed(lambda url=url: client.get(url), repeat)
                print(f"  {'page ' + query:>22}: p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")
                worst = max(worst, p95)
        return round(worst, 1)
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=600, help="/batch/ requests of 100 events")
    parser.add_argument("--otlp-requests", type=int, default=800)
    parser.add_argument("--otlp-traces", type=int, default=5, help="traces of 10 spans per request")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rows", type=int, default=1_000_000, help="generations for the dashboard")
    parser.add_argument("--repeat", type=int, default=30, help="timings per dashboard query")
    parser.add_argument(
        "--skip", action="append", default=[], choices=["batch", "otlp", "dashboard"]
    )
    parser.add_argument(
        "--results", type=Path, default=RESULTS, help=f"results JSON (default {RESULTS})"
    )
    add_scaling_options(parser)
    args = parser.parse_args()

    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with pinned(args.client_cpus):
            if "batch" not in args.skip:
                result.update(bench_batch(args, root))
            if "otlp" not in args.skip:
                result.update(bench_otlp(args, root))
        if "dashboard" not in args.skip:
            result.update(bench_dashboard(args, root))

    previous = json.loads(args.results.read_text()) if args.results.exists() else {}
    print()
    for name, value in result.items():
        if name == "queries_ms" or name.endswith("_setup"):
            continue
        before = f"   (previous: {previous[name]})" if name in previous else ""
        print(f"{name:>30}: {value}{before}")
    for name in ("batch_setup", "otlp_setup"):
        if name in result and name in previous and previous[name] != result[name]:
            print(f"  (previous {name} differed: {previous[name]})")
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps({**previous, **result}, indent=2) + "\n")


if __name__ == "__main__":
    main()
