"""Two nodes on PostgreSQL with their events in ClickHouse, through the production client.

ClickHouse here is the engine (chdb) behind the HTTP interface clickhouse-connect
speaks, in a process of its own (``python -m tests.clickhouse``), so the nodes
reach it over HTTP exactly as they would a ClickHouse server. Events sent to
either node are counted once in PostgreSQL and readable from ClickHouse on
both; while ClickHouse is down, nodes keep acknowledging and lose nothing:
once it is back, every acknowledged event is there, counted once.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import clickhouse
from tests.conftest import launch, start_server
from tests.e2e.test_postgres_nodes import _send, _send_to_both, _wait_digested
from tests.postgres import PostgresCluster

pytestmark = pytest.mark.e2e


class _ClickHouseProcess:
    """``python -m tests.clickhouse`` on a directory that outlives the process."""

    def __init__(self, path: Path, port: int = 0) -> None:
        self.path = path
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.clickhouse", "--path", str(path), "--port", str(port)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.startswith("listening on "), line
        self.port = int(line.split()[-1])

    @property
    def url(self) -> str:
        return f"clickhouse://default:@127.0.0.1:{self.port}/heliograph"

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture
def clickhouse_server(tmp_path: Path) -> Iterator[_ClickHouseProcess]:
    if not clickhouse.available():
        pytest.skip("chdb is not installed (pip install -e '.[test]')")
    server = _ClickHouseProcess(tmp_path / "clickhouse")
    yield server
    server.kill()


def _counts(url: str, token: str) -> list[int]:
    issues = httpx.get(
        f"{url}/api/0/projects/default/default/issues/",
        params={"query": "SharedNodeError"},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    return sorted(int(issue["count"]) for issue in issues)


def _missing(url: str, token: str, event_ids: list[str]) -> list[str]:
    headers = {"Authorization": f"Bearer {token}"}
    return [
        event_id
        for event_id in event_ids
        if httpx.get(
            f"{url}/api/0/projects/default/default/events/{event_id}/", headers=headers
        ).status_code
        != 200
    ]


def _wait_until(condition: object, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not condition():  # type: ignore[operator]
        time.sleep(0.2)


def test_two_nodes_keep_their_events_in_clickhouse(
    tmp_path: Path, postgres: PostgresCluster | None, clickhouse_server: _ClickHouseProcess
) -> None:
    if postgres is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    env = {
        "HELIOGRAPH_DATABASE_URL": postgres.new_database(),
        "HELIOGRAPH_EVENTS_URL": clickhouse_server.url,
    }
    first = launch(tmp_path / "node-1", env=env)
    process, port, _ = start_server(tmp_path / "node-2", env=env)
    second_url = f"http://127.0.0.1:{port}"
    try:
        acked = _send_to_both((second_url, first.url), first.public_key, first.project_id, 20)
        _wait_digested(first.url)
        _wait_digested(second_url)
        assert _counts(first.url, first.api_token) == [20]
        assert _counts(second_url, first.api_token) == [20]
        assert _missing(second_url, first.api_token, acked) == []

        # ClickHouse goes away: the nodes still acknowledge, and keep what they acknowledged.
        clickhouse_server.kill()
        during = []
        for n in range(10):
            url = first.url if n % 2 else second_url
            event_id = _send(url, first.public_key, first.project_id, "while ClickHouse is down")
            assert event_id is not None, "ingest does not depend on ClickHouse"
            during.append(event_id)
        time.sleep(1.0)  # digest tries, fails, and keeps the payloads queued
        restarted = _ClickHouseProcess(clickhouse_server.path, clickhouse_server.port)
        clickhouse_server.process = restarted.process
        _wait_until(lambda: not _missing(first.url, first.api_token, during), 60)
        assert _missing(first.url, first.api_token, during) == []
        assert _counts(first.url, first.api_token) == [30], "each event counted once"
        headers = {"Authorization": f"Bearer {first.api_token}"}
        [issue] = httpx.get(
            f"{first.url}/api/0/projects/default/default/issues/",
            params={"query": "SharedNodeError"},
            headers=headers,
        ).json()
        listed = httpx.get(
            f"{second_url}/api/0/issues/{issue['id']}/events/",
            params={"per_page": 100},
            headers=headers,
        ).json()
        assert sorted(event["eventID"] for event in listed) == sorted(acked + during)
    finally:
        process.terminate()
        process.wait(timeout=30)
        first.stop()
