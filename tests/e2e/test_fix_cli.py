"""``heliograph fix`` as a user runs it: a subprocess, piped output."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.llm_servers import DEFAULT_TEXT, FakeOpenAIServer
from tests.payloads import sentry_event

pytestmark = pytest.mark.e2e


@pytest.fixture
def event_file(tmp_path: Path) -> Path:
    path = tmp_path / "event.json"
    path.write_bytes(orjson.dumps(sentry_event("cart total is zero", exc_type="ZeroDivisionError")))
    return path


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server  # type: ignore[misc]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HELIOGRAPH_AI_")}
    return subprocess.run(
        [sys.executable, "-m", "heliograph", "fix", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **(env or {})},
    )


def test_dump_prompt_works_without_a_provider(event_file: Path) -> None:
    result = run(str(event_file), "--dump-prompt")
    assert result.returncode == 0, result.stderr
    description = orjson.loads(result.stdout)
    text = result.stdout
    assert "ZeroDivisionError" in text
    assert "raise ZeroDivisionError(msg)" in text, "the crash frame's context line"
    assert isinstance(description, dict)


def test_without_a_provider_the_command_says_so(event_file: Path) -> None:
    result = run(str(event_file))
    assert result.returncode == 2
    assert "HELIOGRAPH_AI_PROVIDER" in result.stderr
    assert "--dump-prompt" in result.stderr


def test_streams_the_fix_to_a_pipe(event_file: Path, llm: FakeOpenAIServer) -> None:
    llm.reply(DEFAULT_TEXT)
    env = {
        "HELIOGRAPH_AI_PROVIDER": "openai",
        "HELIOGRAPH_AI_BASE_URL": llm.base_url,
        "HELIOGRAPH_AI_MODEL": "cli-model",
    }
    result = run(str(event_file), env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == DEFAULT_TEXT.strip()
    assert "cli-model" in result.stderr
    assert "fresh" in result.stderr


def test_bad_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    result = run(str(path), "--dump-prompt")
    assert result.returncode == 2
    assert "is not JSON" in result.stderr
