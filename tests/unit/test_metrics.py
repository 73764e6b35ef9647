"""``/metrics`` in-process: what is counted, how it is labelled, who may read it.

The app runs in this process (:mod:`tests.ingest_app`), so the metrics are
this process's registry, shared by every test: each test compares figures
before and after what it does, never absolute values.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from heliograph.config import ConfigError, Settings
from heliograph.ingest.counting import refusal_labels
from heliograph.metrics_endpoint import NOT_ENABLED, token_matches
from heliograph.protocols.errors import (
    AuthError,
    BadEncoding,
    Overloaded,
    PayloadTooLarge,
    RateLimited,
)
from tests.ingest_app import IngestApp, ingest_app
from tests.payloads import auth_header, envelope, sentry_event

TOKEN = "metrics-test-token"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[IngestApp]:
    with ingest_app(tmp_path / "data") as found:
        found.runtime.settings = replace(found.runtime.settings, metrics_token=TOKEN)
        yield found


def scrape(app: IngestApp) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``/metrics``, by name and labels; the text must parse."""
    response = app.client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def post_event(app: IngestApp, project: int | str | None = None, key: str | None = None) -> int:
    path = f"/api/{app.project_id if project is None else project}/envelope/"
    headers = auth_header(key or app.public_key)
    return app.client.post(path, content=envelope(sentry_event()), headers=headers).status_code


def test_an_accepted_envelope_is_counted_by_protocol_and_route_template(app: IngestApp) -> None:
    before = scrape(app)
    assert post_event(app) == 200
    after = scrape(app)
    accepted = {"protocol": "sentry", "outcome": "accepted", "reason": ""}
    assert value(after, "heliograph_ingest_payloads_total", **accepted) == (
        value(before, "heliograph_ingest_payloads_total", **accepted) + 1
    )
    route = {"method": "POST", "route": "/api/{project_id}/envelope/", "status": "200"}
    assert value(after, "heliograph_http_requests_total", **route) == (
        value(before, "heliograph_http_requests_total", **route) + 1
    )
    # Never the raw path: no label holds the project's id.
    assert not [key for key in after if f"/api/{app.project_id}/" in str(key)]
    assert value(after, "heliograph_queue_depth") == 1
    assert value(after, "heliograph_digest_lag_seconds") >= 0
    assert value(after, "heliograph_disk_free_bytes") > 0


def test_refusals_are_counted_with_a_bounded_reason(app: IngestApp) -> None:
    before = scrape(app)
    assert post_event(app, key="0" * 32) == 403
    after = scrape(app)
    refused = {"protocol": "sentry", "outcome": "refused", "reason": "forbidden"}
    assert value(after, "heliograph_ingest_payloads_total", **refused) == (
        value(before, "heliograph_ingest_payloads_total", **refused) + 1
    )


def test_unmatched_paths_share_one_label(app: IngestApp) -> None:
    for path in ("/no/such/thing/1", "/no/such/thing/2", "/wp-login.php"):
        app.client.get(path, headers={"Accept": "application/json"})
    samples = scrape(app)
    routes = {
        dict(labels).get("route") for name, labels in samples if name.startswith("heliograph_http")
    }
    assert "unmatched" in routes
    assert not {route for route in routes if route and "such" in route}


def test_digest_figures_count_what_was_stored(app: IngestApp) -> None:
    before = scrape(app)
    assert post_event(app) == 200
    assert post_event(app) == 200
    app.digest()
    after = scrape(app)
    worker = {"worker": "main"}
    events = {**worker, "kind": "error"}
    payloads = {**worker, "kind": "sentry_envelope"}
    assert value(after, "heliograph_digest_events_total", **events) == (
        value(before, "heliograph_digest_events_total", **events) + 2
    )
    assert value(after, "heliograph_digest_payloads_total", **payloads) == (
        value(before, "heliograph_digest_payloads_total", **payloads) + 2
    )
    commits = {"operation": "digest_commit"}
    assert value(after, "heliograph_store_operation_duration_seconds_count", **commits) > (
        value(before, "heliograph_store_operation_duration_seconds_count", **commits)
    )
    assert value(after, "heliograph_digest_last_batch_timestamp_seconds", **worker) > 0
    assert value(after, "heliograph_queue_depth") == 0
    assert value(after, "heliograph_digest_lag_seconds") == 0


def test_without_a_token_metrics_are_off_and_say_how_to_turn_them_on(app: IngestApp) -> None:
    app.runtime.settings = replace(app.runtime.settings, metrics_token="")
    response = app.client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 404
    assert response.json() == {"detail": NOT_ENABLED}
    assert "HELIOGRAPH_METRICS_TOKEN" in NOT_ENABLED


@pytest.mark.parametrize(
    "header", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer "]
)
def test_a_wrong_or_missing_token_is_refused(app: IngestApp, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = app.client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert TOKEN not in response.text


def test_token_comparison() -> None:
    assert token_matches(f"Bearer {TOKEN}", TOKEN)
    assert token_matches(f"bearer {TOKEN}", TOKEN)
    assert not token_matches(None, TOKEN)
    assert not token_matches(TOKEN, TOKEN)


def test_refusal_labels_are_a_fixed_set() -> None:
    assert refusal_labels(AuthError("who?")) == ("refused", "auth")
    assert refusal_labels(BadEncoding("zstd? " + "x" * 500)) == ("refused", "bad_encoding")
    assert refusal_labels(PayloadTooLarge("big")) == ("refused", "too_large")
    limited = RateLimited("slow down", retry_after=1, reason="project_quota")
    assert refusal_labels(limited) == ("rate_limited", "project_quota")
    odd = RateLimited("slow down", retry_after=1, reason="made up by a client")
    assert refusal_labels(odd) == ("rate_limited", "other")
    assert refusal_labels(Overloaded("full", retry_after=1, reason="memory")) == (
        "rate_limited",
        "memory",
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("127.0.0.1:9464", ("127.0.0.1", 9464)),
        ("[::1]:9464", ("::1", 9464)),
        ("metrics.internal:80", ("metrics.internal", 80)),
    ],
)
def test_metrics_address_is_parsed(raw: str, expected: tuple[str, int]) -> None:
    settings = Settings.from_env({"HELIOGRAPH_METRICS_ADDRESS": raw})
    assert settings.metrics_address == expected


@pytest.mark.parametrize("raw", ["9464", ":9464", "127.0.0.1:", "127.0.0.1:0", "a b:1", "h:99999"])
def test_a_bad_metrics_address_stops_the_start(raw: str) -> None:
    with pytest.raises(ConfigError, match="HELIOGRAPH_METRICS_ADDRESS"):
        Settings.from_env({"HELIOGRAPH_METRICS_ADDRESS": raw})


def test_the_token_never_shows_in_the_settings_repr() -> None:
    settings = Settings.from_env({"HELIOGRAPH_METRICS_TOKEN": TOKEN})
    assert settings.metrics_token == TOKEN
    assert TOKEN not in repr(settings)
