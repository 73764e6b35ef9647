"""Per-call cost of capturing, ours beside posthog-python and sentry-sdk.

Prints median and p99 in microseconds for:

* ``capture("name", properties)`` — ``heliograph_sdk.capture`` vs ``posthog.capture``;
* ``capture_exception`` of an exception raised 10 frames deep — ours vs
  ``sentry_sdk.capture_exception`` (and ``posthog.capture_exception``).

No network: every client points at a dead local port (and sentry-sdk at a
no-op transport), so the figures are the calling thread's cost only. Not a
pass/fail test; targets: capture ≤ 5 µs median, capture_exception ≤ 100 µs.

    python bench/sdk.py [--n 20000]
"""

from __future__ import annotations

import argparse
import gc
import logging
import socket
import statistics
import time
from collections.abc import Callable

DEPTH = 10


def dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def measure(fn: Callable[[], object], n: int) -> tuple[float, float]:
    for _ in range(min(1000, n)):  # warm caches (linecache, in_app, imports)
        fn()
    samples = []
    gc.disable()
    try:
        for _ in range(n):
            start = time.perf_counter_ns()
            fn()
            samples.append(time.perf_counter_ns() - start)
    finally:
        gc.enable()
    samples.sort()
    return statistics.median(samples) / 1000, samples[int(len(samples) * 0.99)] / 1000


def raise_at_depth(depth: int) -> None:
    if depth <= 1:
        raise ValueError("benchmark failure")
    raise_at_depth(depth - 1)


def exception_at_depth() -> BaseException:
    """An exception whose traceback is ``DEPTH`` frames long."""
    try:
        raise_at_depth(DEPTH - 1)  # plus this frame = DEPTH
    except ValueError as exc:
        return exc
    raise AssertionError("unreachable")


def fresh(capture: Callable[[BaseException], object]) -> Callable[[], object]:
    """Capture a newly raised exception each call (SDKs skip ones already captured)."""

    def run() -> object:
        return capture(exception_at_depth())

    return run


def raise_only() -> object:
    return exception_at_depth()


def bench_heliograph(n: int, port: int) -> dict[str, tuple[float, float]]:
    import heliograph_sdk

    heliograph_sdk.init(
        api_key="bench",
        host=f"http://127.0.0.1:{port}",
        install_hooks=False,
        max_queue_size=10_000,
    )
    props = {"plan": "pro", "seats": 3}
    results = {
        "heliograph_sdk.capture": measure(lambda: heliograph_sdk.capture("bench", props), n),
        "heliograph_sdk.capture_exception (depth 10)": measure(
            fresh(heliograph_sdk.capture_exception), n // 4
        ),
    }
    heliograph_sdk.shutdown(0.1)
    return results


def bench_posthog(n: int, port: int) -> dict[str, tuple[float, float]]:
    import posthog

    client = posthog.Posthog(
        "bench",
        host=f"http://127.0.0.1:{port}",
        max_queue_size=10_000,
        max_retries=0,
        enable_exception_autocapture=False,
    )
    props = {"plan": "pro", "seats": 3}
    results = {
        "posthog.capture": measure(
            lambda: client.capture("bench", distinct_id="user-1", properties=props), n
        ),
        "posthog.capture_exception (depth 10)": measure(
            fresh(lambda e: client.capture_exception(e, distinct_id="user-1")), n // 4
        ),
    }
    client.shutdown = lambda: None  # type: ignore[method-assign]  # don't wait on the dead port
    return results


def bench_sentry(n: int, port: int) -> dict[str, tuple[float, float]]:
    import sentry_sdk
    from sentry_sdk.transport import Transport

    class NoOpTransport(Transport):
        def capture_envelope(self, envelope: object) -> None:
            pass

        def flush(self, timeout: float, callback: object = None) -> None:
            pass

    sentry_sdk.init(
        dsn=f"http://bench@127.0.0.1:{port}/1",
        transport=NoOpTransport,
        default_integrations=False,
        auto_enabling_integrations=False,
    )
    results = {
        "sentry_sdk.capture_exception (depth 10)": measure(
            fresh(sentry_sdk.capture_exception), n // 4
        ),
    }
    client = sentry_sdk.get_client()
    client.close(timeout=0)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="calls per capture benchmark")
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)  # posthog logs every failed send
    port = dead_port()
    rows: dict[str, tuple[float, float]] = {}
    rows["(baseline) raise at depth 10, no capture"] = measure(raise_only, args.n // 4)
    rows.update(bench_heliograph(args.n, port))
    rows.update(bench_posthog(args.n, port))
    rows.update(bench_sentry(args.n, port))
    width = max(len(name) for name in rows)
    print(f"{'call':<{width}}  {'median µs':>10}  {'p99 µs':>10}")
    for name, (median, p99) in rows.items():
        print(f"{name:<{width}}  {median:>10.2f}  {p99:>10.2f}")
    print("targets: heliograph capture ≤ 5 µs median; capture_exception depth 10 ≤ 100 µs median")
    print("(capture_exception rows include raising the exception: see the baseline row)")


if __name__ == "__main__":
    main()
