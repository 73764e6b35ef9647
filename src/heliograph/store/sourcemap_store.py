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
from heliograph.store.cursors import decode_cursor, encode_cursor
from heliograph.store.sourcemap_records import (
    ArtifactBundle,
    BundleFiles,
    NewArtifactBundle,
    SourceFile,
)
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

    def get_artifact_bundle_by_id(self, bundle_id: int) -> ArtifactBundle | None:
        found = self._bundles("WHERE b.id = ?", (bundle_id,))
        return found[0] if found else None

    def list_artifact_bundles(self, project_id: int, *, limit: int = 100) -> list[ArtifactBundle]:
        """The project's bundles, newest first."""
        return self.page_artifact_bundles([project_id], limit=limit)[0]

    def page_artifact_bundles(
        self,
        project_ids: Sequence[int],
        *,
        limit: int = 100,
        cursor: str | None = None,
        release: str | None = None,
        path: str | None = None,
        url: str | None = None,
    ) -> tuple[list[ArtifactBundle], str | None]:
        """Bundles of any of these projects, newest first, a page at a time, and the
        cursor of the next page (None: no more). Only those of ``release``, and those
        holding a file at ``path`` / of ``url``, when given. ValueError for a malformed
        cursor."""
        ids = sorted(set(project_ids))
        if not ids or limit < 1:
            return [], None
        linked, params = self.dialect.in_list("l.project_id", ids)
        where = [
            f"EXISTS (SELECT 1 FROM artifact_bundle_projects l WHERE l.bundle_id = b.id "
            f"AND {linked})"
        ]
        after = decode_cursor(cursor)
        if after is not None:
            where.append("(b.created_at < ? OR (b.created_at = ? AND b.id < ?))")
            params += [after[0], after[0], after[1]]
        if release is not None:
            where.append("b.release = ?")
            params.append(release)
        holding = [(column, value) for column, value in (("path", path), ("url", url)) if value]
        if holding:
            where.append(
                "EXISTS (SELECT 1 FROM artifact_files f WHERE f.bundle_id = b.id AND "
                + " AND ".join(f"f.{column} = ?" for column, _ in holding)
                + ")"
            )
            params += [value for _, value in holding]
        found = self._bundles(
            f"WHERE {' AND '.join(where)} ORDER BY b.created_at DESC, b.id DESC LIMIT ?",
            (*params, limit + 1),
        )
        if len(found) <= limit:
            return found, None
        last = found[limit - 1]
        return found[:limit], encode_cursor(last.created_at, last.id)

    def artifact_bundle_files(
        self, bundle_ids: Sequence[int], *, per_bundle: int | None = None
    ) -> dict[int, BundleFiles]:
        """Each bundle's files by path (the first ``per_bundle`` of each, when given:
        a bundle may hold 10,000) and its count of distinct debug ids."""
        ids = sorted(set(bundle_ids))
        if not ids:
            return {}
        condition, params = self.dialect.in_list("f.bundle_id", ids)
        order = f"f.path{self.dialect.text_order}"
        if per_bundle is None:
            sql = f"SELECT {_FILE_COLUMNS} FROM artifact_files f WHERE {condition}"
            args: list[Any] = params
        else:
            # A window per bundle: both SQLite (3.25+) and PostgreSQL number rows so.
            sql = (
                f"SELECT {_FILE_COLUMNS} FROM (SELECT f.*, ROW_NUMBER() "
                f"OVER (PARTITION BY f.bundle_id ORDER BY {order}) AS n "
                f"FROM artifact_files f WHERE {condition}) f WHERE n <= ?"
            )
            args = [*params, per_bundle]
        files: dict[int, list[SourceFile]] = {bundle_id: [] for bundle_id in ids}
        for row in self._sm_rows(f"{sql} ORDER BY f.bundle_id, {order}", args):
            file = _file(row)
            files[file.bundle_id].append(file)
        debug_ids = dict(
            self._sm_rows(
                f"SELECT f.bundle_id, COUNT(DISTINCT f.debug_id) FROM artifact_files f "
                f"WHERE {condition} GROUP BY f.bundle_id",
                params,
            )
        )
        return {
            bundle_id: BundleFiles(tuple(found), int(debug_ids.get(bundle_id, 0)))
            for bundle_id, found in files.items()
        }

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

    def unlink_artifact_bundle(self, bundle_id: int, project_ids: Sequence[int]) -> bool:
        """Take a bundle away from these projects and, in the same transaction, delete
        it once no project has it. Whether it was linked to one of them.

        What a project's "delete" means: a bundle uploaded for several projects
        stays with the others, which whoever deletes it may not be allowed to change."""
        ids = sorted(set(project_ids))
        if not ids:
            return False
        condition, params = self.dialect.in_list("project_id", ids)
        unlink = self.dialect.sql(
            f"DELETE FROM artifact_bundle_projects WHERE bundle_id = ? AND {condition}"
        )
        left = self.dialect.sql("SELECT 1 FROM artifact_bundle_projects WHERE bundle_id = ?")

        def write(conn: Any) -> tuple[int, list[str]]:
            removed = int(conn.execute(unlink, (bundle_id, *params)).rowcount)
            if not removed or conn.execute(left, (bundle_id,)).fetchone() is not None:
                return removed, []
            return removed, self._delete_bundle_rows(conn, bundle_id)[1]

        removed, keys = self.db.write(write)
        self.blobs.delete(keys)
        return removed > 0

    def delete_artifact_bundle(self, bundle_id: int) -> bool:
        """Forget a bundle: its rows, then its blobs (a crash between leaves only orphans)."""
        deleted, keys = self.db.write(lambda conn: self._delete_bundle_rows(conn, bundle_id))
        self.blobs.delete(keys)
        return deleted

    def _delete_bundle_rows(self, conn: Any, bundle_id: int) -> tuple[bool, list[str]]:
        """Delete a bundle's rows; whether it existed, and its files' blob keys."""
        select = self.dialect.sql("SELECT blob_key FROM artifact_files WHERE bundle_id = ?")
        keys = [row[0] for row in conn.execute(select, (bundle_id,)).fetchall()]
        for table in ("artifact_files", "artifact_bundle_projects"):
            conn.execute(self.dialect.sql(f"DELETE FROM {table} WHERE bundle_id = ?"), (bundle_id,))
        cursor = conn.execute(
            self.dialect.sql("DELETE FROM artifact_bundles WHERE id = ?"), (bundle_id,)
        )
        return int(cursor.rowcount) > 0, keys

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
