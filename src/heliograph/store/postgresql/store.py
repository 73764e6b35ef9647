"""The whole :class:`~heliograph.store.contract.Store` on PostgreSQL."""

from __future__ import annotations

import threading

from heliograph.store.postgresql.accounts import AccountsMixin
from heliograph.store.postgresql.database import PgDatabase
from heliograph.store.postgresql.fix_cache import PgFixCache
from heliograph.store.postgresql.llm import LlmStoreMixin
from heliograph.store.postgresql.retention import purge_expired
from heliograph.store.postgresql.schema import MIGRATIONS
from heliograph.store.retention import PurgeReport


class PostgresStore(AccountsMixin, LlmStoreMixin):
    """The store on a PostgreSQL database, which N nodes may share."""

    def __init__(self, url: str) -> None:
        self.db = PgDatabase(url, migrations=MIGRATIONS)
        self._fix_cache = PgFixCache(self.db)

    def close(self) -> None:
        self.db.close()

    def fix_cache(self) -> PgFixCache:
        return self._fix_cache

    def purge_expired(
        self,
        *,
        now: float | None = None,
        dry_run: bool = False,
        stop: threading.Event | None = None,
    ) -> PurgeReport:
        return purge_expired(self, now=now, dry_run=dry_run, stop=stop)
