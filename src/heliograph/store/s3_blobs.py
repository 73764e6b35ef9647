"""Blobs in an S3-compatible object store (AWS S3, MinIO, Ceph, R2...), through boto3.

``HELIOGRAPH_BLOB_URL=s3://bucket/prefix`` with, in the query string,
``endpoint_url`` (for anything but AWS itself) and ``region``. Credentials
come from where boto3 looks for them (``AWS_ACCESS_KEY_ID`` and
``AWS_SECRET_ACCESS_KEY``, a profile, an instance role), never from the URL:
the URL is configuration, printed in logs; a secret is not.

What several nodes share without a shared file system. ``put`` returns once
the store acknowledged the object (S3 writes are durable when acknowledged);
a store that cannot be reached, or answers 5xx or "slow down", raises
:class:`StoreUnavailable`, so digest keeps the recording queued and retries.
boto3 is an optional dependency: ``pip install 'heliograph[s3]'``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

from heliograph.config import ConfigError
from heliograph.store.base import StoreUnavailable
from heliograph.store.blobs import check_key

__all__ = ["S3BlobStore", "open_s3"]

# DeleteObjects takes at most this many keys per call.
_DELETE_BATCH = 1000


class S3BlobStore:
    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes) -> None:
        with _unavailable_on_outage(f"cannot write blob {key}"):
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def get(self, key: str) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            with _unavailable_on_outage(f"cannot read blob {key}"):
                answer = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
                body: bytes = answer["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        return body

    def delete(self, keys: Iterable[str]) -> None:
        names = [self._key(key) for key in keys]
        for start in range(0, len(names), _DELETE_BATCH):
            batch = names[start : start + _DELETE_BATCH]
            with _unavailable_on_outage("cannot delete blobs"):
                self.client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": name} for name in batch], "Quiet": True},
                )


@contextmanager
def _unavailable_on_outage(what: str) -> Iterator[None]:
    """Turn "the store is not answering" into StoreUnavailable; let the rest through."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        code = exc.response.get("Error", {}).get("Code", "")
        if status >= 500 or code in ("SlowDown", "RequestTimeout", "Throttling"):
            raise StoreUnavailable(f"{what}: {code or status}") from exc
        raise
    except BotoCoreError as exc:  # connection refused, timeouts, DNS
        raise StoreUnavailable(f"{what}: {type(exc).__name__}") from exc


def open_s3(url: str) -> S3BlobStore:
    """``s3://bucket/prefix?endpoint_url=...&region=...`` as a blob store."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise ConfigError("s3:// blob URLs need boto3: pip install 'heliograph[s3]'") from None
    parts = urlsplit(url)
    if parts.username or parts.password:
        raise ConfigError("put S3 credentials in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
    if not parts.hostname:
        raise ConfigError("an s3:// blob URL names its bucket: s3://bucket/prefix")
    options = {name: values[-1] for name, values in parse_qs(parts.query).items()}
    unknown = set(options) - {"endpoint_url", "region"}
    if unknown:
        raise ConfigError(f"unknown s3:// URL options: {', '.join(sorted(unknown))}")
    client = boto3.client(
        "s3",
        endpoint_url=options.get("endpoint_url") or None,
        region_name=options.get("region") or None,
        config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5),
    )
    return S3BlobStore(client, parts.hostname, parts.path)
