"""The PostgreSQL backend: the whole store on a PostgreSQL server, shared by N nodes.

Chosen by a ``postgresql://`` ``HELIOGRAPH_DATABASE_URL``. Each node keeps
its own ingest queue on local disk; everything else lives here.
"""

from __future__ import annotations

from heliograph.store.postgresql.store import PostgresStore

__all__ = ["PostgresStore"]
