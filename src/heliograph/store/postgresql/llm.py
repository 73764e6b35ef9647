"""LLM analytics reads (PostgreSQL)."""

from __future__ import annotations


class LlmStoreMixin:
    pass
