"""``heliograph backup DEST``: a consistent copy of a node's data while it serves.

What must survive is every payload ingest acknowledged: ingest answers 2xx
only once the payload is committed to a queue shard, and digest commits a
batch to the store *before* it deletes the batch's payloads from the queue
(and skips, on a replay, event ids the store already has). Each SQLite file
is copied with the backup API (:func:`~heliograph.store.node_files.snapshot_database`):
a snapshot as of one instant, but a different instant for each file. The
order of the snapshots is what makes them agree.

**Queue shards first, then the store.** Take a payload acknowledged before
the backup began (time ``B``). At ``B`` it is either in its shard, or digest
already deleted it -- and so had committed it to the store before ``B``.
Its shard is snapshotted at some ``Q >= B``, the store at ``S > Q``:

- still in the shard at ``Q``: it is in the queue copy; restored, digest
  processes it (again, if it had reached the store after ``Q``: harmless,
  the event id is skipped);
- deleted from the shard before ``Q``: it was committed to the store before
  that deletion, so before ``S``, and it is in the store copy.

Either way it is in the backup. The opposite order loses payloads: one
digested and deleted between the store snapshot and the queue snapshot is in
neither. A payload never moves between shards, and moving one to the dead
letters happens inside its shard's transaction, so it is in that shard's
copy under one name or the other. Payloads acknowledged after ``B`` may or
may not be in; nothing was promised about them.

**Blobs after the store.** Digest writes (and fsyncs) a recording's blob
before it commits the row that names it, so a blob the store copy names
existed before ``S`` and is copied afterwards -- unless retention deleted
it in between, in which case that replay segment was on its way out anyway.
Blobs are immutable once written (replaced by rename), so copying them one
by one is safe; blobs of payloads still in the queue copy are written again
when the restored node digests them.

Runtime files are not copied: the ``*-writer.lock`` files, the shared
rate-limit buckets and change counters (``*.bin``, reset or re-read on
start), ``public-url`` (rewritten by each start), SQLite's ``-wal`` and
``-shm`` files (each snapshot is a whole, self-contained database).

With PostgreSQL the store lives on the database server: ``pg_dump`` (custom
format), started after the queue copies for the same reason, goes into the
backup when it is on ``PATH``. ClickHouse events, blobs in S3 and a
PostgreSQL without ``pg_dump`` cannot be copied from here: the backup fails
unless ``partial=True``, and the manifest then lists what it lacks.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from heliograph import __version__
from heliograph.backup.files import copy_file, fsync_dir, hash_file, human_size
from heliograph.backup.manifest import BackupError, Entry, Manifest, Role, write_manifest
from heliograph.config import Settings
from heliograph.store.node_files import (
    STORE_FILE,
    FileCopyError,
    queue_files,
    queued_payloads,
    snapshot_database,
)

__all__ = ["PG_DUMP_FILE", "BackupResult", "QueueCounts", "queue_counts", "take_backup"]

BLOBS_DIR = "blobs"
PG_DUMP_FILE = "postgresql.dump"
# FileBlobStore writes each blob to such a name first, then renames it.
_BLOB_TEMPORARY_PREFIX = ".put-"

Say = Callable[[str], None]


@dataclass(frozen=True)
class QueueCounts:
    """Payloads in the queue copies: digest's work when the backup is restored."""

    waiting: int = 0
    dead_letters: int = 0


@dataclass(frozen=True)
class BackupResult:
    destination: Path
    manifest: Manifest
    queue: QueueCounts
    seconds: float


def take_backup(
    settings: Settings,
    destination: Path,
    *,
    partial: bool = False,
    pg_dump: str | None = None,
    say: Say = lambda line: None,
) -> BackupResult:
    """Back up the node of ``settings`` into the new directory ``destination``.

    ``pg_dump``: the program to run for a PostgreSQL store (default: the one
    on ``PATH``, if any). ``say`` is told each step as it finishes. The
    backup is assembled in a hidden directory beside ``destination`` and
    renamed into place once complete, so ``destination`` either holds a
    whole backup or nothing.
    """
    data_dir = settings.data_dir
    _check_destination(data_dir, destination)
    backend = _backend(settings)
    if backend == "sqlite" and not (data_dir / STORE_FILE).is_file():
        raise BackupError(
            f"no Heliograph database at {data_dir / STORE_FILE} (is --data-dir right?)",
            exit_code=2,
        )
    if not data_dir.is_dir():
        raise BackupError(f"no data directory {data_dir} (is --data-dir right?)", exit_code=2)
    if backend != "sqlite" and pg_dump is None:
        pg_dump = shutil.which("pg_dump")
    external = _external_parts(settings, backend, pg_dump)
    if external and not partial:
        raise BackupError(
            "this backup cannot include: "
            + "; ".join(external)
            + ". Pass --partial to back up the rest and take care of those yourself "
            "(docs/backup.md)"
        )

    clock = time.monotonic()
    started_at = time.time()
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = destination.parent / f".{destination.name}.partial-{os.getpid()}"
    staging.mkdir()
    try:
        files: list[Entry] = []
        # The order matters: see the module docstring.
        files += _copy_queue(data_dir, staging, say)
        if backend == "sqlite":
            files.append(_copy_store(data_dir, staging, say))
        elif pg_dump is not None:
            files.append(_dump_postgresql(pg_dump, settings.database_url, staging, say))
        blob_root = _blob_root(settings)
        if blob_root is not None:
            files += _copy_blobs(blob_root, staging, say)
        manifest = Manifest(
            heliograph_version=__version__,
            started_at=started_at,
            finished_at=time.time(),
            backend=backend,
            files=files,
            external=external,
        )
        write_manifest(staging, manifest)
        fsync_dir(staging)
        counts = queue_counts(staging, manifest)
        _install(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return BackupResult(destination, manifest, counts, time.monotonic() - clock)


def _check_destination(data_dir: Path, destination: Path) -> None:
    """``destination`` is new or empty, and outside the data directory."""
    here, there = data_dir.resolve(), destination.resolve()
    if there == here or here in there.parents:
        raise BackupError(
            f"{destination} is inside the data directory {data_dir}: back up somewhere else",
            exit_code=2,
        )
    if destination.exists() or destination.is_symlink():
        if not destination.is_dir():
            raise BackupError(f"{destination} exists and is not a directory", exit_code=2)
        if any(destination.iterdir()):
            raise BackupError(
                f"{destination} is not empty: give a new (or empty) directory for each backup",
                exit_code=2,
            )


def _backend(settings: Settings) -> str:
    if not settings.database_url:
        return "sqlite"
    scheme = settings.database_url.split(":", 1)[0].lower()
    if scheme != "postgresql":
        raise BackupError(f"cannot back up a {scheme}:// store", exit_code=2)
    return "postgresql+clickhouse" if settings.events_url else "postgresql"


def _external_parts(settings: Settings, backend: str, pg_dump: str | None) -> list[str]:
    """What lives elsewhere and this backup cannot copy, each with what to do."""
    parts = []
    if backend != "sqlite" and pg_dump is None:
        parts.append(
            "the PostgreSQL database (no pg_dump on PATH): run `pg_dump --format=custom` "
            "after this backup has begun"
        )
    if backend == "postgresql+clickhouse":
        parts.append(
            "the events in ClickHouse: run `BACKUP DATABASE ... TO Disk(...)` or `TO S3(...)` "
            "after this backup has begun"
        )
    if _blob_root(settings) is None:
        parts.append(
            "the replay recordings in the blob store "
            f"{_without_password(settings.blobs_url)[0]}: copy or version that bucket "
            "after this backup has begun"
        )
    return parts


def _blob_root(settings: Settings) -> Path | None:
    """The directory of a ``file://`` blob store; None for one elsewhere (S3)."""
    url = settings.blobs_url
    if url.lower().startswith("file://"):
        return Path(url[len("file://") :])
    return None


def _copy_queue(data_dir: Path, staging: Path, say: Say) -> list[Entry]:
    entries = []
    for source in queue_files(data_dir):
        entries.append(_snapshot(source, staging / source.name, "queue"))
        say(f"queue shard {source.name}: {human_size(entries[-1].size)}")
    return entries


def _copy_store(data_dir: Path, staging: Path, say: Say) -> Entry:
    entry = _snapshot(data_dir / STORE_FILE, staging / STORE_FILE, "store")
    say(f"store {STORE_FILE}: {human_size(entry.size)} (schema version {entry.schema_version})")
    return entry


def _snapshot(source: Path, target: Path, role: Role) -> Entry:
    try:
        version = snapshot_database(source, target)
    except FileCopyError as exc:
        raise BackupError(str(exc)) from None
    copied = hash_file(target)
    return Entry(target.name, role, copied.size, copied.sha256, version)


def _copy_blobs(root: Path, staging: Path, say: Say) -> list[Entry]:
    """Every blob file under ``root``, into ``blobs/`` (a blob deleted meanwhile is skipped)."""
    entries: list[Entry] = []
    if not root.is_dir():
        return entries
    target_root = staging / BLOBS_DIR
    target_root.mkdir()
    for directory, subdirs, names in os.walk(root):
        subdirs.sort()
        here = Path(directory)
        relative = here.relative_to(root)
        (target_root / relative).mkdir(exist_ok=True)
        for name in sorted(names):
            if name.startswith(_BLOB_TEMPORARY_PREFIX):
                continue
            try:
                copied = copy_file(here / name, target_root / relative / name)
            except FileNotFoundError:
                continue  # deleted since it was listed
            path = (Path(BLOBS_DIR) / relative / name).as_posix()
            entries.append(Entry(path, "blob", copied.size, copied.sha256))
        fsync_dir(target_root / relative)
    say(f"blobs: {len(entries)} files, {human_size(sum(e.size for e in entries))}")
    return entries


def _without_password(url: str) -> tuple[str, str | None]:
    """``url`` without its password (to show, or to put on a command line), and the password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url, None
    user = f"{parts.username}@" if parts.username else ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{user}{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc)), unquote(parts.password)


def _dump_postgresql(pg_dump: str, url: str, staging: Path, say: Say) -> Entry:
    """``pg_dump --format=custom`` of the store; the password goes in the environment.

    pg_dump's snapshot is taken when it starts, after the queue copies: the
    same order, for the same reason, as with SQLite.
    """
    target = staging / PG_DUMP_FILE
    shown, password = _without_password(url)
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = password
    command = [pg_dump, "--format=custom", "--no-password", "--file", str(target), shown]
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise BackupError(f"cannot run {pg_dump}: {exc.strerror}") from None
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise BackupError(f"pg_dump of {shown} failed: {reason}")
    with target.open("rb") as file:
        os.fsync(file.fileno())
    copied = hash_file(target)
    say(f"PostgreSQL {shown}: {human_size(copied.size)} (pg_dump, custom format)")
    return Entry(PG_DUMP_FILE, "postgresql-dump", copied.size, copied.sha256)


def queue_counts(directory: Path, manifest: Manifest) -> QueueCounts:
    """Payloads waiting, and dead letters, in the queue shards of a backup's files."""
    waiting = dead = 0
    for entry in manifest.of_role("queue"):
        shard_waiting, shard_dead = queued_payloads(directory / entry.path)
        waiting += shard_waiting
        dead += shard_dead
    return QueueCounts(waiting, dead)


def _install(staging: Path, destination: Path) -> None:
    """Rename the finished backup into place (over an empty directory, if one is there)."""
    try:
        staging.rename(destination)
    except OSError as exc:
        raise BackupError(f"cannot move the backup into {destination}: {exc.strerror}") from None
    fsync_dir(destination.parent)
