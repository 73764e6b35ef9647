"""``/metrics`` of a real ``heliograph serve --workers 2``: the node's figures, summed.

Each acceptor and digest worker is a process of its own: a figure is right
only if the scrape sums them all (prometheus-client's multiprocess files),
whichever acceptor answers it, and only if it survives a worker's restart.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import LiveServer, free_port, launch, start_server
from tests.payloads import auth_header, envelope, sentry_event

pytestmark = pytest.mark.e2e

TOKEN = "live-metrics-token"
SENT = 40

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, int]]:
    metrics_port = free_port()
    env = {
        "HELIOGRAPH_METRICS_TOKEN": TOKEN,
        "HELIOGRAPH_METRICS_ADDRESS": f"127.0.0.1:{metrics_port}",
    }
    live = launch(tmp_path_factory.mktemp("metrics-data"), env)
    yield live, metrics_port
    live.stop()


def parse(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def scrape(live: LiveServer) -> Samples:
    response = httpx.get(f"{live.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    return parse(response.text)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every series of ``name`` whose labels include ``labels``."""
    return sum(
        value
        for (found, series), value in samples.items()
        if found == name and labels.items() <= dict(series).items()
    )


def workers_up(samples: Samples) -> set[str]:
    return {
        dict(series)["worker"]
        for (name, series), value in samples.items()
        if name == "heliograph_worker_up" and value == 1
    }


def send_events(live: LiveServer, count: int) -> None:
    """Each on a new connection: the kernel spreads them over both acceptors."""
    for _ in range(count):
        response = httpx.post(
            f"{live.url}/api/{live.project_id}/envelope/",
            content=envelope(sentry_event()),
            headers=auth_header(live.public_key),
        )
        assert response.status_code == 200, response.text


def test_the_scrape_sums_every_acceptor_and_digest_worker(server: tuple[LiveServer, int]) -> None:
    live, _ = server
    before = scrape(live)
    send_events(live, SENT)
    live.wait_for_digest()
    after = scrape(live)

    def grew(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    assert grew("heliograph_ingest_payloads_total", protocol="sentry", outcome="accepted") == SENT
    route = "/api/{project_id}/envelope/"
    assert grew("heliograph_http_requests_total", route=route, status="200") == SENT
    assert grew("heliograph_digest_events_total", kind="error") == SENT
    assert grew("heliograph_digest_payloads_total", kind="sentry_envelope") == SENT
    assert total(after, "heliograph_queue_depth") == 0
    assert total(after, "heliograph_digest_lag_seconds") == 0
    assert total(after, "heliograph_dead_letters") == 0
    assert workers_up(after) == {"acceptor-0", "acceptor-1", "digest-0", "digest-1"}
    assert total(after, "heliograph_workers_configured", role="digest") == 2
    # Both digest workers go round their loop (each drains its own acceptor's shard).
    for worker in ("digest-0", "digest-1"):
        beat = total(after, "heliograph_digest_heartbeat_timestamp_seconds", worker=worker)
        assert time.time() - beat < 30, worker


def test_the_separate_address_serves_the_same_figures_without_a_token(
    server: tuple[LiveServer, int],
) -> None:
    live, metrics_port = server
    send_events(live, 3)
    live.wait_for_digest()
    main = scrape(live)
    response = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics")
    assert response.status_code == 200
    apart = parse(response.text)
    name = "heliograph_ingest_payloads_total"
    assert total(apart, name, outcome="accepted") == total(main, name, outcome="accepted") > 0
    assert workers_up(apart) == workers_up(main)
    assert total(apart, "heliograph_queue_depth") == 0


def test_a_restarted_worker_keeps_its_counts_and_is_counted_as_restarted(
    server: tuple[LiveServer, int],
) -> None:
    live, _ = server
    before = scrape(live)
    victim = _digest_worker(live, 1)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        now = scrape(live)
        restarted = total(now, "heliograph_worker_restarts_total", worker="digest-1")
        if restarted == 1 and "digest-1" in workers_up(now):
            break
        time.sleep(0.2)
    else:
        raise AssertionError("digest-1 was not restarted and counted")
    # The dead process's counts stay in the sums: nothing goes backwards.
    for name in ("heliograph_digest_events_total", "heliograph_ingest_payloads_total"):
        assert total(now, name) >= total(before, name)
    assert _digest_worker(live, 1) != victim


def _digest_worker(live: LiveServer, number: int) -> int:
    """The pid of the server's digest process ``number``."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().decode().split("\0")
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent != live.process.pid or "heliograph.digest.process" not in argv:
            continue
        if argv[argv.index("--worker") + 1] == str(number):
            return int(entry.name)
    raise AssertionError(f"no digest worker {number}")


def test_an_address_that_cannot_be_bound_stops_the_server(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {"HELIOGRAPH_METRICS_ADDRESS": f"127.0.0.1:{port}"}
        with pytest.raises(AssertionError, match="HELIOGRAPH_METRICS_ADDRESS: cannot serve"):
            start_server(tmp_path / "data", env=env)
