"""The long-lived parts of a running server, built once and shared by handlers.

Handlers reach them as ``request.app.state.runtime``; tests build one around a
temporary directory.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from heliograph.ai.fix import FixService
from heliograph.ai.providers import make_provider
from heliograph.ai.settings import ProviderSettings
from heliograph.config import Settings
from heliograph.digest.process import DigestProcess
from heliograph.ingest.queue import IngestQueue
from heliograph.selfmon import generation_recorder
from heliograph.store.fix_cache import SQLiteFixCache
from heliograph.store.sqlite import SQLiteStore

KEY_REFRESH_SECONDS = 2.0


@dataclass
class KeyCache:
    """Ingest keys in memory: authenticating a request must not touch the database.

    An unknown key triggers a reload (at most every couple of seconds), so a
    key created or revoked in the UI takes effect without a restart.
    """

    store: SQLiteStore
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
            self._keys = self.store.active_keys()
            self._loaded_at = time.monotonic()


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = SQLiteStore(settings.db_path)
        self.queue = IngestQueue(settings.queue_path)
        self.keys = KeyCache(self.store)
        self.keys.reload()
        self.digest = DigestProcess(settings)
        self.fixes = self._fix_service()
        self.started_at = time.time()

    def _fix_service(self) -> FixService:
        """The AI-fix service; its calls are recorded in the internal project."""
        ai_settings = ProviderSettings.from_env()
        return FixService(
            make_provider(ai_settings),
            ai_settings,
            SQLiteFixCache(self.store.db),
            on_generation=generation_recorder(self.queue, self.store),
        )

    def start(self) -> None:
        self.digest.start()

    def close(self) -> None:
        self.digest.stop()
        self.queue.close()
        self.store.close()
