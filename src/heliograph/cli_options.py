"""What every ``heliograph`` command shares: the data directory option and the settings."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from heliograph.config import ConfigError, Settings

__all__ = ["DataDirOption", "command_settings"]

DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Where this node's files live [env: HELIOGRAPH_DATA_DIR]"),
]


def command_settings(data_dir: Path | None = None, **overrides: object) -> Settings:
    """Settings from the environment; flags given on the command line win."""
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        raise typer.BadParameter(str(exc)) from None
    if data_dir is not None:
        settings = replace(settings, data_dir=data_dir)
    if settings.data_dir.exists() and not settings.data_dir.is_dir():
        raise typer.BadParameter(f"the data directory {settings.data_dir} is a file")
    given = {k: v for k, v in overrides.items() if v is not None}
    return replace(settings, **given)  # type: ignore[arg-type]
