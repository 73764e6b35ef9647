"""``heliograph backup`` and ``restore`` on data directories made here, without a server.

The backup under load, restored into a running server, is
``tests/e2e/test_backup_restore.py``; these cover the checks around it.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from heliograph.backup import BackupError
from heliograph.backup import take as take_module
from heliograph.backup.files import hash_file
from heliograph.backup.restore import (
    PG_DUMP_FILE,
    PG_RESTORE_COMMAND,
    restore_backup,
    verify_backup,
)
from heliograph.backup.take import take_backup
from heliograph.cli import app
from heliograph.cli_errors import run_cli
from heliograph.config import Settings
from heliograph.store import open_queue, open_store
from heliograph.store.node_files import users_of
from heliograph.store.sqlite.schema import MIGRATIONS
from tests.postgres import PostgresCluster


def make_data_dir(data_dir: Path, *, queued: int = 3, shards: int = 2) -> None:
    """A store with one project, payloads waiting in each queue shard, a replay blob."""
    store = open_store(Settings(data_dir=data_dir).store_url)
    try:
        org = store.create_organization("acme", "Acme")
        store.create_project(org.id, "web", "Web")
    finally:
        store.close()
    for shard in range(shards):
        queue = open_queue(data_dir, shard)
        try:
            for n in range(queued):
                asyncio.run(queue.append(1, "sentry_store", time.time(), b'{"n": %d}' % n))
        finally:
            queue.close()
    blob = data_dir / "blobs" / "1" / "replay-a" / "0"
    blob.parent.mkdir(parents=True)
    blob.write_bytes(b"recording")
    (blob.parent / ".put-half-written").write_bytes(b"partial")
    (data_dir / "public-url").write_text("http://127.0.0.1:8000\n")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    make_data_dir(tmp_path / "data")
    return tmp_path / "data"


@pytest.fixture
def backup(data_dir: Path, tmp_path: Path) -> Path:
    take_backup(Settings(data_dir=data_dir), tmp_path / "backup")
    return tmp_path / "backup"


def cli(*args: str) -> int:
    return run_cli(app, list(args))


def test_a_backup_restores_into_a_store_that_opens(data_dir: Path, tmp_path: Path) -> None:
    result = take_backup(Settings(data_dir=data_dir), tmp_path / "backup")
    names = sorted(entry.path for entry in result.manifest.files)
    assert names == ["blobs/1/replay-a/0", "heliograph.sqlite3", "queue-1.sqlite3", "queue.sqlite3"]
    assert result.queue.waiting == 6
    # Runtime state and unfinished blob writes stay behind.
    backed_up = {p.name for p in (tmp_path / "backup").rglob("*")}
    assert not {"public-url", ".put-half-written"} & backed_up
    assert not [name for name in backed_up if name.endswith(("-wal", "-shm", ".lock"))]

    restored = restore_backup(tmp_path / "backup", tmp_path / "restored")
    assert restored.queue.waiting == 6 and restored.moved_aside is None
    store = open_store(Settings(data_dir=tmp_path / "restored").store_url, create=False)
    try:
        project = store.get_project("acme", "web")
        assert project is not None and project.name == "Web"
    finally:
        store.close()
    queue = open_queue(tmp_path / "restored", 1)
    try:
        assert [p.body for p in queue.oldest(10)] == [b'{"n": 0}', b'{"n": 1}', b'{"n": 2}']
    finally:
        queue.close()
    assert (tmp_path / "restored" / "blobs" / "1" / "replay-a" / "0").read_bytes() == b"recording"
    assert not list(tmp_path.glob(".*")), "no staging directory is left behind"


def test_the_queue_is_copied_before_the_store(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The order every acknowledged payload depends on (see heliograph.backup.take)."""
    copied: list[str] = []
    snapshot = take_module.snapshot_database

    def recording(source: Path, target: Path) -> int:
        copied.append(source.name)
        return snapshot(source, target)

    monkeypatch.setattr(take_module, "snapshot_database", recording)
    take_backup(Settings(data_dir=data_dir), tmp_path / "backup")
    assert copied == ["queue.sqlite3", "queue-1.sqlite3", "heliograph.sqlite3"]


def test_check_finds_a_corrupted_file(backup: Path, tmp_path: Path) -> None:
    store = backup / "heliograph.sqlite3"
    data = bytearray(store.read_bytes())
    data[len(data) // 2] ^= 0xFF
    store.write_bytes(bytes(data))
    with pytest.raises(BackupError, match=r"heliograph\.sqlite3 in the backup is damaged"):
        verify_backup(backup)
    with pytest.raises(BackupError, match="damaged"):
        restore_backup(backup, tmp_path / "restored")
    assert not (tmp_path / "restored").exists(), "nothing is put in place"
    assert not list(tmp_path.glob(".*restore*"))


def test_check_finds_a_truncated_or_missing_file(backup: Path) -> None:
    blob = backup / "blobs" / "1" / "replay-a" / "0"
    blob.write_bytes(b"rec")
    with pytest.raises(BackupError, match="3 bytes, the manifest says 9"):
        verify_backup(backup)
    blob.unlink()
    with pytest.raises(BackupError, match="missing"):
        verify_backup(backup)


def test_sqlite_damage_that_the_manifest_agrees_with_is_still_found(
    backup: Path, tmp_path: Path
) -> None:
    """A backup damaged before its manifest was written: quick_check reads every page."""
    queue = backup / "queue.sqlite3"
    data = bytearray(queue.read_bytes())
    data[4096 : 4096 + 100] = b"\xff" * 100  # the second page: the queue table's root
    queue.write_bytes(bytes(data))
    manifest = json.loads((backup / "manifest.json").read_text())
    for entry in manifest["files"]:
        if entry["path"] == "queue.sqlite3":
            entry["sha256"] = hash_file(queue).sha256
    (backup / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match=r"queue\.sqlite3 in the backup is damaged"):
        restore_backup(backup, tmp_path / "restored")


def test_an_unfinished_or_foreign_backup_is_refused(backup: Path, tmp_path: Path) -> None:
    manifest = backup / "manifest.json"
    original = manifest.read_text()
    manifest.unlink()
    with pytest.raises(BackupError, match="not a Heliograph backup, or one that did not finish"):
        verify_backup(backup)
    data = json.loads(original)
    data["files"][0]["path"] = "../../etc/passwd"
    manifest.write_text(json.dumps(data))
    with pytest.raises(BackupError, match="unsafe file name"):
        restore_backup(backup, tmp_path / "restored")


def test_a_backup_from_a_newer_schema_is_refused(backup: Path, tmp_path: Path) -> None:
    manifest = backup / "manifest.json"
    data = json.loads(manifest.read_text())
    for entry in data["files"]:
        if entry["role"] == "store":
            entry["schema_version"] = len(MIGRATIONS) + 1
    manifest.write_text(json.dumps(data))
    with pytest.raises(BackupError, match="newer than this Heliograph's"):
        restore_backup(backup, tmp_path / "restored")


def test_restore_refuses_a_data_directory_with_files_unless_forced(
    backup: Path, tmp_path: Path
) -> None:
    target = tmp_path / "target"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(BackupError, match=r"not empty .*notes\.txt.* --force"):
        restore_backup(backup, target)
    assert (target / "notes.txt").read_text() == "mine"

    result = restore_backup(backup, target, force=True)
    assert result.moved_aside is not None
    assert (result.moved_aside / "notes.txt").read_text() == "mine", "moved aside, not deleted"
    assert (target / "heliograph.sqlite3").exists() and not (target / "notes.txt").exists()

    empty = tmp_path / "empty"
    empty.mkdir()
    assert restore_backup(backup, empty).moved_aside is None


@pytest.fixture
def database_user(data_dir: Path) -> Iterator[None]:
    """Another process with the store open, as a running server's processes have."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
            "c.execute('PRAGMA journal_mode = WAL'); c.execute('SELECT 1 FROM sqlite_master'); "
            "print('open', flush=True); sys.stdin.read()",
            str(data_dir / "heliograph.sqlite3"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "open\n"
    yield
    assert holder.stdin is not None
    holder.stdin.close()
    holder.wait(timeout=10)


def test_restore_refuses_a_data_directory_in_use(
    data_dir: Path, backup: Path, database_user: None
) -> None:
    assert users_of(data_dir) == ["heliograph.sqlite3"]
    with pytest.raises(BackupError, match=r"in use .*heliograph\.sqlite3.* stop the server"):
        restore_backup(backup, data_dir, force=True)
    assert (data_dir / "public-url").exists(), "left as it was"


def test_a_data_directory_nobody_has_open_is_not_in_use(data_dir: Path) -> None:
    """Files left by a server that stopped (even by kill -9) hold no lock."""
    for name in ("heliograph.sqlite3-shm", "queue.sqlite3-writer.lock"):
        (data_dir / name).touch()
    assert users_of(data_dir) == []


def test_backup_refuses_a_destination_with_files(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "old").write_text("x")
    assert cli("backup", str(tmp_path / "full"), "--data-dir", str(data_dir)) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("heliograph: error: ") and "is not empty" in error
    assert cli("backup", str(data_dir / "inside"), "--data-dir", str(data_dir)) == 2
    assert "inside the data directory" in capsys.readouterr().err
    assert cli("backup", str(tmp_path / "b"), "--data-dir", str(tmp_path / "nothing")) == 2
    assert "no Heliograph database" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert cli("backup", str(tmp_path / "empty"), "--data-dir", str(data_dir)) == 0
    assert (tmp_path / "empty" / "manifest.json").exists()


def test_the_commands_print_what_they_did(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli("backup", str(tmp_path / "b"), "--data-dir", str(data_dir)) == 0
    out = capsys.readouterr().out
    assert "4 files" in out and "6 still queued for digest" in out
    assert cli("restore", str(tmp_path / "b"), "--check") == 0
    assert "is a sound backup" in capsys.readouterr().out
    assert cli("restore", str(tmp_path / "b"), "--data-dir", str(tmp_path / "r")) == 0
    out = capsys.readouterr().out
    assert "restored" in out and "6 queued payload(s)" in out and "schema version" in out
    assert cli("restore", str(tmp_path / "b"), "--data-dir", str(tmp_path / "r")) == 2
    assert "heliograph: error:" in capsys.readouterr().err
    assert cli("restore", str(tmp_path / "nope"), "--data-dir", str(tmp_path / "r2")) == 2


def test_a_postgresql_store_without_pg_dump_needs_partial(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The node's queue and blobs are still backed up; the manifest says what is missing."""
    monkeypatch.setattr(take_module.shutil, "which", lambda name: None)
    settings = Settings(
        data_dir=data_dir,
        database_url="postgresql://heliograph:secret@db.example/heliograph",
        events_url="clickhouse://ch.example/heliograph",
    )
    with pytest.raises(BackupError, match="--partial") as refused:
        take_backup(settings, tmp_path / "backup")
    assert "no pg_dump" in str(refused.value) and "ClickHouse" in str(refused.value)
    result = take_backup(settings, tmp_path / "backup", partial=True)
    assert result.manifest.backend == "postgresql+clickhouse"
    assert {e.role for e in result.manifest.files} == {"queue", "blob"}
    assert len(result.manifest.external) == 2
    assert "secret" not in json.dumps(result.manifest.external)


def test_a_postgresql_store_is_dumped_and_restores_with_pg_restore(
    postgres: PostgresCluster | None, tmp_path: Path
) -> None:
    if postgres is None or shutil.which("pg_dump") is None:
        pytest.skip("PostgreSQL (and pg_dump) not installed")
    url = postgres.new_database()
    store = open_store(url)
    try:
        org = store.create_organization("acme", "Acme")
        store.create_project(org.id, "web", "Web")
    finally:
        store.close()
    data_dir = tmp_path / "data"
    queue = open_queue(data_dir)
    try:
        asyncio.run(queue.append(1, "sentry_store", time.time(), b"{}"))
    finally:
        queue.close()

    settings = Settings(data_dir=data_dir, database_url=url)
    result = take_backup(settings, tmp_path / "backup")
    assert result.manifest.external == []
    assert {e.role for e in result.manifest.files} == {"queue", "postgresql-dump"}
    restored = restore_backup(tmp_path / "backup", tmp_path / "restored")
    assert restored.queue.waiting == 1
    assert not (tmp_path / "restored" / PG_DUMP_FILE).exists(), "the dump goes to the server"

    fresh = postgres.new_database()
    command = PG_RESTORE_COMMAND.format(url=fresh, dump=tmp_path / "backup" / PG_DUMP_FILE)
    subprocess.run(command.split(), check=True, capture_output=True)
    store = open_store(fresh)
    try:
        project = store.get_project("acme", "web")
        assert project is not None and project.name == "Web"
    finally:
        store.close()
