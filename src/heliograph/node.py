"""One node of Heliograph: a supervisor, N acceptor processes, N digest processes.

``heliograph serve`` is the supervisor. It binds the listening socket once and
hands it to N acceptor processes (:mod:`heliograph.acceptor`), which all
accept on it, each appending to its own queue shard; and it starts N digest
processes (:mod:`heliograph.digest.process`) that drain those shards. One
Python process is capped at about one core by its GIL: this is how a node
uses every core it is given.

The supervisor does no request work. It restarts a child that dies (after a
short pause, so a crash loop does not spin), stops acceptors first on
shutdown (no new work), then digest (each finishes its batch in flight), and
its children exit by themselves when it is gone, even after ``kill -9``.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from heliograph.config import Settings
from heliograph.ingest.shared_buckets import reset_shared_buckets

logger = logging.getLogger(__name__)

# Files in the data directory through which the acceptors share node-wide state:
# the rate-limit buckets (emptied at each start) and the keys' change counter.
RATE_LIMITS_FILE = "ratelimits.bin"
KEYS_CHANGED_FILE = "keys-changed.bin"

RESTART_DELAY_SECONDS = 1.0
STOP_TIMEOUT_SECONDS = 15.0
LISTEN_BACKLOG = 2048


def default_workers() -> int:
    """The cores this process may run on (``taskset`` and cgroup cpusets count)."""
    return max(1, len(os.sched_getaffinity(0)))


def listen(host: str, port: int) -> socket.socket:
    """The node's listening socket, inheritable by the acceptor processes.

    A node restarted straight after ``kill -9`` may find its old acceptors
    still holding the port for the half second they take to notice: retry
    for a few seconds before giving up.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    deadline = time.monotonic() + 3.0
    while True:
        try:
            sock = socket.create_server((host, port), family=family, backlog=LISTEN_BACKLOG)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    sock.set_inheritable(True)
    return sock


@dataclass
class Child:
    """One supervised child process: its command line and the process running it now."""

    name: str
    command: list[str]
    pass_fds: tuple[int, ...] = ()
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def spawn(self) -> None:
        self.process = subprocess.Popen(self.command, pass_fds=self.pass_fds)

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
        parent = ["--parent-pid", str(os.getpid()), "--data-dir", str(settings.data_dir)]
        base = [sys.executable, "-m", "heliograph"]
        fd = sock.fileno()
        # The acceptors build links and DSNs from the address: they get the supervisor's.
        address = ["--host", settings.host, "--port", str(settings.port)]
        if settings.public_url:
            address += ["--public-url", settings.public_url]
        self.acceptors = [
            Child(
                f"acceptor {n}",
                [
                    *base,
                    "acceptor",
                    "--fd",
                    str(fd),
                    "--shard",
                    str(n),
                    "--acceptors",
                    str(workers),
                    *parent,
                    *address,
                ],
                pass_fds=(fd,),
            )
            for n in range(workers)
        ]
        self.digesters = [
            Child(
                f"digest worker {n}",
                [*base, "digest", "--worker", str(n), "--workers", str(workers), *parent],
            )
            for n in range(workers)
        ]
        self._stopping = threading.Event()

    @property
    def children(self) -> list[Child]:
        return [*self.acceptors, *self.digesters]

    def start(self) -> None:
        reset_shared_buckets(self.settings.data_dir / RATE_LIMITS_FILE)
        for child in self.children:
            child.spawn()

    def supervise(self) -> None:
        """Restart children that die, until :meth:`request_stop`; then :meth:`stop`."""
        while not self._stopping.wait(RESTART_DELAY_SECONDS):
            for child in self.children:
                status = child.exited()
                # Ctrl-C signals the children too: one that exits because of
                # it must not come back while the supervisor shuts down.
                if status is not None and not self._stopping.is_set():
                    logger.error("%s exited with %s; restarting it", child.name, status)
                    child.spawn()

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
        self.socket.close()
