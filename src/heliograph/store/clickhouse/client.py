"""Talking to ClickHouse: the small interface the event store needs, and its HTTP client.

The event store speaks to ClickHouse through :class:`ClickHouseClient`, four
methods and nothing else, like an httpx transport: the production client
below goes over HTTP with clickhouse-connect; the test suite plugs in the
ClickHouse engine in-process (chdb) through the same interface, so both run
the very same SQL. Queries bind values as ClickHouse query parameters
(``{name:Type}``), which the server substitutes: no value is ever formatted
into SQL text. Rows are inserted as ``JSONEachRow``, one JSON object per line.

A client is chosen by the scheme of ``HELIOGRAPH_EVENTS_URL`` in :data:`CLIENTS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from heliograph.config import ConfigError
from heliograph.store.base import StoreUnavailable

__all__ = ["CLIENTS", "ClickHouseClient", "HttpClient", "connect"]

Row = tuple[Any, ...]


class ClickHouseClient(Protocol):
    """What the event store asks of ClickHouse."""

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        """The rows ``sql`` selects, ``{name:Type}`` placeholders bound from ``params``."""
        ...

    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        """Run a statement that returns nothing (DDL, a lightweight ``DELETE``, a
        mutation), ``{name:Type}`` placeholders bound from ``params``."""
        ...

    def insert(self, table: str, columns: Sequence[str], rows: bytes, *, token: str) -> None:
        """Insert ``rows`` (``JSONEachRow`` lines) into ``table``, all or nothing.

        ``token`` is the block's ``insert_deduplication_token``: the same rows
        inserted again under the same token (a replay after a crash) are dropped.
        """
        ...

    def close(self) -> None: ...


def insert_sql(table: str, columns: Sequence[str], token: str) -> str:
    """The ``INSERT`` statement whose data (``JSONEachRow``) follows it."""
    quoted = token.replace("\\", "\\\\").replace("'", "\\'")
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"SETTINGS insert_deduplication_token = '{quoted}' FORMAT JSONEachRow"
    )


class HttpClient:
    """A ClickHouse server over HTTP(S), through clickhouse-connect.

    ``clickhouse://user:password@host:8123/database`` (``clickhouses://`` for
    HTTPS, default port 8443). Connection failures and timeouts raise
    :class:`StoreUnavailable`: digest keeps the batch and tries again.
    """

    def __init__(self, url: str) -> None:
        import clickhouse_connect

        parts = urlsplit(url)
        secure = parts.scheme == "clickhouses"
        options = parse_qs(parts.query)
        try:
            self._client = clickhouse_connect.get_client(
                host=parts.hostname or "localhost",
                port=parts.port or (8443 if secure else 8123),
                username=unquote(parts.username or "default"),
                password=unquote(parts.password or ""),
                database=parts.path.lstrip("/") or "default",
                secure=secure,
                connect_timeout=float(options.get("connect_timeout", ["10"])[0]),
                send_receive_timeout=float(options.get("timeout", ["60"])[0]),
                autogenerate_session_id=False,
            )
        except Exception as exc:
            raise _unavailable(exc) from exc

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        try:
            result = self._client.query(sql, parameters=dict(params or {}))
        except Exception as exc:
            raise _unavailable(exc) from exc
        return [tuple(row) for row in result.result_rows]

    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        try:
            self._client.command(sql, parameters=dict(params) if params else None)
        except Exception as exc:
            raise _unavailable(exc) from exc

    def insert(self, table: str, columns: Sequence[str], rows: bytes, *, token: str) -> None:
        try:
            self._client.command(insert_sql(table, columns, token), data=rows)
        except Exception as exc:
            raise _unavailable(exc) from exc

    def close(self) -> None:
        self._client.close()


def _unavailable(exc: Exception) -> Exception:
    """``exc`` as :class:`StoreUnavailable` when the server could not be reached."""
    from clickhouse_connect.driver.exceptions import OperationalError

    if isinstance(exc, OperationalError | ConnectionError | TimeoutError):
        return StoreUnavailable(f"ClickHouse: {exc}")
    return exc


# URL scheme -> client. Tests register the in-process engine here.
CLIENTS: dict[str, Callable[[str], ClickHouseClient]] = {
    "clickhouse": HttpClient,
    "clickhouses": HttpClient,
}


def connect(url: str) -> ClickHouseClient:
    """The client ``url`` names; :class:`ConfigError` names the schemes known."""
    scheme = url.split(":", 1)[0].lower()
    factory = CLIENTS.get(scheme)
    if factory is None or "://" not in url:
        known = ", ".join(f"{name}://" for name in sorted(CLIENTS))
        raise ConfigError(f"unsupported events URL {url.split('@')[-1]!r}: use one of {known}")
    return factory(url)
