"""Write small MaxMind DB files for tests, so no GeoIP database is ever downloaded.

The format (https://maxmind.github.io/MaxMind-DB/): a binary search tree
over the address's bits (IPv4 networks live under ``::/96``), 16 zero
bytes, a data section of typed values, then ``\\xab\\xcd\\xefMaxMind.com``
and the metadata map. This writer knows only what the tests need: 24-bit
records and maps, strings, unsigned integers and arrays.
"""

from __future__ import annotations

import ipaddress
import struct
from pathlib import Path
from typing import Any

__all__ = ["COUNTRIES", "country_record", "write_mmdb"]

METADATA_MARKER = b"\xab\xcd\xefMaxMind.com"

# Documentation and MaxMind's own test addresses: public, so they are looked up.
COUNTRIES = {
    "81.2.69.0/24": ("GB", "United Kingdom"),
    "2001:218::/32": ("JP", "Japan"),
    "89.160.20.112/28": ("SE", "Sweden"),
}


def country_record(code: str, name: str) -> dict[str, Any]:
    """What GeoLite2-Country holds for a network (the parts anyone reads)."""
    return {
        "country": {"iso_code": code, "names": {"en": name, "de": name}, "geoname_id": 1},
        "continent": {"code": "EU", "names": {"en": "Europe"}},
    }


def _control(type_number: int, size: int) -> bytes:
    if size < 29:
        head, tail = size, b""
    elif size < 285:
        head, tail = 29, bytes([size - 29])
    elif size < 65821:
        head, tail = 30, struct.pack(">H", size - 285)
    else:
        head, tail = 31, struct.pack(">I", size - 65821)[1:]
    if type_number <= 7:
        return bytes([(type_number << 5) | head]) + tail
    return bytes([head, type_number - 7]) + tail


class _Uint(int):
    """An unsigned integer of a fixed type (libmaxminddb checks the metadata's types)."""

    type_number = 6  # uint32

    def __new__(cls, value: int, type_number: int) -> _Uint:
        made = super().__new__(cls, value)
        made.type_number = type_number
        return made


def _encode(value: Any) -> bytes:
    if isinstance(value, _Uint):
        data = int(value).to_bytes((value.bit_length() + 7) // 8, "big")
        return _control(value.type_number, len(data)) + data
    if isinstance(value, str):
        data = value.encode()
        return _control(2, len(data)) + data
    if isinstance(value, bool):
        return _control(14, int(value))
    if isinstance(value, int):
        data = value.to_bytes((value.bit_length() + 7) // 8, "big")
        type_number = 5 if value < 1 << 16 else 6 if value < 1 << 32 else 9
        return _control(type_number, len(data)) + data
    if isinstance(value, dict):
        body = b"".join(_encode(str(k)) + _encode(v) for k, v in value.items())
        return _control(7, len(value)) + body
    if isinstance(value, list):
        return _control(11, len(value)) + b"".join(_encode(v) for v in value)
    raise TypeError(f"cannot encode {value!r}")


def _bits(network: str) -> tuple[int, int]:
    """The network as a 128-bit integer and prefix length (IPv4 under ``::/96``)."""
    parsed = ipaddress.ip_network(network)
    if parsed.version == 4:
        return int(parsed.network_address), parsed.prefixlen + 96
    return int(parsed.network_address), parsed.prefixlen


def write_mmdb(
    path: Path, networks: dict[str, dict[str, Any]], database_type: str = "GeoLite2-Country"
) -> Path:
    """An IPv6 database in which each network maps to its record; other addresses have none."""
    data = b""
    offsets: list[int] = []
    # A node is [left, right]: None (no data), another node, or ("data", offset).
    root: list[Any] = [None, None]
    for network, record in networks.items():
        offsets.append(len(data))
        data += _encode(record)
        value, prefix = _bits(network)
        node = root
        for depth in range(prefix - 1):
            bit = (value >> (127 - depth)) & 1
            if not isinstance(node[bit], list):
                node[bit] = [None, None]
            node = node[bit]
        node[(value >> (128 - prefix)) & 1] = ("data", offsets[-1])
    nodes: list[list[Any]] = []
    numbered: dict[int, int] = {}
    pending = [root]
    while pending:  # breadth first: the root is node 0
        node = pending.pop(0)
        numbered[id(node)] = len(nodes)
        nodes.append(node)
        pending += [child for child in node if isinstance(child, list)]
    count = len(nodes)

    def record_value(child: Any) -> int:
        if child is None:
            return count
        if isinstance(child, list):
            return numbered[id(child)]
        return count + 16 + child[1]

    tree = b"".join(
        record_value(node[0]).to_bytes(3, "big") + record_value(node[1]).to_bytes(3, "big")
        for node in nodes
    )
    metadata = {
        "node_count": _Uint(count, 6),
        "record_size": _Uint(24, 5),
        "ip_version": _Uint(6, 5),
        "database_type": database_type,
        "languages": ["en", "de"],
        "binary_format_major_version": _Uint(2, 5),
        "binary_format_minor_version": _Uint(0, 5),
        "build_epoch": _Uint(1_700_000_000, 9),
        "description": {"en": "Heliograph test database"},
    }
    path.write_bytes(tree + bytes(16) + data + METADATA_MARKER + _encode(metadata))
    return path
