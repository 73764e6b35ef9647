"""The command line as someone who mistypes meets it: one line, a non-zero exit, no traceback.

Most cases run the CLI in this process through :func:`run_cli` (what the
``heliograph`` script runs); one runs the installed entry point as a
subprocess so that the wiring itself is covered.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from heliograph.cli import app
from heliograph.cli_errors import run_cli
from heliograph.public_url import remember_public_url


def fails(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run the CLI, expect failure, and return its one line of error."""
    code = run_cli(app, args)
    captured = capsys.readouterr()
    assert code != 0, captured
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    return lines[0]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("HELIOGRAPH_"):
            monkeypatch.delenv(name)


def test_admin_commands_on_a_missing_data_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "nope")
    for command in ("login-link", "cleanup", "digest"):
        line = fails(capsys, command, "--data-dir", missing)
        assert "no Heliograph database" in line and "--data-dir" in line
    assert not (tmp_path / "nope").exists(), "nothing is created on a wrong --data-dir"


def test_login_link_on_an_empty_directory_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "no Heliograph database" in fails(capsys, "login-link", "--data-dir", str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_serve_with_impossible_port_or_a_file_as_data_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = str(tmp_path / "data")
    assert "--port" in fails(capsys, "serve", "--port", "99999", "--data-dir", data)
    monkeypatch.setenv("HELIOGRAPH_PORT", "70000")
    assert "HELIOGRAPH_PORT=70000" in fails(capsys, "serve", "--data-dir", data)
    monkeypatch.delenv("HELIOGRAPH_PORT")
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    assert "is a file" in fails(capsys, "serve", "--port", "0", "--data-dir", str(a_file))


def test_serve_on_an_unknown_host_says_which_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = fails(
        capsys, "serve", "--host", "no-such-host.invalid", "--port", "0",
        "--data-dir", str(tmp_path),
    )  # fmt: skip
    assert "--host" in line and "another port" not in line


def test_bad_values_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = ("--data-dir", str(tmp_path))
    assert "not an email" in fails(capsys, "createuser", "notanemail", "--password", "x" * 8, *data)
    assert "--traces" in fails(capsys, "demo", "--traces", "-5", *data)
    assert "lowercase letters" in fails(capsys, "demo", "--project", "my project", *data)
    assert "No such option" in fails(capsys, "serve", "--no-such-flag")
    assert "No such command" in fails(capsys, "no-such-command")
    assert list(tmp_path.iterdir()) == [], "nothing is written before the values are checked"


def test_version_and_short_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(app, ["--version"]) == 0
    assert capsys.readouterr().out.startswith("heliograph ")
    assert run_cli(app, ["-h"]) == 0
    assert "login-link" in capsys.readouterr().out
    assert run_cli(app, ["login-link", "-h"]) == 0
    assert "--public-url" in capsys.readouterr().out


def test_links_use_the_url_serve_remembered(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = ("--data-dir", str(tmp_path))
    assert run_cli(app, ["createuser", "a@example.com", "--password", "x" * 8, *data]) == 0
    capsys.readouterr()
    remember_public_url(tmp_path, "http://127.0.0.1:9123")
    assert run_cli(app, ["login-link", "--email", "a@example.com", *data]) == 0
    assert capsys.readouterr().out.startswith("http://127.0.0.1:9123/login/link/")
    flag = ("--public-url", "https://errors.example.com/")
    assert run_cli(app, ["login-link", "--email", "a@example.com", *flag, *data]) == 0
    assert capsys.readouterr().out.startswith("https://errors.example.com/login/link/")


def test_the_installed_script_says_errors_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "heliograph", "cleanup", "--data-dir", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert result.stderr.startswith("heliograph: error: no Heliograph database")
