"""Digest in its own process, supervised by ``heliograph serve``.

Ingest and digest share nothing but the queue file, so running digest in a
separate process gives it a core of its own instead of a share of the
server's GIL. ``serve`` starts it, restarts it if it dies, and stops it on
exit; the process also exits by itself when its parent goes away. The
retention job runs here too: it writes to the same database as digest, in
small batches through the same writer thread, never in the ingest process.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from types import FrameType

from heliograph.config import Settings
from heliograph.digest.worker import DigestWorker
from heliograph.store import open_queue, open_store
from heliograph.store.retention import RetentionJob

logger = logging.getLogger(__name__)

RESTART_DELAY_SECONDS = 1.0


def run_digest(settings: Settings, *, parent_pid: int | None = None) -> None:
    """Digest until SIGTERM/SIGINT, or until the parent process is gone."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(settings.store_url)
    queue = open_queue(settings.queue_path)
    worker = DigestWorker(queue, store, batch_size=settings.digest_batch)
    retention = RetentionJob(store, settings.retention_interval)
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    worker.start()
    retention.start()
    logger.info("digest process started (pid %d)", os.getpid())
    try:
        while not stopping.wait(0.5):
            if parent_pid is not None and os.getppid() != parent_pid:
                logger.warning("the server process is gone; digest stops")
                break
    finally:
        retention.stop()
        worker.stop()  # finishes the batch in flight; the rest stays queued
        queue.close()
        store.close()
    logger.info("digest process stopped")


class DigestProcess:
    """Keeps one ``heliograph digest`` child process running."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        # Held while deciding to respawn, so that stop() never misses a child
        # spawned just as it runs (Ctrl-C or a systemd stop signals the child
        # too, which may exit before the server begins its own shutdown).
        self._lock = threading.Lock()
        self._supervisor = threading.Thread(target=self._supervise, name="digest-supervisor")
        self._supervisor.daemon = True

    def start(self) -> None:
        self._spawn()
        self._supervisor.start()

    def _spawn(self) -> None:
        command = [
            sys.executable,
            "-m",
            "heliograph",
            "digest",
            "--data-dir",
            str(self.settings.data_dir),
            "--parent-pid",
            str(os.getpid()),
        ]
        self._process = subprocess.Popen(command)

    def _supervise(self) -> None:
        while not self._stopping.wait(RESTART_DELAY_SECONDS):
            with self._lock:
                process = self._process
                if self._stopping.is_set() or process is None or process.poll() is None:
                    continue
                logger.error("digest process exited with %s; restarting", process.returncode)
                self._spawn()

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the child, wait for it to finish its batch; SIGKILL after ``timeout``."""
        with self._lock:
            self._stopping.set()
            process = self._process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            logger.warning("digest process did not stop in %.0f s; killing it", timeout)
            process.kill()
            process.wait()
