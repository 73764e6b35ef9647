"""Byte-limited, incrementally decompressing request-body reader.

Every request body goes through here before anything parses it. Two limits
apply while the body streams in: the bytes on the wire (``max_compressed``)
and the bytes after decoding (``max_decompressed``). Both are enforced as the
data arrives, so an oversized upload is refused without reading the rest and
a decompression bomb is refused after producing little more than the limit:
each decoding step emits a bounded amount of output (``max_length`` for zlib,
``output_buffer_limit`` for brotli, small input slices for zstd, whose
streaming object has no output bound).

``Content-Encoding`` follows RFC 9110 §8.4: "If one or more encodings have
been applied to a representation, the sender that applied the encodings MUST
generate a Content-Encoding header field that lists the content codings in
the order in which they were applied", so ``gzip, br`` is undone br first.

The Relay size limits (Sentry's develop docs, "Envelopes / Size Limits") live
here as constants so that every adapter speaks of the same numbers.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Protocol

import brotli
import zstandard

from heliograph import budget
from heliograph.protocols.errors import BadEncoding, PayloadTooLarge, UnsupportedEncoding

__all__ = [
    "MAX_ATTACHMENT",
    "MAX_ATTACHMENTS",
    "MAX_CHECK_IN",
    "MAX_CLIENT_REPORT",
    "MAX_COMPRESSED_REQUEST",
    "MAX_ENVELOPE",
    "MAX_EVENT_ITEM",
    "MAX_PROFILE",
    "MAX_REPLAY_RECORDING",
    "MAX_SESSIONS",
    "MAX_SESSION_BUCKETS",
    "BodyDecoder",
    "decompress",
    "stream_body",
]

KiB = 1024
MiB = 1024 * KiB

# Relay defaults ("20MB for a compressed envelope request, 100MB for a full
# envelope after decompression, 100MB for all attachments combined, 100MB for
# each attachment item, 1MB for event (errors and transactions), span, and
# metric items, 100KB for monitor check-in items, 50MB for profile items,
# 10MB for compressed replay item, 100 sessions per envelope, 100
# pre-aggregated session buckets per each "sessions" item").
MAX_COMPRESSED_REQUEST = 20 * MiB
MAX_ENVELOPE = 100 * MiB
MAX_EVENT_ITEM = 1 * MiB
MAX_ATTACHMENT = 100 * MiB
MAX_ATTACHMENTS = 100 * MiB
MAX_CHECK_IN = 100 * KiB
MAX_PROFILE = 50 * MiB
MAX_REPLAY_RECORDING = 10 * MiB
MAX_SESSIONS = 100
MAX_SESSION_BUCKETS = 100
MAX_CLIENT_REPORT = 4 * KiB

# Largest output one decoding step may produce (zlib / brotli).
_STEP = 64 * KiB
# Input is handed to the decoders in slices of this size, so that zlib's
# ``unconsumed_tail`` (a fresh copy of the remaining input on every step)
# stays small even when a caller passes one 20 MiB chunk.
_INPUT_SLICE = 64 * KiB
# zstd's streaming object cannot bound its output, but the format can: a
# block is at most 128 KiB and needs at least 4 bytes, so a 256-byte slice
# yields at most ~8 MiB (measured: 8 MiB for zeros at level 19).
_ZSTD_SLICE = 256
# RFC 9659 §3: "the zstd window size MUST be limited to 8 MB" for the zstd
# content coding; a larger declared window is refused instead of allocated.
_ZSTD_MAX_WINDOW = 8 * MiB
# More stacked encodings than this is not a real client.
_MAX_CODINGS = 3


class _Stage(Protocol):
    """One content coding being undone, fed incrementally."""

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Consume ``data``; yield output in pieces of bounded size."""

    def finish(self) -> None:
        """Raise :class:`BadEncoding` if the stream stopped mid-way."""


class _ZlibStage:
    """gzip (RFC 1952) and deflate (RFC 9110: zlib-wrapped, RFC 1950).

    ``deflate`` is ambiguous in practice: RFC 9110 §8.4.1.2 defines it as the
    zlib format, but some clients send raw deflate. The first two bytes
    decide: a zlib header has compression method 8 in the low nibble and
    ``(CMF * 256 + FLG) % 31 == 0``; anything else is taken as raw deflate.
    (A raw stream that passes this check would start with a stored block
    with non-zero padding bits, which real encoders never write.)

    gzip allows several members back to back (RFC 1952 §2.2: "A gzip file
    consists of a series of members"); each one gets a fresh decompressor.
    """

    def __init__(self, name: str, wbits: int | None) -> None:
        self._name = name
        self._wbits = wbits  # None: sniff zlib vs raw deflate
        self._d: zlib._Decompress | None = None
        self._head = b""  # deflate: bytes held until the header is known
        self._drain = False  # the last step filled its output budget

    def feed(self, data: bytes) -> Iterator[bytes]:
        while data or self._drain:
            if data and (self._d is None or self._d.eof):
                started = self._start(data)
                if started is None:
                    return
                data = started
            assert self._d is not None
            try:
                out = self._d.decompress(data, _STEP)
            except zlib.error as exc:
                raise BadEncoding(f"corrupt {self._name} stream: {exc}") from None
            data = self._d.unused_data if self._d.eof else self._d.unconsumed_tail
            self._drain = len(out) == _STEP and not self._d.eof
            if out:
                yield out

    def _start(self, data: bytes) -> bytes | None:
        if self._d is not None and self._name != "gzip":
            raise BadEncoding(f"trailing data after {self._name} stream")
        wbits = self._wbits
        if wbits is None:
            self._head += data
            if len(self._head) < 2:
                return None
            data, self._head = self._head, b""
            cmf, flg = data[0], data[1]
            is_zlib = cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf * 256 + flg) % 31 == 0
            wbits = zlib.MAX_WBITS if is_zlib else -zlib.MAX_WBITS
        self._d = zlib.decompressobj(wbits)
        return data

    def finish(self) -> None:
        if self._head or (self._d is not None and not self._d.eof):
            raise BadEncoding(f"truncated {self._name} stream")


class _BrotliStage:
    """br (RFC 7932) via ``brotli.Decompressor.process(output_buffer_limit=)``.

    With a limit, the decoder keeps the rest of its output pending and hands
    it out on further calls with empty input, which we make until it has
    nothing left.
    """

    def __init__(self) -> None:
        self._d = brotli.Decompressor()
        self._fed = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        if not data:
            return
        if self._d.is_finished():
            raise BadEncoding("trailing data after br stream")
        self._fed = True
        try:
            out = self._d.process(data, output_buffer_limit=_STEP)
            while out:
                yield out
                out = self._d.process(b"", output_buffer_limit=_STEP)
        except brotli.error as exc:
            raise BadEncoding(f"corrupt br stream: {exc}") from None

    def finish(self) -> None:
        if self._fed and not self._d.is_finished():
            raise BadEncoding("truncated br stream")


class _ZstdStage:
    """zstd (RFC 8878) via ``zstandard``'s streaming ``decompressobj``.

    Frames need not declare their content size (streaming compressors leave
    it out). Several frames may follow each other; one decompress object per
    frame lets us tell a complete stream from a truncated one (``eof``).
    """

    def __init__(self) -> None:
        self._dctx = zstandard.ZstdDecompressor(max_window_size=_ZSTD_MAX_WINDOW)
        self._d: zstandard.ZstdDecompressionObj | None = None

    def feed(self, data: bytes) -> Iterator[bytes]:
        view = memoryview(data)
        pos = 0
        while pos < len(view):
            if self._d is None or self._d.eof:
                self._d = self._dctx.decompressobj()
            piece = view[pos : pos + _ZSTD_SLICE]
            try:
                out = self._d.decompress(piece)
            except zstandard.ZstdError as exc:
                raise BadEncoding(f"corrupt zstd stream: {exc}") from None
            # Input past the end of a frame comes back in ``unused_data``;
            # step back so that the next frame starts there.
            pos += len(piece) - (len(self._d.unused_data) if self._d.eof else 0)
            if out:
                yield out

    def finish(self) -> None:
        if self._d is not None and not self._d.eof:
            raise BadEncoding("truncated zstd stream")


_CODINGS: dict[str, Callable[[], _Stage]] = {
    "gzip": lambda: _ZlibStage("gzip", 16 + zlib.MAX_WBITS),
    "x-gzip": lambda: _ZlibStage("gzip", 16 + zlib.MAX_WBITS),
    "deflate": lambda: _ZlibStage("deflate", None),
    "br": _BrotliStage,
    "zstd": _ZstdStage,
}


def _stages_for(content_encoding: str | None) -> list[_Stage]:
    """The decoders to apply, in decoding order (the header's reverse)."""
    tokens = [t.strip().lower() for t in (content_encoding or "").split(",")]
    codings = [t for t in tokens if t and t != "identity"]
    if len(codings) > _MAX_CODINGS:
        raise BadEncoding(f"too many content-encodings ({len(codings)} > {_MAX_CODINGS})")
    for token in codings:
        if token not in _CODINGS:
            raise UnsupportedEncoding(
                f"unsupported content-encoding {token[:40]!r} "
                "(supported: gzip, deflate, br, zstd, identity)"
            )
    return [_CODINGS[token]() for token in reversed(codings)]


class BodyDecoder:
    """Incremental decoder for one body: the shared core of this module.

    Two ways to use it. ``feed`` chunks as they arrive, then ``finish`` to
    get the bytes; or iterate ``decode(chunk)`` for the decoded pieces (at
    most 64 KiB each for gzip, deflate and br, up to 8 MiB for zstd) and hold
    only what you need, then call ``end``. The output of every stage (not
    only the last) is held to ``max_decompressed``, so stacked encodings
    cannot hide a bomb in an intermediate layer. Raises
    :class:`UnsupportedEncoding` at construction, before any byte is read.

    What ``feed`` keeps is charged to the running request's memory
    reservation (:mod:`heliograph.budget`), if there is one.
    """

    def __init__(self, content_encoding: str | None, max_decompressed: int) -> None:
        self._stages = _stages_for(content_encoding)
        self._limit = max_decompressed
        self._produced = [0] * (len(self._stages) + 1)
        self._parts: list[bytes] = []
        self._held = 0
        self._reservation = budget.current()

    def decode(self, chunk: bytes) -> Iterator[bytes]:
        """The decoded pieces of ``chunk``, produced only as they are taken.

        Limits are checked piece by piece, so a consumer that stops early has
        decoded little more than it took. Take all of one chunk's pieces
        before decoding the next chunk.
        """
        for start in range(0, len(chunk), _INPUT_SLICE):
            yield from self._run(0, chunk[start : start + _INPUT_SLICE])

    def _run(self, index: int, data: bytes) -> Iterator[bytes]:
        # Index 0 is the raw body: limited here only when nothing decodes it.
        self._produced[index] += len(data)
        if (index or not self._stages) and self._produced[index] > self._limit:
            what = "decompressed body" if self._stages else "body"
            raise PayloadTooLarge(f"{what} exceeds {self._limit} bytes")
        if index == len(self._stages):
            yield data
            return
        for piece in self._stages[index].feed(data):
            yield from self._run(index + 1, piece)

    def end(self) -> None:
        """Raise :class:`BadEncoding` if a stream stopped mid-way."""
        for stage in self._stages:
            stage.finish()

    def feed(self, chunk: bytes) -> None:
        for piece in self.decode(chunk):
            if self._reservation is not None:
                self._reservation.grow(len(piece))
            self._parts.append(piece)
            self._held += len(piece)

    def finish(self) -> bytes:
        self.end()
        parts, self._parts = self._parts, []
        return budget.joined(parts, self._held, self._reservation)


async def stream_body(
    chunks: AsyncIterator[bytes],
    sink: Callable[[bytes], None],
    *,
    content_encoding: str | None,
    max_compressed: int,
    max_decompressed: int,
) -> bytes:
    """Read a streamed body, handing its decoded pieces to ``sink`` as they are
    produced, within both limits; returns the body as it arrived.

    Raises :class:`PayloadTooLarge` as soon as more than ``max_compressed``
    bytes arrived or more than ``max_decompressed`` bytes were produced (the
    rest of the stream is not read), :class:`BadEncoding` for corrupt or
    truncated data and :class:`UnsupportedEncoding` (415) before reading
    anything when the coding is unknown.

    Only the body as it arrived is kept here (charged to the running
    request's memory reservation); ``sink`` keeps what it needs. Whatever
    ``sink`` raises stops the reading and decoding at once: that is how an
    envelope is authenticated by its header before the rest is decoded.
    """
    decoder = BodyDecoder(content_encoding, max_decompressed)
    reservation = budget.current()
    received: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > max_compressed:
            raise PayloadTooLarge(f"request body exceeds {max_compressed} bytes")
        if reservation is not None:
            reservation.grow(len(chunk))
        received.append(chunk)
        for piece in decoder.decode(chunk):
            sink(piece)
    decoder.end()
    return budget.joined(received, size, reservation)


def decompress(data: bytes, encoding: str | None, max_decompressed: int) -> bytes:
    """Decode an in-memory body (e.g. a PostHog ``data=`` field), same limits."""
    decoder = BodyDecoder(encoding, max_decompressed)
    decoder.feed(data)
    return decoder.finish()
