"""``heliograph restore SRC``: check a backup, then make it the data directory.

Nothing is put in place before all of it has been checked: every file the
manifest lists is copied into a hidden directory beside the data directory,
its SHA-256 and size compared with the manifest as it is copied, each SQLite
copy read through by ``PRAGMA quick_check``; only then is that directory
renamed into place. A failed restore leaves the data directory as it was.

A restore never writes under a running server: database files that some
process has open (:func:`heliograph.store.node_files.users_of`) stop it,
``--force`` or not. A data directory that holds anything else is only
replaced with ``force=True``, and even then it is renamed aside
(``<name>.before-restore-<time>``), not deleted.

What the restored queue holds is digested when the server starts: payloads
the store copy already has are skipped by event id, the rest are stored.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from heliograph.backup.files import copy_file, fsync_dir, hash_file, human_size
from heliograph.backup.manifest import BackupError, Entry, Manifest, read_manifest
from heliograph.backup.take import PG_DUMP_FILE, QueueCounts, queue_counts
from heliograph.store.node_files import known_schema_versions, quick_check, users_of

__all__ = [
    "PG_DUMP_FILE",
    "PG_RESTORE_COMMAND",
    "RestoreResult",
    "restore_backup",
    "verify_backup",
]

Say = Callable[[str], None]

# How to put a backup's PostgreSQL dump back (before the server starts).
PG_RESTORE_COMMAND = "pg_restore --clean --if-exists --no-owner --dbname {url} {dump}"


@dataclass(frozen=True)
class RestoreResult:
    data_dir: Path
    manifest: Manifest
    queue: QueueCounts
    # Where the data directory's earlier contents went (force=True), if anywhere.
    moved_aside: Path | None


def verify_backup(source: Path, *, say: Say = lambda line: None) -> Manifest:
    """Check a backup where it is (``restore --check``): every file, nothing copied."""
    manifest = read_manifest(source)
    _check_versions(manifest)
    for entry in manifest.files:
        path = _member(source, entry)
        try:
            found = hash_file(path)
        except FileNotFoundError:
            raise BackupError(f"{entry.path} is missing from the backup {source}") from None
        _compare(entry, found.size, found.sha256)
        if entry.is_sqlite:
            _check_sqlite(path, entry)
    size = human_size(manifest.total_bytes)
    say(f"{len(manifest.files)} files, {size}: all as the manifest says")
    return manifest


def restore_backup(
    source: Path, data_dir: Path, *, force: bool = False, say: Say = lambda line: None
) -> RestoreResult:
    """Check the backup in ``source`` and make it the contents of ``data_dir``."""
    manifest = read_manifest(source)
    _check_versions(manifest)
    target = data_dir.resolve()
    if target.exists() and not target.is_dir():
        raise BackupError(f"the data directory {data_dir} is a file", exit_code=2)
    if source.resolve() == target or target in source.resolve().parents:
        raise BackupError(f"the backup {source} is inside {data_dir}", exit_code=2)
    _check_target(target, force)

    staging = target.parent / f".{target.name}.restore-{os.getpid()}"
    target.parent.mkdir(parents=True, exist_ok=True)
    staging.mkdir()
    try:
        for entry in manifest.files:
            if entry.role == "postgresql-dump":
                _check_in_place(source, entry)
                say(f"{entry.path}: checked (restore it with pg_restore, see below)")
                continue
            _restore_file(source, staging, entry)
            if entry.role != "blob":
                say(f"{entry.path}: {human_size(entry.size)}, checked")
        blobs = manifest.of_role("blob")
        if blobs:
            say(f"blobs: {len(blobs)} files, {human_size(sum(e.size for e in blobs))}, checked")
        fsync_dir(staging)
        counts = queue_counts(staging, manifest)
        # A server may have started while the files were copied.
        _check_target(target, force)
        moved_aside = _install(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return RestoreResult(data_dir, manifest, counts, moved_aside)


def _check_target(target: Path, force: bool) -> None:
    if not target.is_dir():
        return
    try:
        in_use = users_of(target)
    except OSError as exc:
        raise BackupError(f"cannot tell whether {target} is in use: {exc.strerror}") from None
    if in_use:
        raise BackupError(
            f"{target} is in use ({', '.join(in_use)} open in a running process): "
            "stop the server first"
        )
    present = sorted(p.name for p in target.iterdir())
    if present and not force:
        shown = ", ".join(present[:5]) + (", ..." if len(present) > 5 else "")
        raise BackupError(
            f"{target} is not empty ({shown}): restore into a new directory, or pass --force "
            "to move what is there aside",
            exit_code=2,
        )


def _check_versions(manifest: Manifest) -> None:
    """Refuse files whose schema is newer than this Heliograph's (it would not know it)."""
    known = known_schema_versions()
    for entry in manifest.files:
        if entry.is_sqlite and (entry.schema_version or 0) > known[entry.role]:
            raise BackupError(
                f"{entry.path} has schema version {entry.schema_version}, newer than this "
                f"Heliograph's {known[entry.role]}: the backup was made by Heliograph "
                f"{manifest.heliograph_version}; restore it with that version or later"
            )


def _member(root: Path, entry: Entry) -> Path:
    return root.joinpath(*PurePosixPath(entry.path).parts)


def _compare(entry: Entry, size: int, sha256: str) -> None:
    if size != entry.size:
        raise BackupError(
            f"{entry.path} in the backup is damaged: {size} bytes, the manifest says {entry.size}"
        )
    if sha256 != entry.sha256:
        raise BackupError(
            f"{entry.path} in the backup is damaged: its SHA-256 is not the manifest's"
        )


def _check_sqlite(path: Path, entry: Entry) -> None:
    problem = quick_check(path)
    if problem is not None:
        raise BackupError(f"{entry.path} in the backup is damaged: {problem}")


def _check_in_place(source: Path, entry: Entry) -> None:
    try:
        found = hash_file(_member(source, entry))
    except FileNotFoundError:
        raise BackupError(f"{entry.path} is missing from the backup {source}") from None
    _compare(entry, found.size, found.sha256)


def _restore_file(source: Path, staging: Path, entry: Entry) -> None:
    target = _member(staging, entry)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        copied = copy_file(_member(source, entry), target)
    except FileNotFoundError:
        raise BackupError(f"{entry.path} is missing from the backup {source}") from None
    _compare(entry, copied.size, copied.sha256)
    if entry.is_sqlite:
        _check_sqlite(target, entry)


def _install(staging: Path, target: Path) -> Path | None:
    """Rename ``staging`` to ``target``; a non-empty ``target`` is first renamed aside."""
    moved_aside = None
    if target.is_dir() and any(target.iterdir()):
        stamp = time.strftime("%Y%m%d-%H%M%S")
        moved_aside = target.with_name(f"{target.name}.before-restore-{stamp}")
        target.rename(moved_aside)
    for directory in {p.parent for p in staging.rglob("*") if p.is_file()}:
        fsync_dir(directory)
    try:
        staging.rename(target)  # over an empty directory, if one is there
    except OSError:
        if moved_aside is not None:
            moved_aside.rename(target)  # as it was
        raise
    fsync_dir(target.parent)
    return moved_aside
