"""Every kind of blob store keeps the same promises: put, get, delete, checked keys,
and "cannot write now" said as StoreUnavailable (digest then retries)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from heliograph.config import ConfigError
from heliograph.store.base import StoreUnavailable
from heliograph.store.blobs import BlobStore, FileBlobStore, open_blob_store

KINDS = ["file", "s3"]


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A real S3 API on loopback (moto's server), with a bucket."""
    server_module = pytest.importorskip("moto.server")
    boto3 = pytest.importorskip("boto3")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    boto3.client(
        "s3", endpoint_url=url, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
    ).create_bucket(Bucket="replays")  # fmt: skip
    yield url
    server.stop()


@pytest.fixture(params=KINDS)
def blobs(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> BlobStore:
    if request.param == "file":
        return open_blob_store(f"file://{tmp_path}/blobs")
    endpoint = request.getfixturevalue("s3_endpoint")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    return open_blob_store(f"s3://replays/heliograph?endpoint_url={endpoint}&region=us-east-1")


def test_put_get_delete(blobs: BlobStore) -> None:
    blobs.put("replays/1/r1/000000000.json.gz", b"first")
    blobs.put("replays/1/r1/000000000.json.gz", b"again")  # a retried batch rewrites it
    blobs.put("replays/1/r1/000000001.json.gz", b"second")
    assert blobs.get("replays/1/r1/000000000.json.gz") == b"again"
    assert blobs.get("replays/1/r2/000000000.json.gz") is None
    blobs.delete(["replays/1/r1/000000000.json.gz", "replays/1/r9/none.json.gz"])
    assert blobs.get("replays/1/r1/000000000.json.gz") is None
    assert blobs.get("replays/1/r1/000000001.json.gz") == b"second"


@pytest.mark.parametrize(
    "key", ["../etc/passwd", "replays/../../x", "/abs", "a//b", "a/.hidden/..", ""]
)
def test_keys_cannot_leave_the_store(blobs: BlobStore, key: str) -> None:
    with pytest.raises(ValueError):
        blobs.put(key, b"x")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_object_store_is_unavailable_not_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("boto3")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    url = f"s3://replays?endpoint_url=http://127.0.0.1:{_closed_port()}&region=us-east-1"
    with pytest.raises(StoreUnavailable):
        open_blob_store(url).put("replays/1/r/0.json.gz", b"x")


def test_a_full_disk_is_unavailable(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    root.write_text("a file where the directory should be")
    with pytest.raises(StoreUnavailable):
        FileBlobStore(root).put("replays/1/r/0.json.gz", b"x")


@pytest.mark.parametrize(
    "url, message",
    [
        ("ftp://host/x", "unsupported blob URL"),
        ("file://relative/dir", "absolute directory"),
        ("s3://key:secret@bucket/x", "AWS_ACCESS_KEY_ID"),
        ("s3://bucket/x?acl=public", "unknown s3:// URL options"),
    ],
)
def test_bad_blob_urls_say_why(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        open_blob_store(url)
