"""Two Heliograph nodes on one PostgreSQL: one deployment, whichever node a client reaches.

Each node is a real ``heliograph serve`` with a data directory (and so an
ingest queue) of its own and the same ``HELIOGRAPH_DATABASE_URL``. The first
start creates the defaults and prints the DSN, login link and token; the
second joins them. Events sent to either node land in the same issues, seen
from both; ``kill -9`` of one node mid-stream loses nothing it acknowledged.
"""

from __future__ import annotations

import gzip
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import kill_tree, launch, start_server
from tests.payloads import auth_header, envelope, sentry_event
from tests.postgres import PostgresCluster

pytestmark = pytest.mark.e2e


def _send(server_url: str, dsn_key: str, project: int, message: str) -> str | None:
    """Post one error; its event id when acknowledged, else None."""
    event = sentry_event(message, exc_type="SharedNodeError")
    try:
        response = httpx.post(
            f"{server_url}/api/{project}/envelope/",
            content=gzip.compress(envelope(event)),
            headers={**auth_header(dsn_key), "Content-Encoding": "gzip"},
            timeout=10,
        )
    except httpx.TransportError:
        return None
    return event["event_id"] if response.status_code == 200 else None


def _send_to_both(urls: tuple[str, str], dsn_key: str, project: int, count: int) -> list[str]:
    """``count`` errors, alternately to each node; every one must be acknowledged."""
    acked = []
    for n in range(count):
        event_id = _send(urls[n % 2], dsn_key, project, f"sent to node {n % 2}")
        assert event_id is not None
        acked.append(event_id)
    return acked


def _wait_digested(url: str) -> None:
    deadline = time.monotonic() + 30
    while httpx.get(f"{url}/_health").json()["backlog"] and time.monotonic() < deadline:
        time.sleep(0.05)


def test_two_nodes_share_one_postgresql(tmp_path: Path, postgres: PostgresCluster | None) -> None:
    if postgres is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    env = {"HELIOGRAPH_DATABASE_URL": postgres.new_database()}
    first = launch(tmp_path / "node-1", env=env)
    process, port, lines = start_server(tmp_path / "node-2", env=env)
    second_url = f"http://127.0.0.1:{port}"
    try:
        assert not any("login link" in line for line in lines), "the second node joins"
        joined_dsn = next(line.split()[-1] for line in lines if "DSN" in line)
        assert joined_dsn.split("@")[0] == first.dsn.split("@")[0], "one project key"

        _send_to_both((second_url, first.url), first.public_key, first.project_id, 20)
        _wait_digested(first.url)
        _wait_digested(second_url)
        headers = {"Authorization": f"Bearer {first.api_token}"}
        seen = []
        for url in (first.url, second_url):
            issues = httpx.get(
                f"{url}/api/0/projects/default/default/issues/",
                params={"query": "SharedNodeError"},
                headers=headers,
            ).json()
            seen.append(sorted(int(issue["count"]) for issue in issues))
        assert seen == [[20], [20]], "one issue, with every event from both nodes, on both"

        # kill -9 the second node mid-stream; what it acknowledged survives its restart.
        stop = threading.Event()
        during: list[str] = []

        def stream() -> None:
            while not stop.is_set():
                event_id = _send(second_url, first.public_key, first.project_id, "mid-stream")
                if event_id is not None:
                    during.append(event_id)

        sender = threading.Thread(target=stream)
        sender.start()
        time.sleep(1.0)
        kill_tree(process)
        stop.set()
        sender.join(timeout=15)
        assert during, "nothing was acknowledged before the kill"
        process, port, _ = start_server(tmp_path / "node-2", env=env, port=port)
        _wait_digested(second_url)
        missing = [
            event_id
            for event_id in during
            if httpx.get(
                f"{first.url}/api/0/projects/default/default/events/{event_id}/", headers=headers
            ).status_code
            != 200
        ]
        assert missing == []
    finally:
        process.terminate()
        process.wait(timeout=30)
        first.stop()


def test_a_flag_changed_on_one_node_is_served_by_the_other(
    tmp_path: Path, postgres: PostgresCluster | None
) -> None:
    if postgres is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    env = {"HELIOGRAPH_DATABASE_URL": postgres.new_database()}
    first = launch(tmp_path / "node-1", env=env)
    process, port, _ = start_server(tmp_path / "node-2", env=env)
    second_url = f"http://127.0.0.1:{port}"

    def served(url: str) -> object:
        answer = httpx.post(
            f"{url}/flags/?v=2", json={"token": first.public_key, "distinct_id": "u1"}
        ).json()
        return answer["featureFlags"].get("shared-switch")

    def wait_for(url: str, value: object) -> float:
        began = time.monotonic()
        while served(url) != value:
            assert time.monotonic() - began < 10, f"{url} still serves {served(url)!r}"
            time.sleep(0.1)
        return time.monotonic() - began

    try:
        assert served(second_url) is None  # the second node has loaded "no such flag"
        with first.api() as api:
            created = api.post(
                f"/api/projects/{first.project_id}/feature_flags/",
                json={"key": "shared-switch", "filters": {"groups": [{"rollout_percentage": 100}]}},
            )
            assert created.status_code == 201, created.text
            assert served(first.url) is True  # the node that changed it: at once
            assert wait_for(second_url, True) < 7  # the other: within its reload interval
            api.patch(
                f"/api/projects/{first.project_id}/feature_flags/{created.json()['id']}/",
                json={"active": False},
            )
            assert wait_for(second_url, False) < 7
    finally:
        process.terminate()
        process.wait(timeout=30)
        first.stop()
