"""Visitors' countries through a real server: uvicorn and Heliograph agree on whose address.

The server listens on 127.0.0.1, as it would behind a local reverse proxy.
uvicorn alone would believe ``X-Forwarded-For`` from there; Heliograph
believes it only from ``HELIOGRAPH_TRUSTED_PROXIES``.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import pytest

from heliograph.store import open_store
from tests.conftest import LiveServer, launch, start_server
from tests.mmdb import COUNTRIES, country_record, write_mmdb

pytestmark = pytest.mark.e2e

UK = "81.2.69.160"


def _countries(server: LiveServer) -> list[str]:
    """Post a pageview 'forwarded' for a UK address; the countries the dashboard counts."""
    pageview = {
        "event": "$pageview",
        "distinct_id": "visitor",
        "uuid": str(uuid.uuid4()),
        "properties": {"$session_id": "s1", "$pathname": "/"},
    }
    response = httpx.post(
        f"{server.url}/batch/",
        json={"api_key": server.public_key, "batch": [pageview]},
        headers={"X-Forwarded-For": UK},
    )
    assert response.status_code == 200, response.text
    server.wait_for_digest()
    store = open_store(f"sqlite:///{server.data_dir}/heliograph.sqlite3")
    try:
        hour = int(time.time() // 3600)
        tops = store.web_top(server.project_id, "country", hour - 1, hour + 1)
    finally:
        store.close()
    return [top.value for top in tops]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    networks = {network: country_record(*found) for network, found in COUNTRIES.items()}
    return write_mmdb(tmp_path / "GeoLite2-Country.mmdb", networks)


@pytest.mark.parametrize(("proxies", "expected"), [("", []), ("127.0.0.1, ::1", ["GB"])])
def test_forwarded_addresses_count_only_from_trusted_proxies(
    tmp_path: Path, db_path: Path, proxies: str, expected: list[str]
) -> None:
    env = {"HELIOGRAPH_GEOIP_DB": str(db_path), "HELIOGRAPH_TRUSTED_PROXIES": proxies}
    server = launch(tmp_path / "data", env=env)
    try:
        assert _countries(server) == expected
    finally:
        server.stop()


def test_an_unreadable_database_stops_the_start(tmp_path: Path) -> None:
    missing = tmp_path / "GeoLite2-Country.mmdb"
    with pytest.raises(AssertionError, match=r"(?s)HELIOGRAPH_GEOIP_DB=.*cannot read"):
        start_server(tmp_path / "data", env={"HELIOGRAPH_GEOIP_DB": str(missing)})
