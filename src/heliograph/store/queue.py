"""The node-local ingest queue: what ingest appends and digest consumes.

Ingest's promise is durability, not processing: a request is answered 2xx only
after its payload is committed here. Digest reads the oldest payloads, stores
what they hold, and only then removes them, so a crash at any point loses
nothing (digest is idempotent on event ids). Payloads digest cannot store move
to the dead letters, for an admin to inspect and replay.

Every deployment keeps this queue on the node's own disk, whatever the store,
split in shards: each acceptor process appends to its own
(:class:`PayloadQueue`, opened with :func:`heliograph.store.open_queue`), and
each shard is drained by one digest worker. Backpressure and the dead-letter
commands see the node as a whole (:class:`NodeQueue`, from
:func:`heliograph.store.open_node_queue`). The one implementation is SQLite
files (:mod:`heliograph.store.sqlite.queue`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = ["DeadLetter", "DeadLetters", "NodeQueue", "PayloadKind", "PayloadQueue", "QueuedPayload"]

PayloadKind = Literal[
    "sentry_envelope",
    "sentry_store",
    "posthog",
    "otlp_proto",
    "otlp_json",
    "otlp_logs_proto",
    "otlp_logs_json",
]


@dataclass(frozen=True, slots=True)
class QueuedPayload:
    """A payload as it arrived; ``encoding`` is its Content-Encoding, still to undo.

    ``client_address``: the sender's address, queued with Sentry payloads for
    the events that ask the server to fill it in (``{{auto}}``).
    """

    id: int
    project_id: int
    kind: str
    received_at: float
    encoding: str | None
    body: bytes
    client_address: str | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A payload digest could not store, and why (its body is fetched separately)."""

    id: int
    project_id: int
    kind: str
    received_at: float
    encoding: str | None
    size: int
    failed_at: float
    reason: str


class DeadLetters(Protocol):
    """Payloads digest could not store, for an admin to inspect, replay or purge."""

    def dead_letters(self, *, limit: int = 100) -> list[DeadLetter]:
        """Quarantined payloads, the most recently failed first (bodies not included)."""
        ...

    def dead_letter_body(self, dead_id: int) -> tuple[DeadLetter, bytes] | None: ...

    def replay_dead_letters(self, ids: Sequence[int] | None = None) -> int: ...

    def purge_dead_letters(self, ids: Sequence[int] | None = None) -> int: ...


class PayloadQueue(DeadLetters, Protocol):
    """One shard of the durable queue between ingest and digest."""

    @property
    def depth(self) -> int:
        """Payloads waiting (refreshed a few times a second: backpressure reads it)."""
        ...

    async def append(
        self,
        project_id: int,
        kind: PayloadKind,
        received_at: float,
        body: bytes,
        encoding: str | None = None,
        client_address: str | None = None,
    ) -> int:
        """Commit one payload durably; returns its queue id."""
        ...

    def append_nowait(
        self, project_id: int, kind: PayloadKind, received_at: float, body: bytes
    ) -> None:
        """Queue a payload without waiting for its commit (internal, best-effort events)."""
        ...

    def wait_for_work(self, timeout: float) -> bool: ...

    def wake(self) -> None: ...

    def oldest(self, limit: int, *, after_id: int = 0) -> list[QueuedPayload]: ...

    def remove(self, ids: Sequence[int], *, dead: Mapping[int, str] | None = None) -> None:
        """Delete processed payloads; those in ``dead`` (id -> reason) become dead letters."""
        ...

    def close(self) -> None: ...


class NodeQueue(DeadLetters, Protocol):
    """Every shard of this node's queue together."""

    @property
    def depth(self) -> int:
        """Payloads waiting in all shards, refreshed a few times a second (the backlog bound)."""
        ...

    def measure(self) -> int:
        """Payloads waiting in all shards, read now (``/_health``: "is it all digested?")."""
        ...

    def oldest_received_at(self) -> float | None:
        """When the oldest payload still waiting in any shard arrived (None: none waits).

        ``now - oldest_received_at()`` is digest's lag: how long an accepted
        payload has waited to be stored. Read now, through each shard's id index.
        """
        ...

    def count_dead_letters(self) -> int:
        """Dead letters in all shards, counted now (``/metrics``, the status page)."""
        ...

    def close(self) -> None: ...
