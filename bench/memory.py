"""Memory under hostile bodies: the server's peak RSS while decompression bombs arrive.

    python bench/memory.py [--concurrency 16] [--mib 95]

Starts ``heliograph serve`` on an empty data directory (a fresh one for
each phase) and sends ``--concurrency`` simultaneous gzip envelopes that are
~100 KB on the wire and decode to ``--mib`` MiB (within every documented
limit): with a valid key, with a bad key carried only by the envelope's
``dsn`` header, with a valid ``dsn`` header, without an ``event_id`` (so that
ingest has to rewrite the envelope); then PostHog and OTLP gzip bombs of just
under their 20 MiB limit. Prints, per phase, the answers and the server
process's peak RSS (VmHWM; ``serve``'s digest child is not counted), then
checks that a normal event is still accepted. Not a pass/fail test:
``tests/e2e/test_memory.py`` asserts the bound.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import re
import tempfile
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson
from live import Server

MiB = 1024 * 1024


def gzip_zeros(prefix: bytes, size: int, suffix: bytes = b"") -> bytes:
    """gzip of ``prefix + size zero bytes + suffix``, without building it in memory."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [compressor.compress(prefix)]
    block = b"\0" * MiB
    for _ in range(size // MiB):
        parts.append(compressor.compress(block))
    parts.append(compressor.compress(b"\0" * (size % MiB) + suffix))
    parts.append(compressor.flush())
    return b"".join(parts)


def attachment_bomb(size: int, header: dict[str, object]) -> bytes:
    """An envelope with one ``size``-byte attachment of zeros, gzip-compressed."""
    item = orjson.dumps({"type": "attachment", "length": size, "filename": "zeros.bin"})
    return gzip_zeros(orjson.dumps(header) + b"\n" + item + b"\n", size, b"\n")


def rewrite_bomb(size: int) -> bytes:
    """No ``event_id`` in the envelope header, an event item, then ``size`` bytes of attachment."""
    event = orjson.dumps({"message": "needs an id"})
    item = orjson.dumps({"type": "attachment", "length": size})
    prefix = (
        b"{}\n"
        + orjson.dumps({"type": "event", "length": len(event)})
        + b"\n"
        + event
        + b"\n"
        + item
        + b"\n"
    )
    return gzip_zeros(prefix, size, b"\n")


def session_bomb(size: int) -> bytes:
    """A ``session`` item (JSON, so ingest keeps it whole) of ``size`` bytes, gzip-compressed."""
    header = orjson.dumps({"event_id": uuid.uuid4().hex})
    item = orjson.dumps({"type": "session", "length": size})
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [compressor.compress(header + b"\n" + item + b"\n{" + b" " * (size - 2) + b"}\n")]
    parts.append(compressor.flush())
    return b"".join(parts)


def plain_envelope(size: int) -> bytes:
    """An uncompressed envelope of ``size`` bytes: the body held as it arrived is that big."""
    header = orjson.dumps({"event_id": uuid.uuid4().hex})
    item = orjson.dumps({"type": "attachment", "length": size})
    return header + b"\n" + item + b"\n" + b"\1" * size + b"\n"


def posthog_bomb(size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [compressor.compress(b'[{"event": "x", "properties": {"pad": "')]
    block = b" " * MiB
    for _ in range(size // MiB):
        parts.append(compressor.compress(block))
    parts.append(compressor.compress(b'"}}]'))
    parts.append(compressor.flush())
    return b"".join(parts)


def posthog_tiny_events(size: int, key: str) -> bytes:
    """A batch of as many minimal events as fit: cheap to send, costly to parse."""
    event = b'{"event":"x","distinct_id":"u","properties":{}},'
    head = b'{"api_key":"' + key.encode() + b'","batch":['
    body = head + event * (size // len(event)) + b'{"event":"x","distinct_id":"u"}]}'
    return gzip.compress(body, 6)


def rss_mb(pid: int, field: str) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(rf"{field}:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else float("nan")


async def burst(
    url: str, body: bytes, headers: dict[str, str], concurrency: int
) -> tuple[Counter[int], float]:
    async with httpx.AsyncClient(timeout=120) as client:

        async def one() -> int:
            response = await client.post(url, content=body, headers=headers)
            return response.status_code

        started = time.perf_counter()
        statuses = await asyncio.gather(*(one() for _ in range(concurrency)))
    return Counter(statuses), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--mib", type=int, default=95)
    parser.add_argument("--only", default="", help="Run only phases whose name contains this")
    args = parser.parse_args()
    size = args.mib * MiB

    with tempfile.TemporaryDirectory() as tmp:
        overall = 0.0
        for number, name in enumerate(PHASES):
            if args.only not in name:
                continue
            server = Server(Path(tmp) / f"data{number}")
            try:
                peak = run_phase(server, name, size, args.concurrency)
            finally:
                server.stop()
            overall = max(overall, peak)
        print(f"highest peak RSS of any phase: {overall:.0f} MiB")


PHASES = (
    "valid key (header), attachment bomb",
    "bad key (dsn header only), attachment bomb",
    "valid key (dsn header only), attachment bomb",
    "valid key, no event_id (rewrite), attachment bomb",
    "valid key, session item bomb (JSON: kept whole)",
    "valid key, 16 MiB uncompressed envelope",
    "PostHog /batch/, 19 MiB JSON string",
    "OTLP /v1/traces, 19 MiB of zeros",
    "PostHog /batch/, 19 MiB of tiny events",
)


def run_phase(server: Server, name: str, size: int, concurrency: int) -> float:
    """One burst against a fresh server; prints and returns the server's peak RSS (MiB)."""
    pid = server.process.pid
    project = server.dsn.rsplit("/", 1)[1]
    host = server.dsn.split("@", 1)[1].rsplit("/", 1)[0]
    envelope_url = f"{server.url}/api/{project}/envelope/"
    gz = {"Content-Encoding": "gzip", "Content-Type": "application/x-sentry-envelope"}
    auth = {"X-Sentry-Auth": f"Sentry sentry_version=7, sentry_key={server.key}"}
    bad_dsn = f"http://{'0' * 32}@{host}/{project}"
    builds: dict[str, tuple[str, Callable[[], bytes], dict[str, str]]] = {
        PHASES[0]: (
            envelope_url,
            lambda: attachment_bomb(size, {"event_id": uuid.uuid4().hex}),
            {**gz, **auth},
        ),
        PHASES[1]: (
            envelope_url,
            lambda: attachment_bomb(size, {"event_id": uuid.uuid4().hex, "dsn": bad_dsn}),
            gz,
        ),
        PHASES[2]: (
            envelope_url,
            lambda: attachment_bomb(size, {"event_id": uuid.uuid4().hex, "dsn": server.dsn}),
            gz,
        ),
        PHASES[3]: (envelope_url, lambda: rewrite_bomb(size), {**gz, **auth}),
        PHASES[4]: (envelope_url, lambda: session_bomb(size), {**gz, **auth}),
        PHASES[5]: (envelope_url, lambda: plain_envelope(16 * MiB), auth),
        PHASES[6]: (
            f"{server.url}/batch/",
            lambda: posthog_bomb(19 * MiB),
            {"Content-Encoding": "gzip", "Content-Type": "application/json"},
        ),
        PHASES[8]: (
            f"{server.url}/batch/",
            lambda: posthog_tiny_events(19 * MiB, server.key),
            {"Content-Encoding": "gzip", "Content-Type": "application/json"},
        ),
        PHASES[7]: (
            f"{server.url}/v1/traces",
            lambda: gzip_zeros(b"", 19 * MiB),
            {
                "Content-Encoding": "gzip",
                "Content-Type": "application/x-protobuf",
                "Authorization": f"Bearer {server.key}",
            },
        ),
    }
    url, build, headers = builds[name]
    body = build()
    idle = rss_mb(pid, "VmRSS")
    statuses, seconds = asyncio.run(burst(url, body, headers, concurrency))
    peak = rss_mb(pid, "VmHWM")
    event_id = uuid.uuid4().hex
    normal = (
        orjson.dumps({"event_id": event_id})
        + b'\n{"type":"event"}\n'
        + orjson.dumps({"event_id": event_id, "message": "after the storm"})
        + b"\n"
    )
    after = httpx.post(
        envelope_url, content=gzip.compress(normal), headers={**gz, **auth}, timeout=30
    ).status_code
    answers = ", ".join(f"{n}x{status}" for status, n in sorted(statuses.items()))
    print(
        f"{name:50} {concurrency}x{len(body) / 1024:4.0f} KiB  {answers:18} {seconds:5.1f} s  "
        f"RSS idle {idle:4.0f} MiB, peak {peak:5.0f} MiB; normal event after: {after}",
        flush=True,
    )
    return peak


if __name__ == "__main__":
    main()
