"""One node of Heliograph: a supervisor, N acceptor processes, N digest processes.

``heliograph serve`` is the supervisor. It claims the port, then starts N
acceptor processes (:mod:`heliograph.acceptor`) that listen on it side by
side, each appending to its own queue shard; and it starts N digest
processes (:mod:`heliograph.digest.process`) that drain those shards. One
Python process is capped at about one core by its GIL: this is how a node
uses every core it is given.

The supervisor does no request work. It restarts a child that dies (after a
short pause, so a crash loop does not spin), stops acceptors first on
shutdown (no new work), then digest (each finishes its batch in flight), and
its children exit by themselves when it is gone, even after ``kill -9``.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from heliograph.config import Settings
from heliograph.ingest.shared_buckets import reset_shared_buckets

if TYPE_CHECKING:
    from heliograph.metrics_server import MetricsServer

logger = logging.getLogger(__name__)

# Files in the data directory through which the acceptors share node-wide state:
# the rate-limit buckets (emptied at each start) and the keys' change counter.
RATE_LIMITS_FILE = "ratelimits.bin"
KEYS_CHANGED_FILE = "keys-changed.bin"
# Where the processes write their metrics (prometheus-client's multiprocess
# files): runtime state, emptied at each start, never worth a backup.
METRICS_DIR = Path("run") / "metrics"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # heliograph.metrics.MULTIPROC_ENV, not imported here

RESTART_DELAY_SECONDS = 1.0
# A child exits with this status when restarting it cannot help: the store was
# migrated by a newer Heliograph (its message is in the log). The node stops.
REFUSED_EXIT_STATUS = 3
STOP_TIMEOUT_SECONDS = 15.0
LISTEN_BACKLOG = 2048


def node_settings(
    parser: argparse.ArgumentParser, argv: list[str] | None = None
) -> tuple[argparse.Namespace, Settings]:
    """Parse a child's arguments: its own, then the node's settings the supervisor passes.

    Everything else comes from the environment the child inherits (a
    ``--config`` file was loaded into it by the supervisor).
    """
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--public-url")
    args = parser.parse_args(argv)
    settings = replace(Settings.from_env(), data_dir=args.data_dir)
    for name in ("host", "port", "public_url"):
        if getattr(args, name) is not None:
            settings = replace(settings, **{name: getattr(args, name)})
    return args, settings


def default_workers() -> int:
    """The cores this process may run on (``taskset`` and cgroup cpusets count)."""
    return max(1, len(os.sched_getaffinity(0)))


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def reserve_port(host: str, port: int) -> socket.socket:
    """Claim the node's port, or raise ``OSError`` when another program has it.

    The socket is bound with ``SO_REUSEPORT`` but never listens: the kernel
    hands connections only to listening sockets, so it takes none, while a
    program that is not one of this user's ``SO_REUSEPORT`` listeners can no
    longer bind the port. Each acceptor listens on a socket of its own
    (:func:`listen`).
    """
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def listen(host: str, port: int) -> socket.socket:
    """One acceptor's listening socket on the node's port.

    Every acceptor listens on its own socket with ``SO_REUSEPORT``, and the
    kernel spreads new connections evenly between them. With one socket
    shared by all, whichever acceptor woke first took every connection
    waiting (asyncio accepts them in a loop): a burst of keep-alive clients
    could land on one acceptor, and so on one queue shard and one digest
    worker, while the others idled.
    """
    return socket.create_server(
        (host, port), family=_family(host), backlog=LISTEN_BACKLOG, reuse_port=True
    )


class MetricsAddressError(RuntimeError):
    """``HELIOGRAPH_METRICS_ADDRESS`` cannot be served; the message says why."""


@dataclass
class Child:
    """One supervised child process: its command line and the process running it now."""

    name: str
    command: list[str]
    worker: str = ""  # its ``worker`` label in the metrics: acceptor-N, digest-N
    pass_fds: tuple[int, ...] = ()
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def spawn(self, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(self.command, pass_fds=self.pass_fds, env=env)

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def exited(self) -> int | None:
        """The exit status if the process has ended, else None."""
        return None if self.process is None else self.process.poll()

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()

    def wait(self, deadline: float) -> None:
        """Wait until ``deadline`` (monotonic), then SIGKILL."""
        if self.process is None:
            return
        try:
            self.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            logger.warning("%s did not stop in time; killing it", self.name)
            self.process.kill()
            self.process.wait()


class Node:
    """Runs and supervises the acceptor and digest processes of one node."""

    def __init__(self, settings: Settings, workers: int, sock: socket.socket) -> None:
        self.settings = settings
        self.workers = workers
        self.socket = sock
        node = ["--data-dir", str(settings.data_dir), "--host", settings.host]
        node += ["--port", str(settings.port)]  # links and DSNs are built from the address
        if settings.public_url:
            node += ["--public-url", settings.public_url]
        child = [*node, "--parent-pid", str(os.getpid())]
        # The children are modules run directly, not the `heliograph` command
        # line: each imports only what it needs (every process counts).
        python = [sys.executable, "-m"]
        self._bootstrap = [*python, "heliograph", "bootstrap", *node]
        acceptor = [*python, "heliograph.acceptor", "--acceptors", str(workers)]
        digest = [*python, "heliograph.digest.process", "--workers", str(workers)]
        self.acceptors = [
            Child(f"acceptor {n}", [*acceptor, "--shard", str(n), *child], f"acceptor-{n}")
            for n in range(workers)
        ]
        self.digesters = [
            Child(f"digest worker {n}", [*digest, "--worker", str(n), *child], f"digest-{n}")
            for n in range(workers)
        ]
        self.metrics_dir = settings.data_dir / METRICS_DIR
        self.metrics_server: MetricsServer | None = None
        self._stopping = threading.Event()
        # Set when a child refused the data (REFUSED_EXIT_STATUS): serve then exits non-zero.
        self.refused = False

    def bootstrap(self) -> bool:
        """Migrate the store, create the defaults on a first start, print the welcome.

        In a child of its own, so that the store's code and the password
        hashing's memory never become part of the long-lived supervisor.
        """
        return subprocess.run(self._bootstrap, check=False).returncode == 0

    @property
    def children(self) -> list[Child]:
        return [*self.acceptors, *self.digesters]

    def start(self) -> None:
        # The node's own files live here whatever the store is (a server
        # database creates nothing in it).
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        reset_shared_buckets(self.settings.data_dir / RATE_LIMITS_FILE)
        self._start_metrics()
        for child in self.children:
            child.spawn(self.child_env)

    @property
    def child_env(self) -> dict[str, str]:
        """The children's environment: this process's, and where their metrics go."""
        return {**os.environ, MULTIPROC_ENV: str(self.metrics_dir.resolve())}

    def _start_metrics(self) -> None:
        """Empty the metrics directory (children get it in :attr:`child_env`); serve it
        apart if asked.

        The supervisor's own figures (workers configured, restarts) go there
        only when ``heliograph serve`` set the variable in its environment
        before anything imported prometheus-client (:func:`prepare_metrics`);
        a Node run inside another program (tests) leaves that program's
        environment alone. Raises :class:`MetricsAddressError` when
        ``HELIOGRAPH_METRICS_ADDRESS`` cannot be bound (before any child runs).
        """
        shutil.rmtree(self.metrics_dir, ignore_errors=True)
        self.metrics_dir.mkdir(parents=True)
        if _supervisor_counts():
            from heliograph.metrics import WORKERS_CONFIGURED

            WORKERS_CONFIGURED.labels("acceptor").set(len(self.acceptors))
            WORKERS_CONFIGURED.labels("digest").set(len(self.digesters))
        if self.settings.metrics_address is not None:
            from heliograph.metrics_server import MetricsServer

            host, port = self.settings.metrics_address
            try:
                self.metrics_server = MetricsServer(
                    host, port, self.metrics_dir, self.settings.data_dir
                )
            except OSError as exc:
                raise MetricsAddressError(
                    f"HELIOGRAPH_METRICS_ADDRESS: cannot serve metrics on {host}:{port}: "
                    f"{exc.strerror or exc}; choose another address"
                ) from exc
            logger.info("metrics served at http://%s:%d/metrics", host, self.metrics_server.port)

    def _exited(self, child: Child) -> None:
        """A child is gone: its "up" series go with it (its counters stay in the sums)."""
        from prometheus_client.multiprocess import mark_process_dead

        if child.pid is not None:
            mark_process_dead(child.pid, str(self.metrics_dir))  # type: ignore[no-untyped-call]

    def supervise(self) -> None:
        """Restart children that die, until :meth:`request_stop`; then :meth:`stop`."""
        while not self._stopping.wait(RESTART_DELAY_SECONDS):
            for child in self.children:
                status = child.exited()
                # Ctrl-C signals the children too: one that exits because of
                # it must not come back while the supervisor shuts down.
                if status is None or self._stopping.is_set():
                    continue
                self._exited(child)
                if status == REFUSED_EXIT_STATUS:
                    logger.error("%s refused the data directory; stopping the node", child.name)
                    self.refused = True
                    self._stopping.set()
                    break
                logger.error("%s exited with %s; restarting it", child.name, status)
                _count_restart(child.worker)
                child.spawn(self.child_env)

    def request_stop(self) -> None:
        """Ask :meth:`supervise` to return (safe in a signal handler: sets a flag)."""
        self._stopping.set()

    def stop(self) -> None:
        """Stop accepting first, then let digest finish its batches in flight."""
        self._stopping.set()
        for group in (self.acceptors, self.digesters):
            for child in group:
                child.terminate()
            deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
            for child in group:
                child.wait(deadline)
                self._exited(child)
        if self.metrics_server is not None:
            self.metrics_server.close()
        self.socket.close()


def prepare_metrics(settings: Settings) -> None:
    """``heliograph serve``: the supervisor writes its own figures beside its children's.

    Must run before prometheus-client is first imported in this process (it
    picks its mode then), and after the bootstrap child (which writes no
    metrics): the CLI calls it just before :meth:`Node.start`.
    """
    os.environ[MULTIPROC_ENV] = str((settings.data_dir / METRICS_DIR).resolve())


def _supervisor_counts() -> bool:
    """This process writes its metrics to the node's directory (see :func:`prepare_metrics`)."""
    if MULTIPROC_ENV not in os.environ:
        return False
    from heliograph.metrics import multiprocess_active

    return multiprocess_active()


def _count_restart(worker: str) -> None:
    if _supervisor_counts():
        from heliograph.metrics import WORKER_RESTARTS

        WORKER_RESTARTS.labels(worker).inc()
