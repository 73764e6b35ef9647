"""Visitors' countries, from a local MaxMind database, at the ingest edge.

With ``HELIOGRAPH_GEOIP_DB`` set, the PostHog capture endpoints look up the
client's address in that file (GeoLite2-Country, GeoIP2-City or any
MaxMind-format database with a ``country`` record) and add
``$geoip_country_code`` and ``$geoip_country_name`` to the events, as
PostHog's own GeoIP step does. Heliograph never downloads the file and
nothing reaches the network. The address is used for the lookup and then
dropped: it is neither queued nor stored.

Why ``maxminddb``: it is MaxMind's own reader, maintained with the format,
with a C extension when libmaxminddb is present and a pure-Python fallback.
It opens the file memory-mapped (``MODE_AUTO`` picks the extension's mmap
mode, else the Python one): the acceptor processes of a node share its
pages through the OS cache instead of each holding a copy, and a lookup is
a walk of at most 128 tree nodes, microseconds of CPU. So lookups run on the
event loop: handing one to a thread would cost more than the lookup, a
request makes at most one (a batch comes from one address), and
:func:`functools.lru_cache` answers an address seen recently without
touching the file.

Which address: the TCP peer's, unless that peer is one of
``HELIOGRAPH_TRUSTED_PROXIES``; only then is ``X-Forwarded-For`` read,
right to left, skipping the trusted proxies, and the first other address
is the client's (:func:`client_address`). A client cannot spoof its
country by sending the header itself.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import maxminddb

from heliograph.config import ConfigError

__all__ = [
    "COUNTRY_CODE",
    "COUNTRY_NAME",
    "Country",
    "GeoIp",
    "TrustedProxies",
    "add_country",
    "client_address",
    "parse_address",
]

COUNTRY_CODE = "$geoip_country_code"
COUNTRY_NAME = "$geoip_country_name"
# PostHog's per-event opt-out.
DISABLE = "$geoip_disable"
# Addresses remembered with their answer: a few MB at most.
CACHE_SIZE = 16_384

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Country(NamedTuple):
    code: str  # ISO 3166-1 alpha-2, upper case
    name: str  # English, empty when the database has none


class GeoIp:
    """A MaxMind database opened once per process; :meth:`country` is cached per address."""

    def __init__(self, path: Path) -> None:
        try:
            self._reader = maxminddb.open_database(str(path), maxminddb.MODE_AUTO)
        except OSError as exc:
            raise ConfigError(f"HELIOGRAPH_GEOIP_DB={path}: cannot read: {exc.strerror}") from None
        except maxminddb.InvalidDatabaseError as exc:
            raise ConfigError(f"HELIOGRAPH_GEOIP_DB={path}: not a MaxMind file: {exc}") from None
        # Per instance (not on the method): the cache dies with the reader.
        self.country = lru_cache(maxsize=CACHE_SIZE)(self._lookup)

    def _lookup(self, address: str) -> Country | None:
        """The country of ``address``; None for private, reserved or unknown addresses."""
        parsed = parse_address(address)
        if parsed is None or not parsed.is_global:
            return None
        try:
            record = self._reader.get(parsed)
        except (ValueError, maxminddb.InvalidDatabaseError):
            # An IPv6 address in an IPv4-only database, or a damaged file: no country.
            return None
        return _country_of(record)

    def close(self) -> None:
        self._reader.close()


def _country_of(record: Any) -> Country | None:
    country = record.get("country") if isinstance(record, dict) else None
    if not isinstance(country, dict):
        return None
    code = country.get("iso_code")
    if not isinstance(code, str) or len(code) != 2 or not code.isascii() or not code.isalpha():
        return None
    names = country.get("names")
    name = names.get("en") if isinstance(names, dict) else None
    return Country(code.upper(), name if isinstance(name, str) else "")


def add_country(events: Iterable[dict[str, Any]], country: Country) -> None:
    """Set the country on each normalised event that neither has one nor opted out.

    Server-side SDKs may send ``$geoip_country_code`` for the user they act
    for: the server's own address would be wrong, so theirs wins.
    """
    for event in events:
        properties = event["properties"]
        if properties.get(DISABLE) is True or properties.get(COUNTRY_CODE) is not None:
            continue
        properties[COUNTRY_CODE] = country.code
        if country.name:
            properties[COUNTRY_NAME] = country.name


class TrustedProxies:
    """The proxies whose ``X-Forwarded-For`` is believed (``HELIOGRAPH_TRUSTED_PROXIES``)."""

    def __init__(self, networks: Sequence[str] = ()) -> None:
        self.networks: tuple[Network, ...] = tuple(
            ipaddress.ip_network(text, strict=False) for text in networks
        )

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusts(self, address: str) -> bool:
        parsed = parse_address(address)
        return parsed is not None and any(parsed in network for network in self.networks)


def parse_address(text: str) -> Address | None:
    """An address as peers and proxies write it: ``1.2.3.4``, ``1.2.3.4:80``, ``[::1]:80``,
    ``::ffff:1.2.3.4`` (an IPv4 client of a dual-stack socket, read as IPv4); None if not one."""
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        parsed = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return parsed.ipv4_mapped
    return parsed


def client_address(peer: str | None, forwarded_for: Sequence[str], trusted: TrustedProxies) -> str:
    """The client's address: the peer's, or, from a trusted proxy, what it forwarded.

    ``forwarded_for`` is every ``X-Forwarded-For`` header of the request, in
    order. Each proxy appends the address it got the request from, so the
    list is read from the right, and the first address that is not a trusted
    proxy is the client: anything left of it is whatever the client sent.
    An entry that is no address ends the walk with no answer (empty).
    """
    address = peer or ""
    if not trusted or not trusted.trusts(address):
        return address
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",")]
    for hop in reversed([hop for hop in hops if hop]):
        parsed = parse_address(hop)
        if parsed is None:
            return ""
        address = str(parsed)
        if not trusted.trusts(address):
            return address
    return address
