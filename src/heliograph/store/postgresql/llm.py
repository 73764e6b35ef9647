"""Read methods for LLM analytics on the PostgreSQL store.

A mixin of :class:`~heliograph.store.postgresql.PostgresStore`: the same
reads as the SQLite backend (:mod:`heliograph.store.llm_reads`) in
PostgreSQL's dialect, on the tables written by
:mod:`heliograph.store.postgresql.llm_write`. The dialect makes the results
the ones SQLite gives (see :mod:`heliograph.store.sql_dialect`).
"""

from __future__ import annotations

from heliograph.store.llm_reads import LlmReadsMixin
from heliograph.store.postgresql.database import PgDatabase
from heliograph.store.sql_dialect import POSTGRESQL

__all__ = ["LlmStoreMixin"]


class LlmStoreMixin(LlmReadsMixin[PgDatabase]):
    """LLM analytics reads; the class using it provides ``db``."""

    dialect = POSTGRESQL
