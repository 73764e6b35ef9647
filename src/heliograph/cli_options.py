"""What every ``heliograph`` command shares: the data directory option and the settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from heliograph.config import ConfigError, Settings
from heliograph.store import open_store
from heliograph.store.base import SchemaTooNew, StoreNotFound
from heliograph.store.contract import Store

__all__ = ["DataDirOption", "command_settings", "open_command_store"]

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


@contextmanager
def open_command_store(settings: Settings, *, create: bool = True) -> Iterator[Store]:
    """The configured store for one admin command, closed afterwards.

    ``create=False`` for commands that only make sense on existing data: a
    wrong ``--data-dir`` is said so instead of starting an empty store.
    """
    try:
        store = open_store(
            settings.store_url,
            events_url=settings.events_url,
            blobs_url=settings.blobs_url,
            create=create,
        )
    except ConfigError as exc:
        raise typer.BadParameter(str(exc)) from None
    except StoreNotFound as exc:
        raise typer.BadParameter(f"{exc} (is --data-dir right?)") from None
    except SchemaTooNew as exc:
        raise typer.BadParameter(str(exc)) from None
    try:
        yield store
    finally:
        store.close()
