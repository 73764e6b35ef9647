"""Byte-limited, incrementally decompressing body reader."""

from __future__ import annotations

import asyncio
import gzip
import os
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Callable, Iterable
from functools import cache
from typing import Any

import brotli
import pytest
import zstandard

from heliograph.protocols import bodies
from heliograph.protocols.bodies import decompress, stream_body
from heliograph.protocols.errors import (
    BadEncoding,
    BadRequest,
    PayloadTooLarge,
    UnsupportedEncoding,
)


async def read_body(chunks: AsyncIterator[bytes], **limits: Any) -> bytes:
    """The decoded body, as ``stream_body`` hands it over piece by piece."""
    pieces: list[bytes] = []
    await stream_body(chunks, pieces.append, **limits)
    return b"".join(pieces)


MiB = 1024 * 1024
# Compressible but not trivial: JSON-ish text with random ids.
PAYLOAD = b"".join(
    b'{"event_id":"%s","message":"something broke","n":%d}\n' % (os.urandom(16).hex().encode(), i)
    for i in range(2000)
)


def _split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


async def _stream(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def _read(
    data: bytes,
    encoding: str | None,
    *,
    chunk: int = 4096,
    max_compressed: int = 20 * MiB,
    max_decompressed: int = 100 * MiB,
) -> bytes:
    return asyncio.run(
        read_body(
            _stream(_split(data, chunk)),
            content_encoding=encoding,
            max_compressed=max_compressed,
            max_decompressed=max_decompressed,
        )
    )


def _deflate(data: bytes, wbits: int) -> bytes:
    obj = zlib.compressobj(wbits=wbits)
    return obj.compress(data) + obj.flush()


ENCODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "x-gzip": gzip.compress,
    "deflate": zlib.compress,  # zlib-wrapped, as RFC 9110 defines it
    "br": brotli.compress,
    "zstd": zstandard.ZstdCompressor().compress,
}


def test_relay_limits_are_exported() -> None:
    assert bodies.MAX_COMPRESSED_REQUEST == 20 * 1024 * 1024
    assert bodies.MAX_ENVELOPE == 100 * 1024 * 1024
    assert bodies.MAX_EVENT_ITEM == 1024 * 1024
    assert bodies.MAX_ATTACHMENTS == 100 * 1024 * 1024
    assert bodies.MAX_SESSIONS == 100
    assert bodies.MAX_CLIENT_REPORT == 4 * 1024


@pytest.mark.parametrize("encoding", sorted(ENCODERS))
@pytest.mark.parametrize("chunk", [1, 1000, 10 * MiB])
def test_round_trip(encoding: str, chunk: int) -> None:
    data = PAYLOAD if chunk > 1 else PAYLOAD[:3000]
    assert _read(ENCODERS[encoding](data), encoding, chunk=chunk) == data


@pytest.mark.parametrize("encoding", [None, "", "identity", " Identity "])
def test_identity_passes_through(encoding: str | None) -> None:
    assert _read(PAYLOAD, encoding) == PAYLOAD


def test_encoding_names_are_case_insensitive() -> None:
    assert _read(gzip.compress(PAYLOAD), " GZip ") == PAYLOAD


def test_raw_deflate_is_accepted_too() -> None:
    raw = _deflate(PAYLOAD, -zlib.MAX_WBITS)
    assert _read(raw, "deflate") == PAYLOAD
    assert _read(raw, "deflate", chunk=1) == PAYLOAD


def test_zstd_frames_without_content_size() -> None:
    no_size = zstandard.ZstdCompressor(write_content_size=False).compress(PAYLOAD)
    assert zstandard.get_frame_parameters(no_size).content_size == zstandard.CONTENTSIZE_UNKNOWN
    assert _read(no_size, "zstd", chunk=333) == PAYLOAD
    streaming = zstandard.ZstdCompressor().compressobj()
    streamed = streaming.compress(PAYLOAD) + streaming.flush()
    assert _read(streamed, "zstd") == PAYLOAD


def test_concatenated_zstd_frames_and_gzip_members() -> None:
    frames = zstandard.ZstdCompressor().compress(b"abc") + zstandard.ZstdCompressor().compress(b"d")
    assert _read(frames, "zstd", chunk=5) == b"abcd"
    members = gzip.compress(b"abc") + gzip.compress(b"d")
    assert _read(members, "gzip", chunk=5) == b"abcd"


def test_stacked_encodings_are_undone_in_reverse_order() -> None:
    # "gzip, br": gzip was applied first, so br comes off first.
    body = brotli.compress(gzip.compress(PAYLOAD))
    assert _read(body, "gzip, br") == PAYLOAD


def test_real_sentry_sdk_compressed_body() -> None:
    sentry_sdk = pytest.importorskip("sentry_sdk")
    from sentry_sdk.envelope import Envelope

    envelope = Envelope(headers={"event_id": "a" * 32})
    envelope.add_event({"message": "hello", "extra": {"blob": "x" * 5000}})
    for algo in ("br", "gzip"):
        client = sentry_sdk.Client(
            dsn="https://key@localhost/1", _experiments={"transport_compression_algo": algo}
        )
        try:
            encoding, body = client.transport._serialize_envelope(envelope)
        finally:
            client.close(timeout=0)
        assert encoding == algo
        assert _read(body.getvalue(), encoding, chunk=100) == envelope.serialize()


@pytest.mark.parametrize(
    ("encoding", "data", "detail"),
    [
        ("gzip", gzip.compress(PAYLOAD)[:-9], "truncated gzip stream"),
        ("gzip", gzip.compress(PAYLOAD)[:5], "truncated gzip stream"),
        ("deflate", zlib.compress(PAYLOAD)[:-20], "truncated deflate stream"),
        ("deflate", b"x", "truncated deflate stream"),
        ("br", brotli.compress(PAYLOAD)[:-10], "truncated br stream"),
        ("zstd", zstandard.ZstdCompressor().compress(PAYLOAD)[:-10], "truncated zstd stream"),
    ],
)
def test_truncated_streams(encoding: str, data: bytes, detail: str) -> None:
    with pytest.raises(BadEncoding) as info:
        _read(data, encoding)
    assert info.value.detail == detail
    assert info.value.status == 400
    with pytest.raises(BadEncoding, match=detail):
        decompress(data, encoding, MiB)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
def test_garbage_is_a_bad_encoding(encoding: str) -> None:
    with pytest.raises(BadEncoding, match=f"corrupt {encoding} stream"):
        _read(b"\x00\xff this is not compressed at all" * 10, encoding)


def test_corrupt_gzip_body_is_rejected() -> None:
    body = bytearray(gzip.compress(PAYLOAD))
    body[len(body) // 2] ^= 0xFF
    with pytest.raises(BadEncoding, match="corrupt gzip stream"):
        _read(bytes(body), "gzip")


@pytest.mark.parametrize(
    ("encoding", "data"),
    [
        ("deflate", zlib.compress(b"abc") + b"more"),
        ("br", brotli.compress(b"abc") + b"more"),
    ],
)
def test_trailing_data_is_rejected(encoding: str, data: bytes) -> None:
    with pytest.raises(BadEncoding):
        _read(data, encoding)


def test_zstd_window_over_rfc_9659_limit_is_refused() -> None:
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=24)
    streaming = zstandard.ZstdCompressor(compression_params=params).compressobj()
    body = streaming.compress(os.urandom(64)) + streaming.flush()
    assert zstandard.get_frame_parameters(body).window_size == 16 * MiB
    with pytest.raises(BadEncoding, match="corrupt zstd stream"):
        _read(body, "zstd")


def test_unsupported_encoding_is_refused_before_reading() -> None:
    async def never() -> AsyncIterator[bytes]:
        raise AssertionError("the body must not be read")
        yield b""  # pragma: no cover

    with pytest.raises(UnsupportedEncoding) as info:
        asyncio.run(
            read_body(
                never(), content_encoding="gzip, compress", max_compressed=10, max_decompressed=10
            )
        )
    assert info.value.status == 415
    assert "'compress'" in info.value.detail
    assert isinstance(info.value, BadRequest)


def test_compressed_limit_stops_reading() -> None:
    consumed = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal consumed
        for _ in range(100):
            consumed += 1
            yield b"x" * 1024

    with pytest.raises(PayloadTooLarge) as info:
        asyncio.run(
            read_body(chunks(), content_encoding=None, max_compressed=4096, max_decompressed=MiB)
        )
    assert info.value.status == 413
    assert "4096" in info.value.detail
    assert consumed == 5


def test_decompressed_limit() -> None:
    body = gzip.compress(PAYLOAD)
    assert _read(body, "gzip", max_decompressed=len(PAYLOAD)) == PAYLOAD
    with pytest.raises(PayloadTooLarge, match="decompressed body exceeds"):
        _read(body, "gzip", max_decompressed=len(PAYLOAD) - 1)
    with pytest.raises(PayloadTooLarge):
        decompress(body, "gzip", len(PAYLOAD) - 1)


def test_identity_body_is_held_to_the_decompressed_limit() -> None:
    with pytest.raises(PayloadTooLarge, match="body exceeds 10 bytes"):
        _read(b"x" * 11, None, max_decompressed=10)


def _zeros(compressor: Callable[[bytes], bytes], flush: Callable[[], bytes]) -> bytes:
    block = bytes(MiB)
    return b"".join(compressor(block) for _ in range(200)) + flush()


@cache
def _bomb(encoding: str) -> bytes:
    """200 MB of zeros, compressed without ever holding 200 MB."""
    if encoding == "gzip":
        obj = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        return _zeros(obj.compress, obj.flush)
    if encoding == "br":
        br = brotli.Compressor(quality=5)
        return _zeros(br.process, br.finish)
    zstd = zstandard.ZstdCompressor(level=19).compressobj()
    return _zeros(zstd.compress, zstd.flush)


@pytest.mark.parametrize("encoding", ["gzip", "br", "zstd"])
def test_decompression_bomb_is_refused_quickly_with_bounded_memory(encoding: str) -> None:
    bomb = _bomb(encoding)
    assert len(bomb) < 300 * 1024  # 200 MB squeezed into a few hundred KB
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(PayloadTooLarge):
            _read(bomb, encoding, chunk=16 * 1024, max_decompressed=MiB)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 2.0
    assert peak < 16 * MiB, f"peak {peak} bytes while refusing a 1 MiB limit"


def test_bomb_inside_stacked_encodings_is_refused() -> None:
    # The outer br layer decodes to a harmless ~200 KB; the inner gzip layer
    # must still be cut off at the limit.
    inner = _bomb("gzip")
    body = brotli.compress(inner)
    with pytest.raises(PayloadTooLarge):
        _read(body, "gzip, br", max_decompressed=MiB)
