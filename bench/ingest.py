"""Ingest benchmark: replay real sentry-sdk envelopes against a live server.

    python bench/ingest.py [--requests 20000] [--concurrency 32] [--workers N]
        [--server-cpus LIST] [--client-cpus LIST] [--clients P]

Captures envelopes from the real ``sentry-sdk`` (typical Python errors with
local variables, breadcrumbs and context lines, gzip-compressed as the SDK
sends them), starts ``heliograph serve`` on a free port with an empty data
directory, and replays them over keep-alive connections from a small
raw-socket client (so the load generator costs little of the machine's two
cores). Prints accepted/s, digested/s, ack latency p50/p95/p99 and the
memory of the server's whole process tree (sum of each process's peak RSS,
and the RSS and PSS at the end), and compares with the previous run stored in
``bench/results/ingest.json``. Not a pass/fail test.

For scaling runs: ``--server-cpus`` starts the server under ``taskset -c``,
``--client-cpus`` pins this script and its ``--clients`` load-generator
processes elsewhere, ``--workers`` is passed to ``heliograph serve`` (only
when given). See bench/README.md.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sentry_sdk
from live import Server, add_scaling_options, describe_setup, pinned, replay, setup_fields
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

RESULTS = Path(__file__).parent / "results" / "ingest.json"


class _Capture(Transport):
    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.envelopes: list[bytes] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope.serialize())


def _app_error(kind: int, depth: int, payload: dict[str, Any]) -> None:
    request_id = uuid.uuid4().hex  # noqa: F841 - a local variable the SDK captures
    if depth:
        _app_error(kind, depth - 1, payload)
        return
    if kind == 0:
        payload["total"] / payload["count"]
    elif kind == 1:
        payload["missing"]
    elif kind == 2:
        json.loads(payload["raw"])
    else:
        raise RuntimeError(f"upstream returned {payload['status']} for order {payload['order']}")


def capture_envelopes(count: int) -> list[bytes]:
    """Envelopes exactly as sentry-sdk serialises them, for distinct real errors."""
    transport = _Capture()
    client = sentry_sdk.Client(
        dsn="http://public@127.0.0.1:9/1",
        transport=transport,
        include_local_variables=True,
        release="shop@1.4.2",
        environment="production",
        default_integrations=False,
    )
    scope = sentry_sdk.get_current_scope()
    scope.set_client(client)
    for crumb in range(20):
        sentry_sdk.add_breadcrumb(category="http", message=f"GET /api/items/{crumb}", level="info")
    sentry_sdk.set_user({"id": "u-1", "email": "user@example.com"})
    for index in range(count):
        payload = {
            "total": 10,
            "count": 0,
            "raw": "{not json",
            "status": 500 + index % 4,
            "order": index,
            "items": [{"sku": f"SKU-{i}", "qty": i} for i in range(10)],
        }
        try:
            _app_error(index % 4, 6 + index % 5, payload)
        except Exception as exc:
            sentry_sdk.capture_exception(exc)
    client.flush(timeout=5)
    return transport.envelopes


def _request(port: int, project: str, key: str, body: bytes) -> bytes:
    head = (
        f"POST /api/{project}/envelope/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"X-Sentry-Auth: Sentry sentry_version=7, sentry_client=sentry.python/2, "
        f"sentry_key={key}\r\nContent-Type: application/x-sentry-envelope\r\n"
        f"Content-Encoding: gzip\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--results", type=Path, default=RESULTS, help=f"results JSON (default {RESULTS})"
    )
    add_scaling_options(parser)
    args = parser.parse_args()

    templates = capture_envelopes(200)
    raw_sizes = [len(e) for e in templates]
    print(
        f"captured {len(templates)} sentry-sdk envelopes, "
        f"median {statistics.median(raw_sizes) / 1024:.1f} KiB uncompressed"
    )
    with tempfile.TemporaryDirectory() as tmp, pinned(args.client_cpus):
        server = Server(Path(tmp) / "data", workers=args.workers, cpus=args.server_cpus)
        try:
            project = server.dsn.rsplit("/", 1)[1]
            bodies = []
            for _ in range(args.requests):
                template = random.choice(templates)
                old_id = json.loads(template.split(b"\n", 1)[0])["event_id"].encode()
                bodies.append(gzip.compress(template.replace(old_id, uuid.uuid4().hex.encode()), 6))
            compressed = statistics.median(len(b) for b in bodies) / 1024
            print(
                f"replaying {args.requests} envelopes ({compressed:.1f} KiB gzip median) "
                f"at concurrency {args.concurrency}{describe_setup(args)}"
            )
            requests = [_request(server.port, project, server.key, b) for b in bodies]
            run = replay(server.port, requests, args.concurrency, args.clients, args.client_cpus)
            server.wait_for_digest()
            digest_seconds = time.monotonic() - run.started
            memory = server.memory()
        finally:
            server.stop()
    accept_seconds, latencies, statuses = run.seconds, run.latencies, run.statuses

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    result = {
        "accepted_per_s": round(statuses.get(200, 0) / accept_seconds),
        "digested_per_s": round(statuses.get(200, 0) / digest_seconds),
        "ack_p50_ms": round(pct(0.50), 2),
        "ack_p95_ms": round(pct(0.95), 2),
        "ack_p99_ms": round(pct(0.99), 2),
        "peak_rss_mb": memory["peak_rss_mb"],
        "rss_mb": memory["rss_mb"],
        "pss_mb": memory["pss_mb"],
        "server_processes": memory["server_processes"],
        "statuses": statuses,
        **setup_fields(args),
    }
    previous = json.loads(args.results.read_text()) if args.results.exists() else None
    for name, value in result.items():
        if name == "setup":
            continue
        before = f"   (previous: {previous[name]})" if previous and name in previous else ""
        print(f"{name:>16}: {value}{before}")
    if previous and previous.get("setup") != result["setup"]:
        print(f"  (previous run's setup differed: {previous.get('setup')})")
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
