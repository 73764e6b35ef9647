"""LLM events into typed rows and rollups (PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from heliograph.model import Event


def record_llm_events(conn: Any, events: Sequence[Event]) -> None:
    raise NotImplementedError
