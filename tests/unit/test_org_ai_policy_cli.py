"""``heliograph org set-ai-policy``: the organization's AI policy from a shell (issue 16)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from heliograph.cli import app
from tests.stores import data_store

runner = CliRunner()


def test_set_ai_policy(tmp_path: Path) -> None:
    with data_store(tmp_path) as store:
        store.create_organization("acme", "Acme")
    data_dir = ["--data-dir", str(tmp_path)]

    result = runner.invoke(app, ["org", "set-ai-policy", "acme", "consent_required", *data_dir])
    assert result.exit_code == 0, result.output
    assert "AI policy consent_required" in result.output
    with data_store(tmp_path) as store:
        org = store.get_organization("acme")
        assert org is not None and org.ai_policy == "consent_required"

    # The same check as the API: an unknown state is refused, and nothing changes.
    result = runner.invoke(app, ["org", "set-ai-policy", "acme", "sometimes", *data_dir])
    assert result.exit_code == 2 and "must be one of" in result.output
    result = runner.invoke(app, ["org", "set-ai-policy", "nope", "disabled", *data_dir])
    assert result.exit_code == 2 and "no organization" in result.output
    with data_store(tmp_path) as store:
        org = store.get_organization("acme")
        assert org is not None and org.ai_policy == "consent_required"
