"""Uploaded chunks into a stored artifact bundle, answering as Sentry's assemble endpoint.

``sentry-cli`` asks to assemble a bundle (its SHA-1 and its chunks' SHA-1s)
before and after uploading the chunks the answer says are missing, then
polls until the state is ``ok`` or ``error``. Assembly here is synchronous:
the request that finds every chunk present joins them, checks the SHA-1,
reads the bundle, writes its files as blobs and records it; the chunks are
then dropped. A bundle already stored is only linked to the projects named.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from heliograph.sourcemaps.bundle import MAX_BUNDLE_BYTES, BundleError, read_bundle
from heliograph.store.contract import SourceMaps
from heliograph.store.sourcemap_records import NewArtifactBundle
from heliograph.store.sourcemap_store import file_key

__all__ = ["AssembleResult", "assemble_bundle", "is_sha1"]

logger = logging.getLogger(__name__)

_SHA1 = re.compile(r"^[0-9a-f]{40}$")


def is_sha1(value: object) -> bool:
    return isinstance(value, str) and bool(_SHA1.match(value))


@dataclass(frozen=True, slots=True)
class AssembleResult:
    """Sentry's answer: ``state`` is ``ok``, ``not_found`` (upload ``missing``) or ``error``."""

    state: str
    missing: list[str] = field(default_factory=list)
    detail: str | None = None

    def json(self) -> dict[str, object]:
        return {"state": self.state, "missingChunks": self.missing, "detail": self.detail}


def assemble_bundle(
    store: SourceMaps,
    organization_id: int,
    checksum: str,
    chunks: Sequence[str],
    *,
    project_ids: Sequence[int],
    release: str | None = None,
    dist: str | None = None,
) -> AssembleResult:
    """Assemble (or link) the bundle; see the module's docstring."""
    if not is_sha1(checksum) or not all(is_sha1(c) for c in chunks):
        return AssembleResult("error", detail="checksums must be 40 lower-case hex digits")
    existing = store.get_artifact_bundle(organization_id, checksum)
    if existing is not None:
        store.save_artifact_bundle(
            NewArtifactBundle(organization_id, checksum, release, dist, tuple(project_ids), ())
        )
        return AssembleResult("ok")
    missing = store.missing_upload_chunks(organization_id, chunks)
    if missing:
        return AssembleResult("not_found", missing)
    parts: list[bytes] = []
    size = 0
    for chunk in chunks:
        data = store.upload_chunk(organization_id, chunk)
        if data is None:  # listed, but its blob is gone: upload it again
            return AssembleResult("not_found", [chunk])
        size += len(data)
        if size > MAX_BUNDLE_BYTES:
            return AssembleResult("error", detail=f"bundles are {MAX_BUNDLE_BYTES} bytes at most")
        parts.append(data)
    whole = b"".join(parts)
    if hashlib.sha1(whole).hexdigest() != checksum:
        return AssembleResult("error", detail="the chunks do not make up the checksum")
    try:
        parsed = read_bundle(
            whole,
            blob_key=lambda sha1: file_key(organization_id, checksum, sha1),
            put=store.blobs.put,
        )
    except BundleError as exc:
        store.drop_upload_chunks(organization_id, chunks)
        return AssembleResult("error", detail=str(exc))
    saved = store.save_artifact_bundle(
        NewArtifactBundle(
            organization_id=organization_id,
            checksum=checksum,
            release=release or parsed.release,
            dist=dist or parsed.dist,
            project_ids=tuple(project_ids),
            files=parsed.files,
        )
    )
    store.drop_upload_chunks(organization_id, chunks)
    logger.info(
        "artifact bundle %s of organization %d: %d files, %d bytes",
        checksum,
        organization_id,
        saved.files,
        saved.bytes,
    )
    return AssembleResult("ok")
