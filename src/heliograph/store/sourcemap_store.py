"""Source-map storage, one implementation for every SQL backend.

``sentry-cli`` uploads a bundle in chunks (SHA-1 named, up to 8 MiB each),
then asks for it to be assembled. Chunks and the files of assembled bundles
are blobs (:mod:`heliograph.store.blobs`), since they are large and never
queried; the database keeps what finds them: which chunks an organization
has, the bundles, the projects each is for, and each file's URL, type and
debug id.

A bundle is one per (organization, checksum of the zip): uploading the same
bundle again, for another project too, links it rather than storing it
twice. Its file blobs live under the bundle's own prefix
(``sourcemaps/<org>/<bundle checksum>/<file checksum>``), so deleting a
bundle never touches a blob another bundle uses.

Retention: a bundle goes once it has not been uploaded or used to resolve
an event for as long as the longest ``retention_days`` of its projects
(90 days when none is left; never while one of them keeps data forever).
Chunks never assembled go after :data:`CHUNK_TTL`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, Generic

from heliograph.store.account_reads import DbT
from heliograph.store.blobs import BlobStore
from heliograph.store.sourcemap_records import ArtifactBundle, NewArtifactBundle, SourceFile
from heliograph.store.sql_dialect import SqlDialect

__all__ = ["CHUNK_TTL", "SourceMapStoreMixin", "chunk_key", "file_key"]

# Uploaded chunks not assembled into a bundle within a day are dropped.
CHUNK_TTL = 24 * 3600
# Retention of a bundle whose projects are all gone.
ORPHAN_RETENTION_DAYS = 90
# A bundle's ``used_at`` moves at most this often (one write per bundle a day).
TOUCH_INTERVAL = 24 * 3600
# How many files a lookup returns at most (the newest bundles first).
MAX_MATCHES = 20

_FILE_COLUMNS = (
    "f.path, f.url, f.file_type, f.debug_id, f.sourcemap, f.blob_key, f.size, f.checksum, "
    "f.bundle_id"
)
_BUNDLE_COLUMNS = (
    "b.id, b.organization_id, b.checksum, b.release, b.dist, b.files, b.bytes, "
    "b.created_at, b.used_at"
)


def chunk_key(organization_id: int, checksum: str) -> str:
    """Where an uploaded chunk waits for assembly (``checksum``: 40 hex digits, checked)."""
    return f"chunks/{organization_id}/{checksum}"


def file_key(organization_id: int, bundle_checksum: str, file_checksum: str) -> str:
    """Where one file of an assembled bundle lives."""
    return f"sourcemaps/{organization_id}/{bundle_checksum}/{file_checksum}"


def _many(conn: Any, statement: str, rows: Sequence[Sequence[Any]]) -> None:
    """``executemany`` on a cursor: psycopg's connections have no such method."""
    if not rows:
        return
    cursor = conn.cursor()
    try:
        cursor.executemany(statement, rows)
    finally:
        cursor.close()


def _file(row: Sequence[Any]) -> SourceFile:
    return SourceFile(
        path=row[0],
        url=row[1],
        file_type=row[2],
        debug_id=row[3],
        sourcemap=row[4],
        blob_key=row[5],
        size=int(row[6]),
        checksum=row[7],
        bundle_id=int(row[8]),
    )


class SourceMapStoreMixin(Generic[DbT]):
    """Source maps shared by the backends; the class provides ``db``, ``dialect``, ``blobs``."""

    db: DbT
    dialect: ClassVar[SqlDialect]
    blobs: BlobStore

    def _sm_rows(self, sql: str, params: Sequence[Any]) -> list[Any]:
        statement = self.dialect.sql(sql)
        return self.db.read(lambda conn: conn.execute(statement, params).fetchall())

    # -- chunks ----------------------------------------------------------------

    def put_upload_chunks(self, organization_id: int, chunks: Mapping[str, bytes]) -> None:
        """Keep uploaded chunks (checksum -> bytes, checked by the caller): blobs first,
        then their rows, so that a listed chunk always has its blob."""
        for checksum, data in chunks.items():
            self.blobs.put(chunk_key(organization_id, checksum), data)
        now = time.time()
        statement = self.dialect.sql(
            "INSERT INTO upload_chunks (organization_id, checksum, size, created_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (organization_id, checksum) "
            "DO UPDATE SET created_at = excluded.created_at"
        )
        rows = [(organization_id, c, len(d), now) for c, d in sorted(chunks.items())]
        self.db.write(lambda conn: _many(conn, statement, rows))

    def missing_upload_chunks(self, organization_id: int, checksums: Sequence[str]) -> list[str]:
        """The checksums, in their order, of which no chunk is uploaded."""
        if not checksums:
            return []
        condition, params = self.dialect.in_list("checksum", sorted(set(checksums)))
        rows = self._sm_rows(
            f"SELECT checksum FROM upload_chunks WHERE organization_id = ? AND {condition}",
            (organization_id, *params),
        )
        have = {row[0] for row in rows}
        return [c for c in checksums if c not in have]

    def upload_chunk(self, organization_id: int, checksum: str) -> bytes | None:
        return self.blobs.get(chunk_key(organization_id, checksum))

    def drop_upload_chunks(self, organization_id: int, checksums: Iterable[str]) -> None:
        """Forget chunks (once assembled): rows first, then blobs."""
        wanted = sorted(set(checksums))
        if not wanted:
            return
        condition, params = self.dialect.in_list("checksum", wanted)
        statement = self.dialect.sql(
            f"DELETE FROM upload_chunks WHERE organization_id = ? AND {condition}"
        )
        self.db.write(lambda conn: conn.execute(statement, (organization_id, *params)))
        self.blobs.delete(chunk_key(organization_id, c) for c in wanted)

    # -- bundles ---------------------------------------------------------------

    def _bundles(self, where: str, params: Sequence[Any]) -> list[ArtifactBundle]:
        rows = self._sm_rows(f"SELECT {_BUNDLE_COLUMNS} FROM artifact_bundles b {where}", params)
        if not rows:
            return []
        condition, ids = self.dialect.in_list("bundle_id", [row[0] for row in rows])
        links: dict[int, list[int]] = {}
        for bundle_id, project_id in self._sm_rows(
            f"SELECT bundle_id, project_id FROM artifact_bundle_projects WHERE {condition} "
            "ORDER BY project_id",
            ids,
        ):
            links.setdefault(int(bundle_id), []).append(int(project_id))
        return [
            ArtifactBundle(
                id=int(row[0]),
                organization_id=int(row[1]),
                checksum=row[2],
                release=row[3],
                dist=row[4],
                files=int(row[5]),
                bytes=int(row[6]),
                created_at=float(row[7]),
                used_at=float(row[8]),
                project_ids=tuple(links.get(int(row[0]), ())),
            )
            for row in rows
        ]

    def get_artifact_bundle(self, organization_id: int, checksum: str) -> ArtifactBundle | None:
        found = self._bundles(
            "WHERE b.organization_id = ? AND b.checksum = ?", (organization_id, checksum)
        )
        return found[0] if found else None

    def list_artifact_bundles(self, project_id: int, *, limit: int = 100) -> list[ArtifactBundle]:
        """The project's bundles, newest first."""
        return self._bundles(
            "JOIN artifact_bundle_projects l ON l.bundle_id = b.id WHERE l.project_id = ? "
            "ORDER BY b.created_at DESC, b.id DESC LIMIT ?",
            (project_id, limit),
        )

    def save_artifact_bundle(self, bundle: NewArtifactBundle) -> ArtifactBundle:
        """Store an assembled bundle (its file blobs already written) and link it to its
        projects. The same checksum again only adds links and counts as a new upload."""
        now = time.time()
        insert = self.dialect.sql(
            "INSERT INTO artifact_bundles (organization_id, checksum, release, dist, files, "
            "bytes, created_at, used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (organization_id, checksum) DO UPDATE SET used_at = excluded.used_at "
            "RETURNING id, created_at"
        )
        add_file = self.dialect.sql(
            "INSERT INTO artifact_files (bundle_id, path, url, file_type, debug_id, sourcemap, "
            "blob_key, size, checksum) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (bundle_id, path) DO NOTHING"
        )
        link = self.dialect.sql(
            "INSERT INTO artifact_bundle_projects (project_id, bundle_id) VALUES (?, ?) "
            "ON CONFLICT (project_id, bundle_id) DO NOTHING"
        )
        total = sum(f.size for f in bundle.files)

        def write(conn: Any) -> int:
            row = conn.execute(
                insert,
                (
                    bundle.organization_id,
                    bundle.checksum,
                    bundle.release,
                    bundle.dist,
                    len(bundle.files),
                    total,
                    now,
                    now,
                ),
            ).fetchone()
            bundle_id = int(row[0])
            # A bundle already stored keeps its created_at: only a new one gets files.
            if float(row[1]) == now:
                _many(
                    conn,
                    add_file,
                    [
                        (bundle_id, f.path, f.url, f.file_type, f.debug_id, f.sourcemap,
                         f.blob_key, f.size, f.checksum)
                        for f in bundle.files
                    ],
                )  # fmt: skip
            _many(conn, link, [(p, bundle_id) for p in sorted(set(bundle.project_ids))])
            return bundle_id

        self.db.write(write)
        found = self.get_artifact_bundle(bundle.organization_id, bundle.checksum)
        assert found is not None
        return found

    def delete_artifact_bundle(self, bundle_id: int) -> bool:
        """Forget a bundle: its rows, then its blobs (a crash between leaves only orphans)."""
        keys = [row[0] for row in self._sm_rows(
            "SELECT blob_key FROM artifact_files WHERE bundle_id = ?", (bundle_id,)
        )]  # fmt: skip

        def write(conn: Any) -> int:
            for table in ("artifact_files", "artifact_bundle_projects"):
                conn.execute(
                    self.dialect.sql(f"DELETE FROM {table} WHERE bundle_id = ?"), (bundle_id,)
                )
            cursor = conn.execute(
                self.dialect.sql("DELETE FROM artifact_bundles WHERE id = ?"), (bundle_id,)
            )
            return int(cursor.rowcount)

        deleted = self.db.write(write)
        self.blobs.delete(keys)
        return deleted > 0

    # -- lookups ----------------------------------------------------------------

    def find_source_files(
        self,
        project_id: int,
        *,
        debug_id: str | None = None,
        release: str | None = None,
        dist: str | None = None,
        urls: Sequence[str] = (),
    ) -> list[SourceFile]:
        """The project's files with this debug id, or else of this release and dist at
        one of these URLs; the newest bundle's first."""
        where: list[str]
        params: list[Any]
        if debug_id is not None:
            where, params = ["f.debug_id = ?"], [debug_id.lower()]
        elif release is not None and urls:
            condition, params = self.dialect.in_list("f.url", list(dict.fromkeys(urls)))
            where = [condition, "b.release = ?", "COALESCE(b.dist, '') = ?"]
            params += [release, dist or ""]
        else:
            return []
        rows = self._sm_rows(
            f"SELECT {_FILE_COLUMNS} FROM artifact_files f "
            "JOIN artifact_bundle_projects l ON l.bundle_id = f.bundle_id AND l.project_id = ? "
            "JOIN artifact_bundles b ON b.id = f.bundle_id "
            f"WHERE {' AND '.join(where)} ORDER BY b.created_at DESC, b.id DESC LIMIT ?",
            (project_id, *params, MAX_MATCHES),
        )
        return [_file(row) for row in rows]

    def source_file_data(self, file: SourceFile) -> bytes | None:
        return self.blobs.get(file.blob_key)

    def touch_artifact_bundles(self, bundle_ids: Iterable[int], now: float | None = None) -> None:
        """Note that these bundles resolved an event (retention counts from it); a bundle
        touched within :data:`TOUCH_INTERVAL` is left alone."""
        ids = sorted(set(bundle_ids))
        if not ids:
            return
        now = time.time() if now is None else now
        condition, params = self.dialect.in_list("id", ids)
        statement = self.dialect.sql(
            f"UPDATE artifact_bundles SET used_at = ? WHERE {condition} AND used_at < ?"
        )
        self.db.write(lambda conn: conn.execute(statement, (now, *params, now - TOUCH_INTERVAL)))

    # -- retention ---------------------------------------------------------------

    def purge_source_maps(
        self,
        now: float,
        *,
        dry_run: bool,
        stop: threading.Event | None = None,
        batch: int = 100,
    ) -> int:
        """Delete expired bundles (see the module's docstring) and stale chunks; returns
        how many bundles went (``dry_run``: would go)."""
        expired = (
            "SELECT b.id FROM artifact_bundles b WHERE b.used_at < ? - 86400 * COALESCE("
            "(SELECT MAX(p.retention_days) FROM artifact_bundle_projects l JOIN projects p "
            "ON p.id = l.project_id WHERE l.bundle_id = b.id), ?) AND NOT EXISTS "
            "(SELECT 1 FROM artifact_bundle_projects l JOIN projects p ON p.id = l.project_id "
            "WHERE l.bundle_id = b.id AND p.retention_days <= 0) ORDER BY b.id LIMIT ?"
        )
        total = 0
        while stop is None or not stop.is_set():
            rows = self._sm_rows(
                expired, (now, ORPHAN_RETENTION_DAYS, batch if not dry_run else 1_000_000)
            )
            if dry_run:
                return len(rows)
            for (bundle_id,) in rows:
                self.delete_artifact_bundle(int(bundle_id))
            total += len(rows)
            if len(rows) < batch:
                break
        stale = self._sm_rows(
            "SELECT organization_id, checksum FROM upload_chunks WHERE created_at < ? LIMIT 1000",
            (now - CHUNK_TTL,),
        )
        by_org: dict[int, list[str]] = {}
        for organization_id, checksum in stale:
            by_org.setdefault(int(organization_id), []).append(checksum)
        for organization_id, checksums in by_org.items():
            self.drop_upload_chunks(organization_id, checksums)
        return total
