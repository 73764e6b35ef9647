"""What the admin status page shows, gathered without the web: the node's health now.

The queue figures are read now (cheap: index look-ups). Worker health comes
from the same metrics ``/metrics`` exports (every process of the node writes
them), so the page and Prometheus never disagree. Disk use per project and
the data directory's size scan tables and directories: they are cached for
:data:`CACHE_SECONDS`, so reloading the page costs nothing.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from heliograph.metrics_exposition import collect
from heliograph.store.queue import NodeQueue

__all__ = [
    "CACHE_SECONDS",
    "QueueStatus",
    "WorkerHealth",
    "cached",
    "clear_cache",
    "data_dir_bytes",
    "disk_space",
    "workers",
]

CACHE_SECONDS = 60.0
# A digest worker whose loop has not gone round for this long is stuck (it
# beats every second, idle or not, and a batch takes seconds at most).
STALE_SECONDS = 30.0

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class QueueStatus:
    depth: int
    lag_seconds: float  # age of the oldest waiting payload; 0 when none waits
    dead_letters: int

    @classmethod
    def read(cls, backlog: NodeQueue) -> QueueStatus:
        oldest = backlog.oldest_received_at()
        lag = 0.0 if oldest is None else max(0.0, time.time() - oldest)
        return cls(backlog.measure(), lag, backlog.count_dead_letters())


@dataclass(slots=True)
class WorkerHealth:
    """One worker process as the metrics see it; None: not reported (yet)."""

    name: str
    up: bool = False
    started_at: float | None = None
    last_batch_at: float | None = None
    heartbeat_at: float | None = None
    restarts: int = 0

    @property
    def state(self) -> str:
        """``ok``, ``stale`` (up, but its digest loop stopped going round) or ``down``.

        A dead process's "up" series is gone (the supervisor marks it dead),
        while its timestamps stay: a worker without "up" is down, unless its
        loop beats (a digest thread in a process no supervisor runs).
        """
        fresh = self.heartbeat_at is not None and time.time() - self.heartbeat_at <= STALE_SECONDS
        if self.up:
            return "stale" if self.heartbeat_at is not None and not fresh else "ok"
        return "ok" if fresh else "down"


_FIELDS = {
    "heliograph_worker_up": "up",
    "heliograph_worker_start_time_seconds": "started_at",
    "heliograph_digest_last_batch_timestamp_seconds": "last_batch_at",
    "heliograph_digest_heartbeat_timestamp_seconds": "heartbeat_at",
    "heliograph_worker_restarts_total": "restarts",
}


def workers() -> list[WorkerHealth]:
    """Every worker the metrics know of, acceptors first, by name."""
    found: dict[str, WorkerHealth] = {}
    for family in collect():
        for sample in family.samples:
            attribute = _FIELDS.get(sample.name)
            name = sample.labels.get("worker")
            if attribute is None or name is None:
                continue
            health = found.setdefault(name, WorkerHealth(name))
            if attribute == "up":
                health.up = health.up or sample.value == 1
            elif attribute == "restarts":
                health.restarts += int(sample.value)
            else:
                setattr(health, attribute, sample.value or None)
    return sorted(found.values(), key=lambda w: (not w.name.startswith("acceptor"), w.name))


def data_dir_bytes(data_dir: Path) -> int:
    """Bytes of every file under the data directory (queue, SQLite files, blobs)."""
    total = 0
    for root, _dirs, files in os.walk(data_dir):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue  # removed meanwhile
    return total


@dataclass
class _Cache:
    values: dict[str, tuple[float, object]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


_cache = _Cache()


def cached(key: str, compute: Callable[[], T]) -> T:
    """``compute()``, remembered for :data:`CACHE_SECONDS` under ``key``."""
    now = time.monotonic()
    with _cache.lock:
        hit = _cache.values.get(key)
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[1]  # type: ignore[return-value]
    value = compute()
    with _cache.lock:
        _cache.values[key] = (now, value)
    return value


def clear_cache() -> None:
    """Forget every cached figure: the next page view measures again."""
    with _cache.lock:
        _cache.values.clear()


def disk_space(data_dir: Path) -> tuple[int, int] | None:
    """(free, total) bytes of the data directory's filesystem; None: cannot tell."""
    try:
        usage = shutil.disk_usage(data_dir)
    except OSError:
        return None
    return usage.free, usage.total
