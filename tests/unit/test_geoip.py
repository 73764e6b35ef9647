"""Visitors' countries: the MaxMind lookup, whose address counts, and what ingest queues.

The databases are written by :mod:`tests.mmdb`: nothing is downloaded.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from heliograph.app import create_app
from heliograph.bootstrap import ensure_defaults
from heliograph.config import ConfigError, Settings
from heliograph.digest.worker import DigestWorker
from heliograph.ingest.geoip import (
    Country,
    GeoIp,
    TrustedProxies,
    add_country,
    client_address,
)
from heliograph.runtime import Runtime
from tests.mmdb import COUNTRIES, country_record, write_mmdb

UK = "81.2.69.160"
JAPAN = "2001:218::1"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    networks = {network: country_record(*found) for network, found in COUNTRIES.items()}
    # A private network with a record: it must still never be looked up.
    networks["10.0.0.0/8"] = country_record("DE", "Germany")
    return write_mmdb(tmp_path / "GeoLite2-Country.mmdb", networks)


@pytest.fixture
def geoip(db_path: Path) -> Iterator[GeoIp]:
    reader = GeoIp(db_path)
    yield reader
    reader.close()


def test_ipv4_and_ipv6_addresses_have_their_country(geoip: GeoIp) -> None:
    assert geoip.country(UK) == Country("GB", "United Kingdom")
    assert geoip.country(JAPAN) == Country("JP", "Japan")
    # An IPv4 client of a dual-stack socket, and a forwarded address with its port.
    assert geoip.country("::ffff:81.2.69.160") == Country("GB", "United Kingdom")
    assert geoip.country("89.160.20.115:443") == Country("SE", "Sweden")


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "2606:4700::1111", "10.1.2.3", "192.168.1.1", "127.0.0.1", "::1"]
)
def test_unknown_and_private_addresses_have_none(geoip: GeoIp, address: str) -> None:
    assert geoip.country(address) is None


@pytest.mark.parametrize("address", ["", "testclient", "999.1.1.1", "[::1"])
def test_what_is_no_address_has_none(geoip: GeoIp, address: str) -> None:
    assert geoip.country(address) is None


def test_lookups_are_cached_per_address(geoip: GeoIp) -> None:
    for _ in range(3):
        geoip.country(UK)
    info = geoip.country.cache_info()
    assert (info.misses, info.hits) == (1, 2)


def test_a_city_database_answers_too(tmp_path: Path) -> None:
    record = {**country_record("SE", "Sweden"), "city": {"names": {"en": "Linköping"}}}
    path = write_mmdb(tmp_path / "city.mmdb", {"89.160.20.112/28": record}, "GeoLite2-City")
    reader = GeoIp(path)
    try:
        assert reader.country("89.160.20.120") == Country("SE", "Sweden")
    finally:
        reader.close()


def test_the_setting_must_name_a_readable_maxmind_file(tmp_path: Path, db_path: Path) -> None:
    assert Settings.from_env({"HELIOGRAPH_GEOIP_DB": str(db_path)}).geoip_db == db_path
    assert Settings.from_env({"HELIOGRAPH_GEOIP_DB": ""}).geoip_db is None
    with pytest.raises(ConfigError, match=r"HELIOGRAPH_GEOIP_DB=.*cannot read"):
        Settings.from_env({"HELIOGRAPH_GEOIP_DB": str(tmp_path / "missing.mmdb")})
    with pytest.raises(ConfigError, match=r"HELIOGRAPH_GEOIP_DB=.*cannot read"):
        Settings.from_env({"HELIOGRAPH_GEOIP_DB": str(tmp_path)})
    text = tmp_path / "countries.csv"
    text.write_text("81.2.69.0/24,GB\n")
    with pytest.raises(ConfigError, match="not a MaxMind database"):
        Settings.from_env({"HELIOGRAPH_GEOIP_DB": str(text)})
    damaged = tmp_path / "damaged.mmdb"
    damaged.write_bytes(b"\xab\xcd\xefMaxMind.com" + b"junk")
    with pytest.raises(ConfigError, match="HELIOGRAPH_GEOIP_DB"):
        GeoIp(damaged)


def test_trusted_proxies_setting() -> None:
    assert Settings.from_env({}).trusted_proxies == ()
    found = Settings.from_env({"HELIOGRAPH_TRUSTED_PROXIES": " 10.0.0.1, 172.16.0.0/12,,::1 "})
    assert found.trusted_proxies == ("10.0.0.1/32", "172.16.0.0/12", "::1/128")
    with pytest.raises(ConfigError, match=r"'proxy\.local' is not an IP"):
        Settings.from_env({"HELIOGRAPH_TRUSTED_PROXIES": "10.0.0.1,proxy.local"})


PROXIES = TrustedProxies(["10.0.0.0/8", "::1"])


def test_forwarded_for_from_an_untrusted_peer_is_ignored() -> None:
    # A client says it is in the UK; its own address is what counts.
    assert client_address("203.0.113.9", [UK], PROXIES) == "203.0.113.9"
    # With no trusted proxies, nobody's header is believed, a local peer's neither.
    assert client_address("127.0.0.1", [UK], TrustedProxies()) == "127.0.0.1"
    assert client_address("10.0.0.2", [UK], TrustedProxies()) == "10.0.0.2"


def test_a_trusted_proxy_names_the_client() -> None:
    assert client_address("10.0.0.2", [UK], PROXIES) == UK
    assert client_address("::ffff:10.0.0.2", [f"{UK}:51000"], PROXIES) == UK
    # What the client put in the header itself is left of the address the proxy saw.
    assert client_address("10.0.0.2", [f"1.2.3.4, {UK}"], PROXIES) == UK
    # A chain of trusted proxies, across two headers; the client is the first other one.
    assert client_address("10.0.0.2", [f"1.2.3.4, {UK}", "10.9.9.9, ::1"], PROXIES) == UK
    # Only proxies in the chain: the first of them. No header: the peer.
    assert client_address("10.0.0.2", ["10.0.0.7, 10.0.0.8"], PROXIES) == "10.0.0.7"
    assert client_address("10.0.0.2", [], PROXIES) == "10.0.0.2"
    # Garbage where an address should be: no client address, so no country.
    assert client_address("10.0.0.2", [f"{UK}, unknown"], PROXIES) == ""
    assert client_address(None, [UK], PROXIES) == ""


def test_an_event_keeps_its_own_country_or_its_opt_out() -> None:
    events: list[dict[str, Any]] = [
        {"properties": {}},
        {"properties": {"$geoip_country_code": "FR"}},
        {"properties": {"$geoip_disable": True}},
        {"properties": {"$geoip_disable": False}},
    ]
    add_country(events, Country("GB", "United Kingdom"))
    assert [e["properties"].get("$geoip_country_code") for e in events] == [
        "GB",
        "FR",
        None,
        "GB",
    ]
    assert events[0]["properties"]["$geoip_country_name"] == "United Kingdom"
    assert "$geoip_country_name" not in events[1]["properties"]


@contextmanager
def _runtime(tmp_path: Path, **settings: Any) -> Iterator[tuple[Runtime, str]]:
    configured = Settings(data_dir=tmp_path / "data", **settings)
    runtime = Runtime(configured)
    try:
        welcome = ensure_defaults(runtime.store, configured.base_url)
        runtime.keys.reload()
        yield runtime, welcome.public_key
    finally:
        runtime.close()


def _send(
    runtime: Runtime,
    key: str,
    peer: str,
    events: list[dict[str, Any]],
    *,
    path: str = "/batch/",
    keep: bool = False,
) -> list[dict[str, Any]]:
    """Post events as from ``peer``, with a forged X-Forwarded-For; the events queued
    (taken off the queue unless ``keep``)."""
    client = TestClient(create_app(runtime.settings, runtime), client=(peer, 50000))
    forwarded = {"X-Forwarded-For": UK}
    response = client.post(path, json={"api_key": key, "batch": events}, headers=forwarded)
    assert response.status_code == 200, response.text
    [payload] = runtime.queue.oldest(10)
    assert peer.encode() not in payload.body and UK.encode() not in payload.body
    queued: list[dict[str, Any]] = orjson.loads(payload.body)
    if not keep:
        runtime.queue.remove([payload.id])
    return queued


def _view(uuid: str, **properties: Any) -> dict[str, Any]:
    return {
        "event": "$pageview",
        "distinct_id": "visitor-1",
        "uuid": uuid,
        "properties": {"$session_id": "s1", "$pathname": "/", **properties},
    }


def test_ingest_queues_the_country_and_never_the_address(tmp_path: Path, db_path: Path) -> None:
    with _runtime(tmp_path, geoip_db=db_path, trusted_proxies=("10.0.0.0/8",)) as (runtime, key):
        events = [
            _view("00000000-0000-4000-8000-000000000001"),
            _view("00000000-0000-4000-8000-000000000002", **{"$geoip_disable": True}),
            _view("00000000-0000-4000-8000-000000000003", **{"$geoip_country_code": "FR"}),
        ]
        # Through a trusted proxy: the forwarded address is the client's.
        queued = _send(runtime, key, "10.0.0.2", events, keep=True)
        assert [e["properties"].get("$geoip_country_code") for e in queued] == ["GB", None, "FR"]
        assert queued[0]["properties"]["$geoip_country_name"] == "United Kingdom"
        DigestWorker(runtime.queue, runtime.store).drain(timeout=60)
        project_id = runtime.keys.project_for(key)
        assert project_id is not None
        stored = runtime.store.get_event(project_id, "00000000000040008000000000000001")
        assert stored is not None
        # The visitor's session is counted in GB (the first pageview of the session).
        hour = int(time.time() // 3600)
        tops = runtime.store.web_top(project_id, "country", hour - 1, hour + 1)
        assert [(t.value, t.sessions) for t in tops] == [("GB", 1)]

        # A peer that is no trusted proxy: its X-Forwarded-For is a spoof, ignored.
        spoofed_view = _view("00000000-0000-4000-8000-00000000000a")
        spoofed = _send(runtime, key, "203.0.113.9", [spoofed_view])
        assert "$geoip_country_code" not in spoofed[0]["properties"]
        # The peer's own address is looked up.
        direct = _send(runtime, key, JAPAN, [_view("00000000-0000-4000-8000-00000000000b")])
        assert direct[0]["properties"]["$geoip_country_code"] == "JP"
        # Recordings are not events anyone counts by country.
        snapshot = {"event": "$snapshot", "distinct_id": "visitor-1", "properties": {}}
        recorded = _send(runtime, key, JAPAN, [snapshot], path="/s/")
        assert "$geoip_country_code" not in recorded[0]["properties"]


def test_a_server_without_a_database_adds_no_country(tmp_path: Path) -> None:
    with _runtime(tmp_path) as (runtime, key):
        queued = _send(runtime, key, UK, [_view("00000000-0000-4000-8000-000000000004")])
        assert "$geoip_country_code" not in queued[0]["properties"]
