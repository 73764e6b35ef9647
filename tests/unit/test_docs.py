"""Docs are part of the product: every setting and command must be documented."""

from __future__ import annotations

import re
from pathlib import Path

from typer.main import get_command

from heliograph.cli import app

ROOT = Path(__file__).resolve().parents[2]
DOCS = "\n".join(p.read_text() for p in (ROOT / "docs").glob("*.md"))


def test_every_environment_variable_is_documented() -> None:
    source = "\n".join(p.read_text() for p in (ROOT / "src" / "heliograph").rglob("*.py"))
    variables = set(re.findall(r"HELIOGRAPH_[A-Z0-9_]*[A-Z0-9]", source))
    assert variables, "expected settings in the source"
    missing = sorted(v for v in variables if v not in DOCS)
    assert missing == []


def test_every_cli_command_and_option_is_documented() -> None:
    command = get_command(app)
    for name, sub in command.commands.items():  # type: ignore[attr-defined]
        if sub.hidden:
            continue
        assert f"heliograph {name}" in DOCS, name
        for param in sub.params:
            for opt in param.opts:
                if opt.startswith("--") and not param.hidden:
                    assert opt in DOCS, f"heliograph {name} {opt}"


def test_readme_links_resolve() -> None:
    readme = (ROOT / "README.md").read_text()
    for target in re.findall(r"\]\(([^)#]+)\)", readme):
        if not target.startswith("http"):
            assert (ROOT / target).exists(), target
