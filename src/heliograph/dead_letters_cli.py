"""``heliograph dead-letters``: inspect, replay and purge quarantined payloads.

Digest quarantines a payload it could not store (a bug, or data beyond what
the store accepts) instead of retrying it forever; see ``docs/ingest.md``.
These commands work on the data directory directly, beside a running server.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

import typer

from heliograph.cli_options import DataDirOption, command_settings
from heliograph.protocols import bodies
from heliograph.store import open_node_queue
from heliograph.store.queue import NodeQueue

app = typer.Typer(help="Payloads digest could not store: list, show, replay, purge.")

IdsArgument = Annotated[list[int] | None, typer.Argument(help="Dead letter ids")]
AllOption = Annotated[bool, typer.Option("--all", help="Every dead letter")]


@contextmanager
def _queue(data_dir: Path | None) -> Iterator[NodeQueue]:
    """Every queue shard of the data directory (dead letters stay in their shard)."""
    settings = command_settings(data_dir)
    if not (settings.data_dir / "queue.sqlite3").exists():
        raise typer.BadParameter(f"no queue in {settings.data_dir}: is --data-dir right?")
    queue = open_node_queue(settings.data_dir)
    try:
        yield queue
    finally:
        queue.close()


def _when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _chosen(ids: list[int] | None, everything: bool) -> list[int] | None:
    if everything == bool(ids):
        raise typer.BadParameter("name dead letter ids, or pass --all (not both)")
    return None if everything else list(ids or ())


@app.command("list")
def list_dead_letters(
    data_dir: DataDirOption = None,
    limit: Annotated[int, typer.Option(help="Show at most this many, most recent first")] = 100,
) -> None:
    """List quarantined payloads, the most recently failed first."""
    with _queue(data_dir) as queue:
        letters = queue.dead_letters(limit=limit)
    if not letters:
        print("no dead letters")
        return
    for letter in letters:
        print(
            f"{letter.id}\tproject {letter.project_id}\t{letter.kind}\t{letter.size} bytes\t"
            f"failed {_when(letter.failed_at)}\t{letter.reason}"
        )


@app.command("show")
def show_dead_letter(dead_id: int, data_dir: DataDirOption = None) -> None:
    """Print one quarantined payload: why it failed, then its body, decoded."""
    with _queue(data_dir) as queue:
        found = queue.dead_letter_body(dead_id)
    if found is None:
        raise typer.BadParameter(f"no dead letter {dead_id}")
    letter, body = found
    print(f"id: {letter.id}\nproject: {letter.project_id}\nkind: {letter.kind}")
    print(f"received: {_when(letter.received_at)}\nfailed: {_when(letter.failed_at)}")
    print(f"encoding: {letter.encoding or 'identity'}\nreason: {letter.reason}\n")
    if letter.encoding:
        body = bodies.decompress(body, letter.encoding, bodies.MAX_ENVELOPE)
    sys.stdout.buffer.write(body + b"\n")


@app.command("replay")
def replay(
    ids: IdsArgument = None, everything: AllOption = False, data_dir: DataDirOption = None
) -> None:
    """Queue payloads for digest again (after upgrading past the bug that stopped them)."""
    chosen = _chosen(ids, everything)
    with _queue(data_dir) as queue:
        moved = queue.replay_dead_letters(chosen)
    print(f"queued {moved} payload(s) again")


@app.command("purge")
def purge(
    ids: IdsArgument = None, everything: AllOption = False, data_dir: DataDirOption = None
) -> None:
    """Delete quarantined payloads for good."""
    chosen = _chosen(ids, everything)
    with _queue(data_dir) as queue:
        deleted = queue.purge_dead_letters(chosen)
    print(f"deleted {deleted} dead letter(s)")
