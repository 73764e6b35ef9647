"""The fix cache's key. The cache itself is the store's (:mod:`heliograph.store.fix_cache`)."""

from __future__ import annotations

import orjson

from heliograph.ai.describe import PROMPT_VERSION

__all__ = ["fix_cache_key"]


def fix_cache_key(
    issue_key: str, model: str, prompt_version: str = PROMPT_VERSION, *, with_locals: bool = False
) -> str:
    """The cache key: unambiguous whatever characters the parts hold.

    ``with_locals`` keeps answers written from local variables (sent only on
    PII certification) away from requests that did not certify: an answer may
    quote the values it saw.
    """
    parts = ["fix", prompt_version, model, issue_key]
    if with_locals:
        parts.append("locals")
    return orjson.dumps(parts).decode()
