"""The node's metrics on an address of their own (``HELIOGRAPH_METRICS_ADDRESS``).

Served by the supervisor, which outlives every child it restarts: a scrape
still answers while acceptors are being replaced, and sums every process's
files in the multiprocess directory. No token: the address is meant for a
private interface (``127.0.0.1``, a VPN, the cluster network), which is why it
must be given in full and is never a default.

The queue is opened on the first scrape, not at start: the supervisor stays
small on nodes that scrape through the main port, or not at all.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

__all__ = ["MetricsServer"]


class _NodeGauges(Collector):
    """:class:`heliograph.metrics_exposition.NodeCollector`, opened on first use."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._collector: Collector | None = None
        self._lock = threading.Lock()

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            if self._collector is None:
                from heliograph.metrics_exposition import NodeCollector
                from heliograph.store import open_node_queue

                self._collector = NodeCollector(open_node_queue(self.data_dir), self.data_dir)
            yield from self._collector.collect()


class MetricsServer:
    """An HTTP server answering every GET with the node's metrics."""

    def __init__(self, host: str, port: int, metrics_dir: Path, data_dir: Path) -> None:
        registry = CollectorRegistry(auto_describe=False)
        MultiProcessCollector(registry, path=str(metrics_dir))  # type: ignore[no-untyped-call]
        registry.register(_NodeGauges(data_dir))
        # Raises OSError when the address cannot be bound: the node does not start.
        self._server: WSGIServer
        self._server, self._thread = start_http_server(port, addr=host, registry=registry)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
