"""An acceptor process: the web app under uvicorn, on the node's port.

``heliograph serve`` starts N of these (:mod:`heliograph.node`); each listens
on the port with a socket of its own (the kernel spreads connections between
them), and appends what it accepts to its own shard of the queue, so acceptors never wait for each
other's commits. Everything a request needs is in its :class:`Runtime`; what
must hold for the whole node (the backlog bound, rate limits) reads state
the acceptors share on disk.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import uvicorn

from heliograph.app import create_app
from heliograph.config import Settings
from heliograph.logs import configure_logging
from heliograph.metrics import mark_worker_up
from heliograph.node import REFUSED_EXIT_STATUS, listen, node_settings
from heliograph.runtime import Runtime
from heliograph.store.base import SchemaTooNew

# Named, not __name__: run with -m, this module is "__main__" (docs/logging.md).
logger = logging.getLogger("heliograph.acceptor")

PARENT_CHECK_SECONDS = 0.5


def run_acceptor(settings: Settings, *, shard: int, acceptors: int, parent_pid: int | None) -> None:
    """Serve on the node's port until SIGTERM/SIGINT or the parent is gone."""
    mark_worker_up(f"acceptor-{shard}")
    sock = listen(settings.host, settings.port)
    runtime = Runtime(settings, shard=shard, acceptors=acceptors)
    app = create_app(settings, runtime)
    # X-Forwarded-For/-Proto only from HELIOGRAPH_TRUSTED_PROXIES: uvicorn's own default
    # would believe them from any process on 127.0.0.1.
    proxies = list(settings.trusted_proxies)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="warning",
            # Uvicorn's records go through the process's handler (heliograph.logs),
            # one line each in the node's format; no access log (docs/logging.md).
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=10,
            proxy_headers=bool(proxies),
            forwarded_allow_ips=proxies or None,
        )
    )
    if parent_pid is not None:
        threading.Thread(
            target=_exit_with_parent, args=(server, parent_pid), name="parent-watch", daemon=True
        ).start()
    with _stop_on_signals(server):
        runtime.start()
        try:
            server.run(sockets=[sock])
        finally:
            runtime.close()


@contextmanager
def _stop_on_signals(server: uvicorn.Server) -> Iterator[None]:
    """SIGTERM and SIGINT both mean: shut down cleanly, then exit 0.

    While it runs, uvicorn handles the two signals itself; once it has shut
    down it restores the handlers it found and raises the signal again. With
    the default SIGTERM disposition that replay killed the process before
    ``runtime.close()`` (the last rate-limit counts) could run, so the
    handlers it finds are these. They also cover a signal arriving while the
    runtime starts or closes: it asks the server to stop, or is ignored.
    """

    def stop(signum: int, frame: FrameType | None) -> None:
        server.should_exit = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _exit_with_parent(server: uvicorn.Server, parent_pid: int) -> None:
    """Stop serving once the supervisor is gone (its ``kill -9`` leaves us orphaned)."""
    while not server.should_exit:
        if os.getppid() != parent_pid:
            logger.warning("the server's supervisor is gone; acceptor %d stops", os.getpid())
            server.should_exit = True
            return
        threading.Event().wait(PARENT_CHECK_SECONDS)


def main(argv: list[str] | None = None) -> None:
    """``python -m heliograph.acceptor``: how the supervisor starts an acceptor.

    Not the ``heliograph`` command line: an acceptor imports only what
    serving needs, and every process of a node counts against its memory.
    """
    parser = argparse.ArgumentParser(prog="python -m heliograph.acceptor")
    parser.add_argument("--shard", type=int, required=True, help="this acceptor's queue shard")
    parser.add_argument("--acceptors", type=int, required=True, help="acceptors on the node")
    parser.add_argument("--parent-pid", type=int, required=True, help="exit when it is gone")
    args, settings = node_settings(parser, argv)
    configure_logging(
        "acceptor", args.shard, log_format=settings.log_format, level=settings.log_level
    )
    try:
        run_acceptor(
            settings,
            shard=args.shard,
            acceptors=args.acceptors,
            parent_pid=args.parent_pid,
        )
    except SchemaTooNew as exc:
        # Restarting cannot help: one line in the log, and a status that stops the node.
        logger.error("%s", exc)
        raise SystemExit(REFUSED_EXIT_STATUS) from None


if __name__ == "__main__":
    main()
