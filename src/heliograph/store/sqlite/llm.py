"""Read methods for LLM analytics on the embedded SQLite store.

A mixin of :class:`~heliograph.store.sqlite.SQLiteStore`: the shared reads
(:mod:`heliograph.store.llm_reads`) in SQLite's dialect, on the tables
written by :mod:`heliograph.store.sqlite.llm_write`.
"""

from __future__ import annotations

from heliograph.store.llm_reads import LlmReadsMixin
from heliograph.store.sql_dialect import SQLITE
from heliograph.store.sqlite.database import Database

__all__ = ["LlmStoreMixin"]


class LlmStoreMixin(LlmReadsMixin[Database]):
    """LLM analytics reads; the class using it provides ``db``."""

    dialect = SQLITE
