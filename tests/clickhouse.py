"""ClickHouse for the tests: the real engine in-process (chdb), and an HTTP face for it.

No ClickHouse server installs on the machines the tests run on, but the
engine does, as the ``chdb`` package. Two ways in, both running the event
store's SQL on that engine:

* :class:`ChdbClient`: the event store's client interface straight onto the
  engine (``chdb://<database>`` once :func:`register` ran): the contract suite;
* :class:`ClickHouseHttp`: a small HTTP server that answers the requests
  clickhouse-connect makes (the part of ClickHouse's HTTP interface it uses:
  the query in the URL or the body, ``param_*`` query parameters, the
  database, an insert's data as the body), so that the production client,
  :class:`heliograph.store.clickhouse.client.HttpClient`, is exercised too.

chdb allows one process per on-disk engine, so the whole test process
shares one, each test in a database of its own. A test that needs ClickHouse
in another process (a real ``heliograph serve`` node) starts this module as a
server over a directory that outlives it: ``python -m tests.clickhouse
--path DIR --port N`` (it prints ``listening on PORT``).
"""

from __future__ import annotations

import atexit
import itertools
import shutil
import tempfile
import threading
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from heliograph.store.clickhouse.client import CLIENTS, Row, insert_sql

_lock = threading.RLock()
_engine: Any = None
# Where the engine keeps its files (None: a temporary directory, removed at exit).
_engine_path: str | None = None
_databases = itertools.count(1)


def available() -> bool:
    try:
        import chdb  # noqa: F401
    except ImportError:
        return False
    return True


def _session() -> Any:
    """The process's one engine, started on first use in a temporary directory."""
    global _engine
    with _lock:
        if _engine is None:
            from chdb import session

            path = _engine_path
            if path is None:
                path = tempfile.mkdtemp(prefix="heliograph-chdb-")
                atexit.register(shutil.rmtree, path, ignore_errors=True)
            _engine = session.Session(path)
            _engine.query("SET output_format_json_quote_64bit_integers = 0")
            _engine.query("SET output_format_json_quote_64bit_floats = 0")
        return _engine


def run(database: str, sql: str, fmt: str, params: Mapping[str, str] | None = None) -> bytes:
    """Run ``sql`` in ``database`` on the shared engine; the result in format ``fmt``."""
    with _lock:
        engine = _session()
        engine.query(f"USE {database}")
        return bytes(engine.query(sql, fmt, params=dict(params or {})).bytes())


def new_database() -> str:
    """A fresh, empty database on the shared engine."""
    name = f"test_{next(_databases)}"
    with _lock:
        _session().query(f"CREATE DATABASE IF NOT EXISTS {name}")
    return name


def _bind(params: Mapping[str, Any] | None) -> dict[str, str]:
    """Values as ClickHouse's query-parameter text: as clickhouse-connect sends them."""
    from clickhouse_connect.driver.binding import format_bind_value

    return {name: format_bind_value(value) for name, value in (params or {}).items()}


class ChdbClient:
    """The event store's client interface on the shared in-process engine."""

    def __init__(self, database: str) -> None:
        self.database = database

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        out = run(self.database, sql, "JSONCompactEachRow", _bind(params))
        return [tuple(orjson.loads(line)) for line in out.splitlines() if line]

    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        run(self.database, sql, "CSV", _bind(params))

    def insert(self, table: str, columns: Sequence[str], rows: bytes, *, token: str) -> None:
        run(self.database, f"{insert_sql(table, columns, token)}\n{rows.decode()}", "CSV")

    def close(self) -> None:
        pass  # the engine is the process's, shared by every test


def register() -> None:
    """Make ``chdb://<database>`` an events URL (in this process only)."""
    CLIENTS["chdb"] = lambda url: ChdbClient(url.removeprefix("chdb://"))


class _Handler(BaseHTTPRequestHandler):
    """One request of ClickHouse's HTTP interface, answered by the shared engine."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._answer(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._answer(self.rfile.read(length))

    def _answer(self, body: bytes) -> None:
        url = urlsplit(self.path)
        if url.path == "/ping":
            self._reply(200, b"Ok.\n")
            return
        args = {key: values[0] for key, values in parse_qs(url.query).items()}
        query = args.get("query")
        # The statement is the body, or it is in the URL and an insert's rows are the body.
        sql = body.decode() if query is None else "\n".join(filter(None, [query, body.decode()]))
        params = {key[6:]: value for key, value in args.items() if key.startswith("param_")}
        fmt = args.get("default_format", "TabSeparated")
        try:
            result = run(args.get("database", "default"), sql, fmt, params)
        except Exception as exc:
            self._reply(500, f"Code: 1000. DB::Exception: {exc}\n".encode())
            return
        self._reply(200, result)

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-ClickHouse-Server-Display-Name", "heliograph-tests")
        if status != 200:
            self.send_header("X-ClickHouse-Exception-Code", "1000")
        self.end_headers()
        self.wfile.write(body)


class ClickHouseHttp:
    """A ClickHouse HTTP endpoint on a loopback port (0: a free one), backed by the engine."""

    def __init__(self, port: int = 0) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, database: str) -> str:
        return f"clickhouse://default:@127.0.0.1:{self.port}/{database}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def main() -> None:
    """Serve the engine over HTTP from this process until killed (for tests' nodes)."""
    import argparse

    global _engine_path
    parser = argparse.ArgumentParser(description="ClickHouse's HTTP interface, on chdb")
    parser.add_argument("--path", required=True, help="the engine's directory (kept)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--database", default="heliograph", help="created if missing")
    args = parser.parse_args()
    _engine_path = args.path
    with _lock:
        _session().query(f"CREATE DATABASE IF NOT EXISTS {args.database}")
    endpoint = ClickHouseHttp(args.port)
    print(f"listening on {endpoint.port}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
