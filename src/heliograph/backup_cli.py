"""``heliograph backup DEST`` and ``heliograph restore SRC`` (:mod:`heliograph.backup`).

Steps go to stderr as they finish, the summary to stdout; a backup or
restore that cannot go on is one line saying why and a non-zero exit status
(``2`` when a path given is wrong, ``1`` otherwise), never a traceback.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from heliograph.backup import BackupError
from heliograph.backup.files import human_size
from heliograph.backup.manifest import Manifest
from heliograph.backup.restore import (
    PG_DUMP_FILE,
    PG_RESTORE_COMMAND,
    restore_backup,
    verify_backup,
)
from heliograph.backup.take import take_backup
from heliograph.cli_errors import error_line
from heliograph.cli_options import DataDirOption, command_settings

__all__ = ["backup", "restore"]

_steps = Console(stderr=True, highlight=False, soft_wrap=True)
_out = Console(highlight=False, soft_wrap=True)


def _step(line: str) -> None:
    _steps.print(f"  [dim]{escape(line)}[/dim]")


def _when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _fail(exc: BackupError) -> typer.Exit:
    error_line(str(exc))
    return typer.Exit(exc.exit_code)


def backup(
    destination: Annotated[
        Path,
        typer.Argument(metavar="DEST", help="A new (or empty) directory to write the backup into"),
    ],
    data_dir: DataDirOption = None,
    partial: Annotated[
        bool,
        typer.Option(
            "--partial",
            help="Back up what this node can copy even when part of the data lives "
            "elsewhere (ClickHouse, blobs in S3, PostgreSQL without pg_dump)",
        ),
    ] = False,
) -> None:
    """Copy the data directory (store, queue, replay blobs) while the server runs."""
    settings = command_settings(data_dir)
    _steps.print(f"backing up {escape(str(settings.data_dir))}")
    try:
        result = take_backup(settings, destination, partial=partial, say=_step)
    except BackupError as exc:
        raise _fail(exc) from None
    manifest = result.manifest
    _out.print(
        f"backed up {escape(str(settings.data_dir))} into [bold]{escape(str(destination))}"
        f"[/bold]: {_count(len(manifest.files), 'file')}, {human_size(manifest.total_bytes)} "
        f"in {result.seconds:.1f} s"
    )
    _out.print(
        f"  every payload acknowledged before {_when(manifest.started_at)} is in it "
        f"({result.queue.waiting} still queued for digest, "
        f"{result.queue.dead_letters} dead letters)"
    )
    for part in manifest.external:
        _out.print(f"  [yellow]not in this backup:[/yellow] {escape(part)}")


def restore(
    source: Annotated[
        Path, typer.Argument(metavar="SRC", help="A directory made by `heliograph backup`")
    ],
    data_dir: DataDirOption = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Restore over a data directory that holds files (they are moved aside, "
            "not deleted)",
        ),
    ] = False,
    check: Annotated[
        bool,
        typer.Option("--check", help="Only check the backup against its manifest; restore nothing"),
    ] = False,
) -> None:
    """Check a backup and make it the data directory (with the server stopped)."""
    settings = command_settings(data_dir)
    if check:
        try:
            manifest = verify_backup(source, say=_step)
        except BackupError as exc:
            raise _fail(exc) from None
        _out.print(f"{escape(str(source))} is a sound backup")
        _describe(manifest)
        return
    _steps.print(f"restoring {escape(str(source))} into {escape(str(settings.data_dir))}")
    try:
        result = restore_backup(source, settings.data_dir, force=force, say=_step)
    except BackupError as exc:
        raise _fail(exc) from None
    manifest = result.manifest
    _out.print(f"restored {escape(str(source))} into [bold]{escape(str(settings.data_dir))}[/bold]")
    _describe(manifest)
    if result.moved_aside is not None:
        _out.print(f"  what was there before is now in {escape(str(result.moved_aside))}")
    queued = result.queue.waiting
    _out.print(
        f"  {queued} queued payload(s) and {result.queue.dead_letters} dead letter(s): "
        "start the server and digest stores the queued ones (those already stored are skipped)"
    )
    _notes(manifest, source, bool(settings.database_url))


def _describe(manifest: Manifest) -> None:
    store = manifest.of_role("store")
    queue = manifest.of_role("queue")
    blobs = manifest.of_role("blob")
    _out.print(
        f"  made by Heliograph {escape(manifest.heliograph_version)}, begun "
        f"{_when(manifest.started_at)}; store: {escape(manifest.backend)}"
        + (f" (schema version {store[0].schema_version})" if store else "")
        + f"; {_count(len(queue), 'queue shard')}; {_count(len(blobs), 'blob')}; "
        f"{human_size(manifest.total_bytes)} in all"
    )


def _notes(manifest: Manifest, source: Path, database_url_set: bool) -> None:
    """What the restore could not do by itself: the server databases, in words."""
    if manifest.of_role("postgresql-dump"):
        command = PG_RESTORE_COMMAND.format(url="URL", dump=source / PG_DUMP_FILE)
        _out.print(
            "  [yellow]the PostgreSQL store is not restored by this command[/yellow]: "
            f"before starting the server, run {escape(command)} (URL: HELIOGRAPH_DATABASE_URL)"
        )
    if manifest.backend == "sqlite" and database_url_set:
        _out.print(
            "  [yellow]note:[/yellow] HELIOGRAPH_DATABASE_URL is set: the server will use that "
            "database, not the restored heliograph.sqlite3"
        )
    if manifest.backend != "sqlite" and not database_url_set:
        _out.print(
            "  [yellow]note:[/yellow] this backup's store was PostgreSQL: set "
            "HELIOGRAPH_DATABASE_URL to the database you restore it into"
        )
    for part in manifest.external:
        _out.print(f"  [yellow]not in this backup:[/yellow] {escape(part)}")
