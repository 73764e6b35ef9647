"""Regular expressions in flag conditions, matched in linear time (RE2).

A condition's pattern comes from a project's admin and the text it runs
against from anyone on the internet. Python's backtracking engine can take
exponential time on some pattern and input pairs, which would stall the
process answering ``/flags`` for everybody; RE2 (google-re2) never does, and
has the syntax PostHog's own server accepts (no lookaround, no
backreferences).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import re2

__all__ = ["compile_regex"]


@lru_cache(maxsize=512)
def compile_regex(pattern: str) -> Any:
    """The compiled pattern, or None when RE2 cannot run it."""
    try:
        return re2.compile(pattern)
    except Exception:
        return None
