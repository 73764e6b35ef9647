"""``manifest.json``: what a backup holds, and the checks a restore runs on it.

The manifest lists every file of the backup with its size and SHA-256, and
each SQLite file with its schema version (``PRAGMA user_version``). A
restore copies only the files listed, checks each against its entry, and
refuses a backup made by a Heliograph whose schema is newer than its own
(an older one is fine: the server migrates it on start).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

__all__ = [
    "FORMAT",
    "MANIFEST",
    "BackupError",
    "Entry",
    "Manifest",
    "Role",
    "read_manifest",
    "write_manifest",
]

MANIFEST = "manifest.json"
FORMAT = 1

Role = Literal["store", "queue", "blob", "postgresql-dump"]
_ROLES = ("store", "queue", "blob", "postgresql-dump")


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says what to do."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class Entry:
    """One file of a backup, at ``path`` (relative, ``/``-separated) in it."""

    path: str
    role: Role
    size: int
    sha256: str
    # SQLite files only: PRAGMA user_version when the copy was made.
    schema_version: int | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.role in ("store", "queue")


@dataclass
class Manifest:
    heliograph_version: str
    # When the backup began (Unix seconds): every payload acknowledged before it is in.
    started_at: float
    finished_at: float
    # "sqlite", "postgresql" or "postgresql+clickhouse": where the store was.
    backend: str
    files: list[Entry] = field(default_factory=list)
    # What the backup does not hold and must be backed up elsewhere, in words.
    external: list[str] = field(default_factory=list)
    format: int = FORMAT

    def of_role(self, role: Role) -> list[Entry]:
        return [entry for entry in self.files if entry.role == role]

    @property
    def total_bytes(self) -> int:
        return sum(entry.size for entry in self.files)


def write_manifest(directory: Path, manifest: Manifest) -> None:
    """Write the manifest durably: to a temporary name, fsynced, then renamed."""
    partial = directory / f".{MANIFEST}.partial"
    with partial.open("w", encoding="utf-8") as out:
        json.dump(asdict(manifest), out, indent=2)
        out.write("\n")
        out.flush()
        os.fsync(out.fileno())
    partial.replace(directory / MANIFEST)


def read_manifest(directory: Path) -> Manifest:
    """The backup's manifest, or :class:`BackupError` saying why it is unusable."""
    path = directory / MANIFEST
    if not directory.is_dir():
        raise BackupError(f"{directory} is not a directory (a backup is one)", exit_code=2)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(
            f"no {MANIFEST} in {directory}: not a Heliograph backup, or one that did not finish"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BackupError(f"{path} cannot be read: {exc}") from None
    try:
        return _parse(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise BackupError(f"{path} is damaged: {exc}") from None


def _parse(data: Any) -> Manifest:
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    version = data.get("format")
    if version != FORMAT:
        raise ValueError(f"format {version!r}; this Heliograph reads format {FORMAT}")
    files = [_entry(item) for item in data["files"]]
    if len({entry.path for entry in files}) != len(files):
        raise ValueError("a file is listed twice")
    external = data.get("external", [])
    if not isinstance(external, list) or not all(isinstance(x, str) for x in external):
        raise ValueError("'external' is not a list of strings")
    return Manifest(
        heliograph_version=str(data["heliograph_version"]),
        started_at=float(data["started_at"]),
        finished_at=float(data["finished_at"]),
        backend=str(data["backend"]),
        files=files,
        external=external,
    )


def _entry(item: Any) -> Entry:
    if not isinstance(item, dict):
        raise ValueError("a file entry is not a JSON object")
    path = str(item["path"])
    parts = PurePosixPath(path).parts
    # A manifest names files inside the backup, never outside it.
    if not parts or path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"unsafe file name {path!r}")
    if parts[0] == MANIFEST:
        raise ValueError(f"{MANIFEST} cannot list itself")
    role = item["role"]
    if role not in _ROLES:
        raise ValueError(f"unknown role {role!r} for {path}")
    size = item["size"]
    if not isinstance(size, int) or size < 0:
        raise ValueError(f"bad size for {path}")
    sha256 = str(item["sha256"])
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError(f"bad sha256 for {path}")
    version = item.get("schema_version")
    if version is not None and not isinstance(version, int):
        raise ValueError(f"bad schema_version for {path}")
    return Entry(path, role, size, sha256, version)
