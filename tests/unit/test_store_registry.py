"""The one place a backend is chosen: HELIOGRAPH_DATABASE_URL through open_store."""

from __future__ import annotations

from pathlib import Path

import pytest

from heliograph.config import ConfigError, Settings
from heliograph.store import BACKENDS, open_store
from heliograph.store.base import StoreNotFound


def test_the_default_url_is_sqlite_in_the_data_directory(tmp_path: Path) -> None:
    settings = Settings.from_env({"HELIOGRAPH_DATA_DIR": str(tmp_path)})
    assert settings.store_url == f"sqlite:///{tmp_path}/heliograph.sqlite3"
    store = open_store(settings.store_url)
    try:
        assert store.count_users() == 0
    finally:
        store.close()
    assert (tmp_path / "heliograph.sqlite3").exists()


def test_the_environment_names_another_url(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/elsewhere/db.sqlite3"
    settings = Settings.from_env({"HELIOGRAPH_DATABASE_URL": f" {url} "})
    assert settings.store_url == url
    open_store(url).close()
    assert (tmp_path / "elsewhere" / "db.sqlite3").exists()


def test_an_unknown_scheme_names_the_known_ones() -> None:
    with pytest.raises(ConfigError) as refused:
        open_store("mysql://user:secret@db/heliograph")
    message = str(refused.value)
    assert "sqlite://" in message and all(f"{s}://" in message for s in BACKENDS)
    assert "secret" not in message  # credentials never echoed


def test_without_create_a_missing_store_is_said_so(tmp_path: Path) -> None:
    with pytest.raises(StoreNotFound):
        open_store(f"sqlite:///{tmp_path}/missing.sqlite3", create=False)
    assert not (tmp_path / "missing.sqlite3").exists()


def test_events_elsewhere_need_a_postgresql_store(tmp_path: Path) -> None:
    settings = Settings.from_env({"HELIOGRAPH_EVENTS_URL": " clickhouse://ch:8123/db "})
    assert settings.events_url == "clickhouse://ch:8123/db"
    with pytest.raises(ConfigError, match="postgresql://"):
        open_store(f"sqlite:///{tmp_path}/db.sqlite3", events_url=settings.events_url)
    assert not (tmp_path / "db.sqlite3").exists()


def test_an_unknown_events_scheme_names_the_known_ones() -> None:
    from heliograph.store.clickhouse.client import connect

    with pytest.raises(ConfigError) as refused:
        connect("cassandra://user:secret@host/events")
    message = str(refused.value)
    assert "clickhouse://" in message and "secret" not in message


def test_an_unreachable_clickhouse_is_unavailable_not_broken() -> None:
    """Digest keeps a batch and retries on StoreUnavailable; any other error dead-letters it."""
    import socket

    from heliograph.store.base import StoreUnavailable
    from heliograph.store.clickhouse.client import connect

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(StoreUnavailable, match="ClickHouse"):
        connect(f"clickhouse://127.0.0.1:{port}/db?connect_timeout=2")
