"""Deleting what is past each project's retention (PostgreSQL)."""

from __future__ import annotations

from typing import Any

from heliograph.store.retention import PurgeReport


def purge_expired(store: Any, **kwargs: Any) -> PurgeReport:
    raise NotImplementedError
