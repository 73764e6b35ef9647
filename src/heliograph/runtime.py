"""The long-lived parts of a running server, built once and shared by handlers.

Handlers reach them as ``request.app.state.runtime``; tests build one around a
temporary directory.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from heliograph import __version__, budget
from heliograph.ai.fix import FixService
from heliograph.ai.providers import make_provider
from heliograph.ai.settings import ProviderSettings
from heliograph.config import Settings
from heliograph.digest.process import DigestProcess
from heliograph.ingest import memory
from heliograph.ingest.gate import IngestGate
from heliograph.ingest.limits import IngestLimiter
from heliograph.selfmon import generation_recorder, start_error_reporting
from heliograph.store import open_queue, open_store
from heliograph.store.contract import Store
from heliograph.store.queue import PayloadQueue
from heliograph.web.throttle import LoginThrottle

logger = logging.getLogger(__name__)

KEY_REFRESH_SECONDS = 2.0
# The housekeeping thread: refused-request counts are written this often, and
# keys and limits are re-read this often (changes made in this process's UI
# apply at once; this catches those made by another process or node).
OUTCOME_FLUSH_SECONDS = 2.0
KEY_RELOAD_SECONDS = 30.0


@dataclass
class KeyCache:
    """Ingest keys and rate limits in memory: authenticating must not touch the database.

    An unknown key triggers a reload (at most every couple of seconds), so a
    key created in the UI works at once; the UI also reloads after revoking a
    key or changing a limit, and the housekeeping thread reloads every
    ``KEY_RELOAD_SECONDS`` whatever happens.
    """

    store: Store
    limiter: IngestLimiter | None = None
    _keys: dict[str, int] = field(default_factory=dict)
    _loaded_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def project_for(self, public_key: str) -> int | None:
        project_id = self._keys.get(public_key)
        if project_id is None and time.monotonic() - self._loaded_at > KEY_REFRESH_SECONDS:
            self.reload()
            project_id = self._keys.get(public_key)
        return project_id

    def reload(self) -> None:
        with self._lock:
            keys = self.store.ingest_keys()
            if self.limiter is not None:
                self.limiter.configure(
                    {key: rate for key, (_project, rate) in keys.items()},
                    self.store.project_rate_limits(),
                )
            self._keys = {key: project_id for key, (project_id, _rate) in keys.items()}
            self._loaded_at = time.monotonic()


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.store: Store = open_store(settings.store_url)
        self.queue: PayloadQueue = open_queue(settings.queue_path)
        self.limiter = IngestLimiter(settings.project_rate_limit)
        # Request bodies held in memory by ingest, all requests together (per process).
        self.ingest_memory = budget.MemoryBudget(settings.ingest_memory_mb * 1024 * 1024)
        self.keys = KeyCache(self.store, self.limiter)
        self.keys.reload()
        self.gate = IngestGate(
            queue=self.queue,
            keys=self.keys,
            projects=self.store,
            limiter=self.limiter,
            memory=self.ingest_memory,
            max_backlog=settings.max_backlog,
        )
        self.login_throttle = LoginThrottle(
            settings.login_max_failures, settings.login_lockout_seconds
        )
        self.digest = DigestProcess(settings)
        self.fixes = self._fix_service()
        self.started_at = time.time()
        self._stopping = threading.Event()
        self._housekeeper = threading.Thread(
            target=self._housekeeping, name="housekeeping", daemon=True
        )

    def _fix_service(self) -> FixService:
        """The AI-fix service; its calls are recorded in the internal project."""
        ai_settings = ProviderSettings.from_env()
        return FixService(
            make_provider(ai_settings),
            ai_settings,
            self.store.fix_cache(),
            on_generation=generation_recorder(self.queue, self.store),
        )

    def start(self) -> None:
        memory.return_large_blocks()
        self.digest.start()
        self._housekeeper.start()
        if self.settings.self_monitoring and start_error_reporting(
            self.store, self.settings.base_url, __version__
        ):
            self.keys.reload()

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
        """Stop the digest child (it finishes its batch), write the last counts, close files."""
        logger.info("shutting down: stopping the digest process")
        self._stopping.set()
        if self._housekeeper.is_alive():
            self._housekeeper.join(timeout=5)
        self.digest.stop()
        try:
            refused = self.flush_outcomes()
        except Exception:
            logger.exception("could not write the last rate-limit outcomes")
        else:
            logger.info("shut down; the last %d rate-limit refusal(s) written", refused)
        self.queue.close()
        self.store.close()
