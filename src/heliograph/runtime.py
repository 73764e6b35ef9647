"""The long-lived parts of one acceptor process, built once and shared by handlers.

Handlers reach them as ``request.app.state.runtime``; tests build one around a
temporary directory. ``heliograph serve`` runs N acceptor processes, each with
its own runtime and its own shard of the ingest queue; the node's supervisor
(:mod:`heliograph.node`) runs digest beside them.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from heliograph import __version__, budget
from heliograph.ai.fix import FixService
from heliograph.ai.fix_metrics import counting
from heliograph.ai.providers import make_provider
from heliograph.ai.settings import ProviderSettings
from heliograph.config import MIN_INGEST_MEMORY_MB, Settings
from heliograph.flags.cache import FLAGS_CHANGED_FILE, FlagCache
from heliograph.health import Readiness
from heliograph.ingest import memory
from heliograph.ingest.gate import IngestGate
from heliograph.ingest.geoip import GeoIp, TrustedProxies
from heliograph.ingest.limits import IngestLimiter
from heliograph.node import KEYS_CHANGED_FILE, RATE_LIMITS_FILE
from heliograph.selfmon import generation_recorder, start_error_reporting
from heliograph.shared_counter import SharedCounter
from heliograph.sourcemaps.resolve import SourceMapResolver
from heliograph.store import open_node_queue, open_queue, open_store
from heliograph.store.contract import Store
from heliograph.store.queue import NodeQueue, PayloadQueue
from heliograph.web.throttle import LoginThrottle

logger = logging.getLogger(__name__)

KEY_REFRESH_SECONDS = 2.0
# The housekeeping thread: refused-request counts are written this often, and
# keys and limits are re-read this often (changes made in this process's UI
# apply at once; this catches those made by another process or node).
OUTCOME_FLUSH_SECONDS = 2.0
KEY_RELOAD_SECONDS = 5.0


@dataclass
class KeyCache:
    """Ingest keys and rate limits in memory: authenticating must not touch the database.

    Whoever creates or revokes a key or changes a limit calls :meth:`changed`:
    every acceptor process of the node then reloads on its next request
    (``changes`` is the node's :class:`SharedCounter`). An unknown key also
    triggers a reload (at most every couple of seconds), and the housekeeping
    thread reloads every ``KEY_RELOAD_SECONDS`` whatever happens, which is
    how changes made on another node arrive.
    """

    store: Store
    limiter: IngestLimiter | None = None
    changes: SharedCounter | None = None
    _keys: dict[str, int] = field(default_factory=dict)
    _loaded_at: float = 0.0
    _seen: int = -1
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def project_for(self, public_key: str) -> int | None:
        if self.changes is not None and self.changes.value != self._seen:
            self.reload()
        project_id = self._keys.get(public_key)
        if project_id is None and time.monotonic() - self._loaded_at > KEY_REFRESH_SECONDS:
            self.reload()
            project_id = self._keys.get(public_key)
        return project_id

    def changed(self) -> None:
        """Keys or limits were changed in the store: every process reloads them."""
        if self.changes is not None:
            self.changes.bump()
        self.reload()

    def reload(self) -> None:
        with self._lock:
            # Read before loading: a change made meanwhile triggers one more reload.
            self._seen = -1 if self.changes is None else self.changes.value
            keys = self.store.ingest_keys()
            if self.limiter is not None:
                self.limiter.configure(
                    {key: rate for key, (_project, rate) in keys.items()},
                    self.store.project_rate_limits(),
                )
            self._keys = {key: project_id for key, (project_id, _rate) in keys.items()}
            self._loaded_at = time.monotonic()


class Runtime:
    """What one acceptor process holds; ``shard`` is its own shard of the queue.

    ``acceptors`` is how many run on the node: they share its ingest memory
    budget evenly (each keeps at least enough for one largest body).
    """

    def __init__(self, settings: Settings, *, shard: int = 0, acceptors: int = 1) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        # First: a database that will not open stops the start before anything else is open.
        self.geoip = GeoIp(settings.geoip_db) if settings.geoip_db is not None else None
        self.store: Store = open_store(
            settings.store_url, events_url=settings.events_url, blobs_url=settings.blobs_url
        )
        self.queue: PayloadQueue = open_queue(settings.data_dir, shard)
        # Events stored before their source maps arrived are resolved when shown.
        self.sourcemaps = SourceMapResolver(self.store, miss_ttl=0.0)
        self.backlog: NodeQueue = open_node_queue(settings.data_dir)
        self.limiter = IngestLimiter(
            settings.project_rate_limit, shared_path=settings.data_dir / RATE_LIMITS_FILE
        )
        # Request bodies held in memory by ingest, all requests of this process together.
        share = max(MIN_INGEST_MEMORY_MB, settings.ingest_memory_mb // max(1, acceptors))
        self.ingest_memory = budget.MemoryBudget(share * 1024 * 1024)
        self.key_changes = SharedCounter(settings.data_dir / KEYS_CHANGED_FILE)
        self.keys = KeyCache(self.store, self.limiter, self.key_changes)
        self.keys.reload()
        self.flag_changes = SharedCounter(settings.data_dir / FLAGS_CHANGED_FILE)
        self.flags = FlagCache(self.store, self.flag_changes)
        self.gate = IngestGate(
            queue=self.queue,
            backlog=self.backlog,
            keys=self.keys,
            projects=self.store,
            limiter=self.limiter,
            memory=self.ingest_memory,
            max_backlog=settings.max_backlog,
            flags=self.flags,
            geoip=self.geoip,
            trusted_proxies=TrustedProxies(settings.trusted_proxies),
        )
        self.login_throttle = LoginThrottle(
            settings.login_max_failures, settings.login_lockout_seconds, failures=self.store
        )
        self.fixes = self._fix_service()
        self.readiness = Readiness(
            self.store,
            self.backlog,
            settings.data_dir,
            min_free_mb=settings.ready_min_free_mb,
            max_lag_seconds=settings.ready_max_lag_seconds,
        )
        self.started_at = time.time()
        self._stopping = threading.Event()
        self._housekeeper = threading.Thread(
            target=self._housekeeping, name="housekeeping", daemon=True
        )

    def _fix_service(self) -> FixService:
        """The AI-fix service; its calls are recorded in the internal project and counted
        for ``/metrics``."""
        ai_settings = ProviderSettings.from_env()
        return FixService(
            make_provider(ai_settings),
            ai_settings,
            self.store.fix_cache(),
            on_generation=counting(generation_recorder(self.queue, self.store)),
        )

    def start(self) -> None:
        memory.return_large_blocks()
        self._housekeeper.start()
        if self.settings.self_monitoring and start_error_reporting(
            self.store, self.settings.base_url, __version__
        ):
            self.keys.changed()

    def flush_outcomes(self) -> int:
        """Write the refused-request counts gathered in memory since the last flush.

        Returns how many refusals that was.
        """
        outcomes = self.limiter.drain_outcomes()
        if outcomes:
            self.store.add_outcomes(outcomes)
        return sum(outcome.quantity for outcome in outcomes)

    def _housekeeping(self) -> None:
        reloaded = time.monotonic()
        while not self._stopping.wait(OUTCOME_FLUSH_SECONDS):
            try:
                self.flush_outcomes()
                if time.monotonic() - reloaded > KEY_RELOAD_SECONDS:
                    self.keys.reload()
                    reloaded = time.monotonic()
            except Exception:
                logger.exception("housekeeping failed; trying again shortly")

    def close(self) -> None:
        """Write the last refused-request counts and close files."""
        self._stopping.set()
        if self._housekeeper.is_alive():
            self._housekeeper.join(timeout=5)
        try:
            refused = self.flush_outcomes()
        except Exception:
            logger.exception("could not write the last rate-limit outcomes")
        else:
            logger.info("shut down; the last %d rate-limit refusal(s) written", refused)
        self.queue.close()
        self.backlog.close()
        self.key_changes.close()
        self.flag_changes.close()
        if self.geoip is not None:
            self.geoip.close()
        self.limiter.close()
        self.store.close()
