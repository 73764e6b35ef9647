"""Everything the ingest edge sees of the rest of the server, in one small object.

Endpoints authenticate a key, ask whether there is room (backlog, rate
limits, memory), and append to the queue; they reach nothing else. The
server builds one gate (:class:`heliograph.runtime.Runtime`) and hangs it
on the app (``app.state.ingest``), so the edge never imports the runtime,
the web pages or the API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from starlette.requests import Request

from heliograph.budget import MemoryBudget
from heliograph.flags.cache import FlagCache
from heliograph.ingest.geoip import GeoIp, TrustedProxies
from heliograph.ingest.limits import IngestLimiter
from heliograph.store.contract import ProjectLookup
from heliograph.store.queue import NodeQueue, PayloadQueue

__all__ = ["IngestGate", "KeyLookup", "gate_of"]


class KeyLookup(Protocol):
    def project_for(self, public_key: str) -> int | None:
        """The project of an active ingest key, or None (read from memory, not the store)."""
        ...


@dataclass(frozen=True, slots=True)
class IngestGate:
    queue: PayloadQueue  # this process's shard of the node's queue
    backlog: NodeQueue  # every shard: the backlog bound is the node's
    keys: KeyLookup
    projects: ProjectLookup  # only to tell "unknown project" from "not your project"
    limiter: IngestLimiter
    memory: MemoryBudget
    max_backlog: int  # payloads waiting for digest past which ingest answers 429
    flags: FlagCache  # what /flags and /decide answer from
    geoip: GeoIp | None = None  # visitors' countries (HELIOGRAPH_GEOIP_DB); None: none
    # Whose X-Forwarded-For names the client (HELIOGRAPH_TRUSTED_PROXIES); none by default.
    trusted_proxies: TrustedProxies = field(default_factory=TrustedProxies)


def gate_of(request: Request) -> IngestGate:
    gate: IngestGate = request.app.state.ingest
    return gate
