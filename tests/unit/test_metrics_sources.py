"""The figures counted outside the request path: alert deliveries, retention, AI-fix calls,
the request middleware's edge cases, and the worker health the status page derives.

Metrics are this process's registry, shared by every test: compare before and after.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from heliograph.ai.fix import GenerationRecord
from heliograph.ai.fix_metrics import count_generation
from heliograph.alerts.delivery import AlertDelivery
from heliograph.alerts.rules import check_rule
from heliograph.metrics_middleware import RequestMetricsMiddleware
from heliograph.server_status import WorkerHealth
from heliograph.store import open_store
from heliograph.store.base import DigestBatch
from heliograph.store.contract import Store
from heliograph.store.retention import RetentionJob, count_pass
from tests.contract.builders import error

DAY = 86400.0


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path}/heliograph.sqlite3")
    yield opened
    opened.close()


def test_alert_deliveries_count_sent_retried_and_failed(store: Store) -> None:
    org = store.create_organization("acme", "Acme")
    project = store.create_project(org.id, "shop", "Shop")
    # Nothing listens on port 9: every try fails.
    raw = {
        "name": "new",
        "trigger": "new_issue",
        "actions": [{"type": "webhook", "url": "http://127.0.0.1:9/hook"}],
    }
    store.create_alert_rule(project.id, check_rule(raw), user_id=None)
    store.record(DigestBatch(errors=[error(project.id, "a")]))
    delivery = AlertDelivery(store, base_url="https://h.example", smtp=None, retries=(0.0,))
    retried = metric("heliograph_alert_deliveries_total", channel="webhook", outcome="retried")
    failed = metric("heliograph_alert_deliveries_total", channel="webhook", outcome="failed")

    assert delivery.run_once() == 1  # the first try: one retry left
    assert delivery.run_once(now=time.time() + 1) == 1  # the last try

    after = metric("heliograph_alert_deliveries_total", channel="webhook", outcome="retried")
    assert after == retried + 1
    after = metric("heliograph_alert_deliveries_total", channel="webhook", outcome="failed")
    assert after == failed + 1


def test_a_retention_pass_counts_what_it_deleted(store: Store) -> None:
    org = store.create_organization("acme", "Acme")
    project = store.create_project(org.id, "shop", "Shop")
    store.update_project(project.id, retention_days=1)
    now = time.time()
    old = [error(project.id, "old", at=now - 3 * DAY + n) for n in range(3)]
    store.record(DigestBatch(errors=old))
    events = metric("heliograph_retention_deleted_rows_total", kind="events")
    passes = metric("heliograph_retention_passes_total", outcome="ok")

    job = RetentionJob(store, interval=0.05, first_delay=0.0)
    job.start()
    deadline = time.monotonic() + 10
    while metric("heliograph_retention_passes_total", outcome="ok") == passes:
        assert time.monotonic() < deadline, "no retention pass ran"
        time.sleep(0.02)
    job.stop()

    assert metric("heliograph_retention_deleted_rows_total", kind="events") >= events + 3
    assert metric("heliograph_retention_deleted_rows_total", kind="issues") >= 1


def test_a_failed_retention_pass_is_counted() -> None:
    failed = metric("heliograph_retention_passes_total", outcome="failed")
    count_pass(None, 0.0)
    assert metric("heliograph_retention_passes_total", outcome="failed") == failed + 1


def _generation(model: str, *, is_error: bool = False) -> GenerationRecord:
    return GenerationRecord(
        provider="openai",
        model=model,
        base_url="https://api.openai.com/v1",
        issue_key="1",
        input_tokens=1_000_000,
        output_tokens=0 if is_error else 1_000,
        latency_seconds=1.0,
        time_to_first_token=0.2,
        is_error=is_error,
        error="boom" if is_error else None,
        http_status=500 if is_error else 200,
        usage_estimated=False,
        prompt_version="v1",
    )


def test_ai_fix_calls_count_tokens_and_a_known_price() -> None:
    labels = {"provider": "openai", "model": "gpt-4o-mini"}
    calls = metric("heliograph_ai_fix_calls_total", **labels, outcome="ok")
    tokens = metric("heliograph_ai_fix_tokens_total", **labels, direction="input")
    cost = metric("heliograph_ai_fix_cost_usd_total", **labels)
    count_generation(_generation("gpt-4o-mini"))
    assert metric("heliograph_ai_fix_calls_total", **labels, outcome="ok") == calls + 1
    assert metric("heliograph_ai_fix_tokens_total", **labels, direction="input") == tokens + 1e6
    # A million input tokens of a priced model cost something, and not a fortune.
    assert 0.01 < metric("heliograph_ai_fix_cost_usd_total", **labels) - cost < 100


def test_an_unpriced_model_adds_calls_but_no_cost() -> None:
    labels = {"provider": "openai", "model": "house-model-without-a-price"}
    count_generation(_generation(labels["model"], is_error=True))
    assert metric("heliograph_ai_fix_calls_total", **labels, outcome="error") >= 1
    assert metric("heliograph_ai_fix_cost_usd_total", **labels) == 0


def _app() -> Starlette:
    def crash(request: Request) -> PlainTextResponse:
        raise RuntimeError("boom")

    def item(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    routes = [
        Route("/items/{item_id}", item),
        Route("/crash", crash),
        Mount("/files", app=PlainTextResponse("file")),
    ]
    return Starlette(routes=routes, middleware=[Middleware(RequestMetricsMiddleware)])


def test_the_middleware_labels_templates_mounts_crashes_and_odd_methods() -> None:
    client = TestClient(_app(), raise_server_exceptions=False)
    name = "heliograph_http_requests_total"
    before = {
        "item": metric(name, method="GET", route="/items/{item_id}", status="200"),
        "crash": metric(name, method="GET", route="/crash", status="500"),
        "mount": metric(name, method="GET", route="/files/{path}", status="200"),
        "odd": metric(name, method="OTHER", route="/items/{item_id}", status="405"),
    }
    for n in range(3):
        assert client.get(f"/items/{n}").status_code == 200
    assert client.get("/crash").status_code == 500
    assert client.get("/files/a/b.txt").status_code == 200
    assert client.request("BREW", "/items/1").status_code == 405
    assert metric(name, method="GET", route="/items/{item_id}", status="200") == before["item"] + 3
    assert metric(name, method="GET", route="/crash", status="500") == before["crash"] + 1
    assert metric(name, method="GET", route="/files/{path}", status="200") == before["mount"] + 1
    assert metric(name, method="OTHER", route="/items/{item_id}", status="405") == before["odd"] + 1
    count = "heliograph_http_request_duration_seconds_count"
    assert metric(count, method="GET", route="/items/{item_id}") >= 3


@pytest.mark.parametrize(
    ("name", "up", "heartbeat_age", "started_age", "state"),
    [
        ("digest-0", True, 0.0, None, "ok"),
        ("digest-0", True, 600.0, None, "stale"),
        ("acceptor-0", True, None, None, "ok"),
        ("digest-1", False, 600.0, None, "down"),
        ("acceptor-1", False, None, 0.0, "down"),
        ("main", False, 0.0, None, "ok"),
    ],
)
def test_worker_states(
    name: str, up: bool, heartbeat_age: float | None, started_age: float | None, state: str
) -> None:
    """Ages, not times: the cases are built when the test runs, not when pytest collects."""
    now = time.time()
    health = WorkerHealth(
        name,
        up=up,
        heartbeat_at=None if heartbeat_age is None else now - heartbeat_age,
        started_at=None if started_age is None else now - started_age,
    )
    assert health.state == state
