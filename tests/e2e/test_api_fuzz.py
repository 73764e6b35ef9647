"""The JSON API, fuzzed from its own OpenAPI schema with schemathesis: never a 5xx.

Every operation of ``/api/openapi.json`` is called with generated data, valid
and invalid (``GenerationMode.POSITIVE`` and ``NEGATIVE``), once with real
identifiers in the path (so query strings and bodies reach the deep code)
and once with generated ones, as an admin with a bearer token. Hypothesis
runs derandomized with a small example budget, so the test is repeatable
and takes seconds. Also checked: every API route of the app is in the schema.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from starlette.routing import Route

from heliograph.api.routes import routes as api_routes
from heliograph.store.base import DigestBatch
from tests.conftest import LiveServer, launch
from tests.contract.builders import ai_event
from tests.payloads import auth_header, envelope, sentry_event
from tests.stores import server_store

pytestmark = pytest.mark.e2e
EXAMPLES = 60


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    found = launch(tmp_path_factory.mktemp("fuzz"))
    event = sentry_event("fuzz me")
    response = httpx.post(
        f"{found.url}/api/{found.project_id}/envelope/",
        content=envelope(event),
        headers=auth_header(found.public_key),
    )
    assert response.status_code == 200
    found.wait_for_digest()
    with server_store(found) as store:  # an LLM call, for the LLM endpoints' real ids
        call = ai_event(
            found.project_id,
            trace="fuzz-trace",
            at=time.time(),
            session="fuzz-session",
            distinct_id="fuzz-user",
            span_name="fuzz",
        )
        store.record(DigestBatch(analytics=[call]))
    yield found
    found.stop()


def _real_parameters(server: LiveServer) -> dict[str, Any]:
    with server.api() as api:
        [issue] = api.get("/api/0/projects/default/default/issues/").json()
        [event] = api.get(f"/api/0/issues/{issue['id']}/events/").json()
        flag = api.post(
            f"/api/projects/{server.project_id}/feature_flags/",
            json={"key": "fuzzed", "filters": {"groups": [{"rollout_percentage": 50}]}},
        )
        assert flag.status_code == 201, flag.text
        [generation] = api.get("/api/0/projects/default/default/llm/generations/").json()
    return {
        "organization_slug": "default",
        "project_slug": "default",
        "issue_id": int(issue["id"]),
        "event_id": event["eventID"],
        "key_id": server.public_key,
        "project_id": server.project_id,
        "flag_id": flag.json()["id"],
        "generation_id": generation["id"],
        "trace_id": "fuzz-trace",
        "session_id": "fuzz-session",
        "distinct_id": "fuzz-user",
    }


def test_every_api_route_is_in_the_schema(server: LiveServer) -> None:
    paths = httpx.get(f"{server.url}/api/openapi.json").json()["paths"]
    for route in api_routes:
        assert isinstance(route, Route)
        if route.path == "/api/openapi.json":
            continue
        documented = paths.get(re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path))
        assert documented is not None, f"{route.path} is missing from the OpenAPI schema"
        for method in (route.methods or set()) - {"HEAD", "OPTIONS"}:
            assert method.lower() in documented, f"{method} {route.path} is not documented"


def test_no_generated_request_makes_the_api_fail(server: LiveServer) -> None:
    schema = schemathesis.openapi.from_url(f"{server.url}/api/openapi.json")
    auth = {"Authorization": f"Bearer {server.api_token}"}
    real = _real_parameters(server)
    failures: list[str] = []
    calls = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        names = {p.name for p in operation.path_parameters}
        fixed = {name: value for name, value in real.items() if name in names}
        if "/llm/" in operation.path and "event_id" in fixed:  # an LLM event, not an error
            fixed["event_id"] = real["generation_id"]
        strategies = [
            operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
            for path_parameters in ({}, fixed)
        ]

        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=st.one_of(strategies))
        def call(case: schemathesis.Case) -> None:
            nonlocal calls
            calls += 1
            response = case.call(headers=auth, timeout=10)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} query={case.query!r} "
                    f"body={case.body!r} -> {response.status_code}: {response.text[:200]}"
                )

        call()
    assert failures == []
    assert calls > 100
    assert httpx.get(f"{server.url}/_health").status_code == 200
