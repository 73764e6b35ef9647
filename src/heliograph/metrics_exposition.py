"""The ``/metrics`` text: every process's metrics, plus what is read at scrape time.

Queue depth, digest lag, dead letters and free disk are facts about the node
now, not counts a process keeps: they are read when Prometheus asks
(:class:`NodeCollector`), never on the ingest path. Everything else comes
from :mod:`heliograph.metrics`: from the multiprocess directory when the node
runs several processes, else from this process's registry.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from heliograph.metrics import multiprocess_dir

if TYPE_CHECKING:
    from heliograph.store.queue import NodeQueue

__all__ = ["CONTENT_TYPE", "NodeCollector", "collect", "render"]

logger = logging.getLogger(__name__)

# The classic text format (version 0.0.4), which every Prometheus reads.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class NodeCollector(Collector):
    """Gauges read at scrape time: the node's queue and its data directory's disk."""

    def __init__(self, backlog: NodeQueue, data_dir: Path) -> None:
        self.backlog = backlog
        self.data_dir = data_dir

    def collect(self) -> Iterator[Metric]:
        depth = self.backlog.measure()
        oldest = self.backlog.oldest_received_at()
        lag = 0.0 if oldest is None else max(0.0, time.time() - oldest)
        yield GaugeMetricFamily(
            "heliograph_queue_depth", "Payloads accepted and waiting for digest, all shards.", depth
        )
        yield GaugeMetricFamily(
            "heliograph_digest_lag_seconds",
            "Age of the oldest payload waiting for digest (0 when none waits).",
            lag,
        )
        yield GaugeMetricFamily(
            "heliograph_dead_letters",
            "Payloads digest could not store, waiting for an admin (heliograph dead-letters).",
            self.backlog.count_dead_letters(),
        )
        try:
            disk = shutil.disk_usage(self.data_dir)
        except OSError as exc:
            logger.warning("cannot measure the data directory's disk: %s", exc)
            return
        yield GaugeMetricFamily(
            "heliograph_disk_free_bytes",
            "Free bytes on the data directory's filesystem (for this user).",
            disk.free,
        )
        yield GaugeMetricFamily(
            "heliograph_disk_size_bytes", "Size of the data directory's filesystem.", disk.total
        )


class _Forward(Collector):
    """This process's own registry, read through another one."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def _registry(extra: Collector | None) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    path = multiprocess_dir()
    if path is not None:
        MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Forward())
    if extra is not None:
        registry.register(extra)
    return registry


def collect(extra: Collector | None = None) -> list[Metric]:
    """Every metric family as objects (the status page reads them without parsing text)."""
    return list(_registry(extra).collect())


def render(extra: Collector | None = None) -> bytes:
    """The exposition in Prometheus' text format."""
    return generate_latest(_registry(extra))
