"""Each project's flags in memory, so that ``/flags`` answers without the database.

A process keeps the flags it served in memory. Changing a flag (the API, the
flags page) bumps a counter shared by the node's processes
(:class:`~heliograph.shared_counter.SharedCounter`, ``flags-changed.bin`` in
the data directory): every process of the node reloads on its next request.
Other nodes reload within :data:`FLAG_RELOAD_SECONDS`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from heliograph.flags.definition import FeatureFlag
from heliograph.shared_counter import SharedCounter
from heliograph.store.contract import Store

__all__ = ["FLAGS_CHANGED_FILE", "FLAG_RELOAD_SECONDS", "FlagCache"]

FLAGS_CHANGED_FILE = "flags-changed.bin"
FLAG_RELOAD_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class _Entry:
    flags: list[FeatureFlag]
    counter: int
    loaded_at: float


class FlagCache:
    """Flags by project, and the store they come from (which also authenticates
    the personal API keys that fetch definitions)."""

    def __init__(
        self, store: Store, changes: SharedCounter, reload_seconds: float = FLAG_RELOAD_SECONDS
    ) -> None:
        self.store = store
        self.changes = changes
        self.reload_seconds = reload_seconds
        self._entries: dict[int, _Entry] = {}
        self._lock = threading.Lock()

    def cached(self, project_id: int) -> list[FeatureFlag] | None:
        """The project's flags if what is in memory is current, else None (call :meth:`load`)."""
        entry = self._entries.get(project_id)
        if entry is None or entry.counter != self.changes.value:
            return None
        if time.monotonic() - entry.loaded_at > self.reload_seconds:
            return None
        return entry.flags

    def load(self, project_id: int) -> list[FeatureFlag]:
        """Read the project's flags from the store (a blocking read) and keep them."""
        counter = self.changes.value  # before the read: a change during it reloads again
        flags = self.store.list_flags(project_id)
        with self._lock:
            self._entries[project_id] = _Entry(flags, counter, time.monotonic())
        return flags

    def changed(self) -> None:
        """Say that flags changed: every process of this node reloads on its next request."""
        self.changes.bump()
