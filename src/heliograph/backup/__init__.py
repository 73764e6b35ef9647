"""``heliograph backup`` and ``heliograph restore``: a node's data, copied while it runs.

A backup is a directory that mirrors the data directory's durable part (the
store, every queue shard, the replay blobs) plus ``manifest.json``, which
lists each file with its size, SHA-256 and schema version. The manifest is
written last, so a directory without one is an unfinished backup.

- :mod:`.take` makes a backup, in the order that keeps every acknowledged
  payload (its docstring says why that order);
- :mod:`.restore` checks a backup and puts it in place of a data directory;
- :mod:`.manifest` is the manifest and its checks; :mod:`.files` the copies.

``docs/backup.md`` is the user's account of all this.
"""

from heliograph.backup.manifest import BackupError

__all__ = ["BackupError"]
