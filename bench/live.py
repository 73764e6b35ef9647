"""What the benchmarks share: a live server in a subprocess and a cheap load generator.

The load generator is a raw-socket HTTP/1.1 client over keep-alive
connections, so that it costs little of the machine's cores and the figures
measure the server. One asyncio client tops out near a few thousand
requests/s, so ``replay`` can split the connections among several generator
processes, pinned to cores the server does not use.

The server can be started under ``taskset`` (its whole process tree inherits
the affinity) and with ``--workers N``; its memory is measured over the whole
tree: the serve process and every descendant (acceptors, digest processes).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

# The cpus this bench may use, read before ``pinned`` narrows this process's own set.
USABLE_CPUS = frozenset(os.sched_getaffinity(0))


def parse_cpus(spec: str) -> set[int]:
    """A taskset-style cpu list ("0", "0-1", "2-13", "0,2,4-6") as a set of cpu numbers."""
    cpus: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        low, _, high = part.partition("-")
        try:
            first, last = int(low), int(high or low)
        except ValueError:
            raise SystemExit(f"bad cpu list {spec!r}: expected e.g. 0-1 or 2-13 or 0,2") from None
        if last < first:
            raise SystemExit(f"bad cpu list {spec!r}: {part} is backwards")
        cpus.update(range(first, last + 1))
    if not cpus:
        raise SystemExit(f"bad cpu list {spec!r}: no cpus")
    if not cpus <= USABLE_CPUS:
        missing = ",".join(str(c) for c in sorted(cpus - USABLE_CPUS))
        raise SystemExit(f"cpu list {spec!r}: cpus {missing} are not usable here")
    return cpus


@contextlib.contextmanager
def pinned(spec: str | None) -> Iterator[None]:
    """Pin this process (the bench itself: setup, polling) to ``spec`` while inside, if given."""
    if not spec:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, parse_cpus(spec))
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def add_scaling_options(parser: argparse.ArgumentParser) -> None:
    """The flags the live-server benches share for scaling runs."""
    group = parser.add_argument_group("scaling")
    group.add_argument(
        "--workers", type=int, default=None,
        help="pass --workers N to heliograph serve (default: not passed, the server decides)",
    )  # fmt: skip
    group.add_argument(
        "--server-cpus", metavar="LIST", default=None,
        help="start the server under taskset -c LIST, e.g. 0-1 (default: no pinning)",
    )  # fmt: skip
    group.add_argument(
        "--client-cpus", metavar="LIST", default=None,
        help="pin this script and its load generators to LIST, e.g. 12-15",
    )  # fmt: skip
    group.add_argument(
        "--clients", metavar="P", type=int, default=1,
        help="load-generator processes sharing the connections (default 1)",
    )  # fmt: skip


def setup_fields(args: argparse.Namespace) -> dict[str, Any]:
    """How a run was set up, stored with its figures so that runs can be compared."""
    return {
        "setup": {
            "workers": args.workers,
            "server_cpus": args.server_cpus,
            "server_cores": len(parse_cpus(args.server_cpus)) if args.server_cpus else None,
            "client_cpus": args.client_cpus,
            "clients": args.clients,
            "concurrency": args.concurrency,
            "host_cpus": os.cpu_count(),
            "usable_cpus": len(USABLE_CPUS),
        }
    }


def describe_setup(args: argparse.Namespace) -> str:
    """ ", server on cpus 0-1, 4 generator processes on cpus 12-15, --workers 2" or ""."""
    parts = []
    if args.server_cpus:
        parts.append(f"server on cpus {args.server_cpus}")
    if args.clients > 1 or args.client_cpus:
        where = f" on cpus {args.client_cpus}" if args.client_cpus else ""
        parts.append(f"{args.clients} generator process(es){where}")
    if args.workers is not None:
        parts.append(f"--workers {args.workers}")
    return "".join(", " + part for part in parts)


class Server:
    """``heliograph serve`` in a subprocess, on a free port, with its own data directory.

    ``workers``: passed as ``--workers N`` when given (otherwise the server's
    own default applies). ``cpus``: a taskset cpu list ("0", "0-1", "2-13");
    when given the server starts under ``taskset -c CPUS`` and every process
    it spawns inherits that affinity.
    """

    def __init__(self, data_dir: Path, workers: int | None = None, cpus: str | None = None) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.workers = workers
        self.cpus = cpus
        self.log_path = data_dir.with_suffix(".log")
        command = [sys.executable, "-m", "heliograph", "serve", "--port", str(self.port),
                   "--data-dir", str(data_dir)]  # fmt: skip
        if workers is not None:
            command += ["--workers", str(workers)]
        if cpus:
            parse_cpus(cpus)  # a clear error before taskset's
            # taskset execs the command: the Popen pid is the serve process itself.
            command = ["taskset", "-c", cpus, *command]
        log = self.log_path.open("w")
        self.process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "NO_COLOR": "1"}
        )
        log.close()
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(self.url + "/_health", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise SystemExit(
                        "server did not start:\n" + self.log_path.read_text()
                    ) from None
                time.sleep(0.05)
        printed = self.log_path.read_text()
        dsn = re.search(r"DSN for sentry-sdk: (\S+)", printed)
        assert dsn, printed
        self.dsn = dsn.group(1)
        self.key = self.dsn.split("://")[1].split("@")[0]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def backlog(self) -> int:
        return int(httpx.get(self.url + "/_health").json()["backlog"])

    def wait_for_digest(self, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while self.backlog():
            if time.monotonic() > deadline:
                raise SystemExit("digest did not catch up")
            time.sleep(0.02)

    # --- memory over the whole process tree ------------------------------------------------

    def pids(self) -> list[int]:
        """The serve process and all its live descendants."""
        return process_tree(self.process.pid)

    def peak_rss_mb(self) -> float:
        """Sum over the server's process tree of each process's peak RSS (VmHWM), in MiB.

        Each process's own peak, added up: an upper bound on the tree's peak at
        any one moment, and pages shared between processes (fork) count once per
        process. Processes that already exited are not counted.
        """
        return _sum_status(self.pids(), "VmHWM")

    def current_rss_mb(self) -> float:
        """Sum over the server's process tree of the current RSS (VmRSS), in MiB."""
        return _sum_status(self.pids(), "VmRSS")

    def current_pss_mb(self) -> float:
        """Sum of the current proportional set size (shared pages split), in MiB; NaN if unknown."""
        total, seen = 0, False
        for pid in self.pids():
            try:
                text = Path(f"/proc/{pid}/smaps_rollup").read_text()
            except OSError:
                continue
            match = re.search(r"^Pss:\s+(\d+) kB", text, re.M)
            if match:
                total += int(match.group(1))
                seen = True
        return total / 1024 if seen else float("nan")

    def memory(self) -> dict[str, Any]:
        """The tree's memory figures, for printing and the results JSON."""
        return {
            "server_processes": len(self.pids()),
            "peak_rss_mb": round(self.peak_rss_mb(), 1),
            "rss_mb": round(self.current_rss_mb(), 1),
            "pss_mb": round(self.current_pss_mb(), 1),
        }

    def stop(self) -> None:
        """SIGTERM the serve process; then make sure none of its tree outlives it."""
        tree = [(pid, _start_time(pid)) for pid in self.pids() if pid != self.process.pid]
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            print("bench: server ignored SIGTERM for 30 s; killing it", file=sys.stderr)
            self.process.kill()
            self.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        left = [(p, t) for p, t in tree if _alive(p, t)]
        while left and time.monotonic() < deadline:
            time.sleep(0.05)
            left = [(p, t) for p, t in left if _alive(p, t)]
        if left:
            pids = ", ".join(str(p) for p, _ in left)
            print(f"bench: server processes {pids} outlived the server; killing", file=sys.stderr)
            for pid, _ in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def process_tree(root: int) -> list[int]:
    """``root`` and its descendants: /proc/<pid>/task/<tid>/children, else a ppid scan."""
    try:
        found, todo = [], [root]
        while todo:
            pid = todo.pop()
            found.append(pid)
            for task in os.listdir(f"/proc/{pid}/task"):
                try:
                    children = Path(f"/proc/{pid}/task/{task}/children").read_text().split()
                except FileNotFoundError:
                    if not Path(f"/proc/{pid}/task/{task}").exists():
                        continue  # the thread ended
                    raise  # the kernel has no children files
                todo.extend(int(child) for child in children)
        return found
    except FileNotFoundError:
        pass
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":
            parents.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, []))
    return found


def _sum_status(pids: list[int], name: str) -> float:
    total, seen = 0, False
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue  # exited meanwhile
        match = re.search(rf"{name}:\s+(\d+) kB", status)
        if match:
            total += int(match.group(1))
            seen = True
    return total / 1024 if seen else float("nan")


def _start_time(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int, start_time: str | None) -> bool:
    """Still running, and still the same process (not a reused pid), not a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z" and fields[19] == start_time


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the load generator --------------------------------------------------------------------


async def _connection(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    requests: list[bytes],
    latencies: list[float],
    statuses: dict[int, int],
) -> None:
    """Send requests one after the other on one keep-alive connection."""
    try:
        for request in requests:
            started = time.perf_counter()
            writer.write(request)
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            status = int(status_line.split()[1])
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


async def _run_connections(
    port: int,
    chunks: list[list[bytes]],
    latencies: list[float],
    statuses: dict[int, int],
    ready: Any = None,
) -> tuple[float, float]:
    """Connect all, call ``ready()`` (may block), then replay; (started, finished) monotonic."""
    pairs = [await asyncio.open_connection("127.0.0.1", port) for _ in chunks]
    if ready is not None:
        ready()
    started = time.monotonic()
    await asyncio.gather(
        *(
            _connection(r, w, c, latencies, statuses)
            for (r, w), c in zip(pairs, chunks, strict=True)
        )
    )
    return started, time.monotonic()


def _generator(
    index: int,
    port: int,
    chunks: list[list[bytes]],
    cpus: set[int] | None,
    barrier: Any,
    results: Any,
) -> None:
    """One load-generator process: pin, connect, wait for the start signal, replay, report."""
    try:
        if cpus:
            os.sched_setaffinity(0, cpus)
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        started, finished = asyncio.run(
            _run_connections(port, chunks, latencies, statuses, lambda: barrier.wait(120))
        )
        results.put((index, started, finished, latencies, statuses, None))
    except BaseException:
        barrier.abort()
        results.put((index, 0.0, 0.0, [], {}, traceback.format_exc()))


@dataclass
class Replay:
    """A replay's outcome. ``started``/``finished`` are ``time.monotonic()`` readings."""

    seconds: float
    latencies: list[float]  # sorted, seconds
    statuses: dict[int, int]
    started: float
    finished: float
    processes: int = 1
    cpus: str | None = None


def replay(
    port: int,
    requests: list[bytes],
    concurrency: int,
    processes: int = 1,
    cpus: str | None = None,
) -> Replay:
    """Send all over ``concurrency`` keep-alive connections.

    With ``processes`` > 1, or a ``cpus`` list, the connections are split among
    that many generator processes (spawned, each pinned to ``cpus`` when
    given). They connect first; the clock starts when a shared barrier
    releases them all and stops when the last one finishes.
    """
    concurrency = max(1, min(concurrency, len(requests)))
    chunks = [requests[i::concurrency] for i in range(concurrency)]
    processes = max(1, min(processes, concurrency))
    if processes == 1 and not cpus:
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        started, finished = asyncio.run(_run_connections(port, chunks, latencies, statuses))
        return Replay(finished - started, sorted(latencies), statuses, started, finished)

    cpu_set = parse_cpus(cpus) if cpus else None
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes + 1)
    results = context.Queue()
    workers = [
        context.Process(
            target=_generator,
            args=(index, port, chunks[index::processes], cpu_set, barrier, results),
            daemon=True,
        )
        for index in range(processes)
    ]
    for worker in workers:
        worker.start()
    try:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(120)  # broken when a generator failed: its report says why
        released = time.monotonic()
        reports = []
        while len(reports) < processes:
            try:
                reports.append(results.get(timeout=1))
            except queue.Empty:
                if any(w.is_alive() for w in workers):
                    continue
                try:  # all gone: what they sent last may still be in the pipe
                    reports.append(results.get(timeout=2))
                except queue.Empty:
                    raise SystemExit("load generators died without reporting") from None
        errors = [report[5] for report in reports if report[5]]
        if errors:
            raise SystemExit("load generator failed:\n" + errors[0])
    finally:
        for worker in workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.kill()
    started = min([released, *(report[1] for report in reports)])
    finished = max(report[2] for report in reports)
    all_latencies: list[float] = []
    all_statuses: dict[int, int] = {}
    for report in reports:
        all_latencies.extend(report[3])
        for status, count in report[4].items():
            all_statuses[status] = all_statuses.get(status, 0) + count
    return Replay(
        finished - started,
        sorted(all_latencies),
        all_statuses,
        started,
        finished,
        processes,
        cpus,
    )
