"""Feature flags from the outside: defined over the API, evaluated by the server and by posthog.

A real server; flags created through the PostHog-shaped management API with
an API token; the server's ``/flags`` answers compared, person by person, with
posthog-python's own local evaluation of the definitions it polls from
``/flags/definitions`` (the API token as its personal API key).
"""

from __future__ import annotations

import json
import random
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from posthog import Posthog

from tests.conftest import LiveServer, launch
from tests.customer_site import HTML, JAVASCRIPT, customer_site
from tests.js_clients import JS_DIR, require

pytestmark = pytest.mark.e2e

FLAGS = [
    {"key": "rollout-30", "name": "Thirty percent",
     "filters": {"groups": [{"properties": [], "rollout_percentage": 30}]}},
    {"key": "checkout-copy", "name": "Checkout copy test",
     "filters": {
         "groups": [{"properties": [], "rollout_percentage": 100}],
         "multivariate": {"variants": [
             {"key": "control", "rollout_percentage": 34},
             {"key": "short", "rollout_percentage": 33},
             {"key": "long", "rollout_percentage": 33}]},
         "payloads": {"short": {"headline": "Buy"}, "long": {"headline": "Buy it now"}}}},
    {"key": "beta-users", "name": "Beta for big teams",
     "filters": {"groups": [
         {"properties": [{"key": "plan", "operator": "exact", "value": ["pro", "team"]},
                         {"key": "seats", "operator": "gte", "value": 10}],
          "rollout_percentage": 80},
         {"properties": [{"key": "email", "operator": "icontains", "value": "@acme."}]}]}},
]  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    found = launch(tmp_path_factory.mktemp("flags"))
    with found.api() as api:
        for definition in FLAGS:
            created = api.post(f"/api/projects/{found.project_id}/feature_flags/", json=definition)
            assert created.status_code == 201, created.text
    yield found
    found.stop()


def people(count: int) -> list[tuple[str, dict[str, Any]]]:
    rng = random.Random(3)
    return [
        (str(uuid.UUID(int=rng.getrandbits(128))), {
            "plan": rng.choice(["free", "pro", "team", "enterprise"]),
            "seats": rng.choice([1, 5, 10, 50]),
            "email": rng.choice(["x@acme.io", "y@example.com", "z@ACME.dev"]),
        })
        for _ in range(count)
    ]  # fmt: skip


def server_values(server: LiveServer, distinct_id: str, properties: dict[str, Any]) -> Any:
    response = httpx.post(
        f"{server.url}/flags/?v=2",
        json={"token": server.public_key, "distinct_id": distinct_id,
              "person_properties": properties},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    return response.json()


def test_server_and_posthog_local_evaluation_agree_for_every_person(server: LiveServer) -> None:
    with server.api() as api:
        listed = api.get(f"/api/projects/{server.project_id}/feature_flags/").json()
    assert [flag["key"] for flag in listed["results"]] == sorted(f["key"] for f in FLAGS)

    client = Posthog(
        server.public_key, host=server.url, secret_key=server.api_token,
        feature_flags_request_timeout_seconds=10, sync_mode=True,
    )  # fmt: skip
    try:
        client.load_feature_flags()
        rolled_out = 0
        for distinct_id, properties in people(1000):
            answer = server_values(server, distinct_id, properties)
            evaluated = client.evaluate_flags(
                distinct_id, person_properties=properties, only_evaluate_locally=True
            )
            for definition in FLAGS:
                key = definition["key"]
                local = evaluated.get_flag(key)
                served = answer["flags"][key]
                value = served["variant"] or served["enabled"]
                assert value == local, (key, distinct_id, properties)
                assert answer["featureFlags"][key] == local
            rolled_out += answer["flags"]["rollout-30"]["enabled"]
        assert 270 <= rolled_out <= 330

        # posthog-python asking the server gets the same, payload included.
        distinct_id, properties = next(
            (d, p) for d, p in people(1000)
            if server_values(server, d, p)["flags"]["checkout-copy"]["variant"] == "long"
        )  # fmt: skip
        remote_only = Posthog(server.public_key, host=server.url, sync_mode=True)  # no definitions
        try:
            remote = remote_only.evaluate_flags(distinct_id, person_properties=properties)
            assert remote.get_flag("checkout-copy") == "long"
            assert remote.get_flag_payload("checkout-copy") in (
                {"headline": "Buy it now"}, '{"headline":"Buy it now"}'
            )  # fmt: skip
        finally:
            remote_only.shutdown()
    finally:
        client.shutdown()


def test_definitions_need_an_api_token_and_answer_304_when_unchanged(server: LiveServer) -> None:
    url = f"{server.url}/flags/definitions"
    assert httpx.get(url, params={"token": server.public_key}).status_code == 401
    auth = {"Authorization": f"Bearer {server.api_token}"}
    first = httpx.get(url, params={"token": server.public_key}, headers=auth)
    assert first.status_code == 200 and first.headers["etag"]
    again = httpx.get(
        url, params={"token": server.public_key},
        headers={**auth, "If-None-Match": first.headers["etag"]},
    )  # fmt: skip
    assert again.status_code == 304
    legacy = httpx.get(
        f"{server.url}/api/feature_flag/local_evaluation",
        params={"token": server.public_key}, headers=auth,
    )  # fmt: skip
    assert legacy.json() == first.json()
    unknown = httpx.get(url, params={"token": "phc_nope"}, headers=auth)
    assert unknown.status_code == 404


def test_a_change_is_served_at_once_and_audited(server: LiveServer) -> None:
    with server.api() as api:
        created = api.post(
            f"/api/projects/{server.project_id}/feature_flags/",
            json={"key": "kill-switch", "filters": {"groups": [{"rollout_percentage": 100}]}},
        ).json()
        assert server_values(server, "u1", {})["featureFlags"]["kill-switch"] is True
        patched = api.patch(
            f"/api/projects/{server.project_id}/feature_flags/{created['id']}/",
            json={"active": False},
        )
        assert patched.status_code == 200 and patched.json()["version"] == 2
        for n in range(8):  # whichever acceptor process answers
            answer = server_values(server, f"u{n}", {})
            assert answer["featureFlags"]["kill-switch"] is False
            assert answer["flags"]["kill-switch"]["reason"]["code"] == "disabled"
        activity = api.get(
            f"/api/projects/{server.project_id}/feature_flags/{created['id']}/activity/"
        ).json()["results"]
        assert [a["activity"] for a in activity] == ["updated", "created"]
        assert activity[0]["before"] == {"active": True}
        assert activity[0]["after"] == {"active": False}
        gone = api.delete(f"/api/projects/{server.project_id}/feature_flags/{created['id']}/")
        assert gone.status_code == 204
        assert "kill-switch" not in server_values(server, "u1", {})["featureFlags"]


def test_bad_definitions_and_requests_get_a_reason(server: LiveServer) -> None:
    with server.api() as api:
        refused = api.post(
            f"/api/projects/{server.project_id}/feature_flags/",
            json={"key": "split", "filters": {"multivariate": {"variants": [
                {"key": "a", "rollout_percentage": 70}, {"key": "b", "rollout_percentage": 20}]}}},
        )  # fmt: skip
        assert refused.status_code == 400
        assert "add up to 100" in refused.json()["detail"]
        missing = api.get(f"/api/projects/{server.project_id + 999}/feature_flags/")
        assert missing.status_code == 404
    no_id = httpx.post(f"{server.url}/flags/?v=2", json={"token": server.public_key})
    assert no_id.status_code == 400 and "distinct_id" in no_id.text
    bad_key = httpx.post(f"{server.url}/flags/?v=2", json={"token": "x", "distinct_id": "u"})
    assert bad_key.status_code == 401


@pytest.fixture
def sdk() -> Iterator[Any]:
    import heliograph_sdk
    from heliograph_sdk import _hub

    yield heliograph_sdk
    heliograph_sdk.shutdown(timeout=2)
    _hub.reset_for_tests()


def test_heliograph_sdk_evaluates_locally_as_the_server_does(server: LiveServer, sdk: Any) -> None:
    assert sdk.init(
        server.public_key, host=server.url, flags_token=server.api_token, install_hooks=False
    )
    client = sdk._hub.current()
    assert client.flags.poll(), "the definitions load with the API token"
    reported: list[tuple[str, dict[str, Any], str]] = []
    client.flags._capture = lambda *event: reported.append(event)
    for distinct_id, properties in people(300):
        answer = server_values(server, distinct_id, properties)
        for definition in FLAGS:
            key = definition["key"]
            assert (
                sdk.get_feature_flag(key, distinct_id, person_properties=properties)
                == (answer["featureFlags"][key])
            ), (key, distinct_id)
    assert len(reported) == 900 and all(r[1]["locally_evaluated"] for r in reported)
    distinct_id, properties = people(1)[0]
    sdk.get_feature_flag("rollout-30", distinct_id, person_properties=properties)
    assert len(reported) == 900, "a person's flag value is reported once"
    variant = sdk.get_feature_flag("checkout-copy", "user-7")
    expected = {"short": {"headline": "Buy"}, "long": {"headline": "Buy it now"}}.get(variant)
    assert sdk.get_feature_flag_payload("checkout-copy", "user-7") == expected
    assert sdk.get_feature_flag("no-such-flag", "user-7", default="fallback") == "fallback"
    client.flags._definitions = {}  # a 304 keeps what is held; a 200 would reload it
    assert client.flags.poll() and client.flags._definitions == {}


def test_heliograph_sdk_without_a_token_asks_the_server(server: LiveServer, sdk: Any) -> None:
    assert sdk.init(server.public_key, host=server.url, install_hooks=False)
    for distinct_id, properties in people(20):
        answer = server_values(server, distinct_id, properties)
        for definition in FLAGS:
            key = definition["key"]
            found = sdk.get_feature_flag(key, distinct_id, person_properties=properties)
            assert found == answer["featureFlags"][key]
            assert sdk.feature_enabled(key, distinct_id, person_properties=properties) is (
                found is not False
            )


def test_an_unreachable_server_costs_at_most_the_timeout(sdk: Any) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        silent_port = silent.getsockname()[1]
        for host in (f"http://127.0.0.1:{port}", f"http://127.0.0.1:{silent_port}"):
            assert sdk.init("phc_x", host=host, flags_timeout=0.3, install_hooks=False)
            began = time.monotonic()
            assert sdk.get_feature_flag("anything", "u1", default="safe") == "safe"
            assert sdk.feature_enabled("anything", "u1") is False
            assert time.monotonic() - began < 1.5


SENTRY_APP = """
import sys
import sentry_sdk
from sentry_sdk.feature_flags import add_feature_flag

sentry_sdk.init(dsn=sys.argv[1])
add_feature_flag("new-checkout", True)
add_feature_flag("checkout-copy", "short")
sentry_sdk.capture_exception(ValueError("broken with flags on"))
sentry_sdk.flush(10)
"""


def stored_event(server: LiveServer, event_id: str) -> dict[str, Any]:
    server.wait_for_digest()
    with server.api() as api:
        response = api.get(f"/api/0/projects/default/default/events/{event_id.replace('-', '')}/")
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_errors_carry_the_flags_the_person_had(server: LiveServer, sdk: Any) -> None:
    # sentry-sdk's flags context, as its feature-flag integrations send it.
    subprocess.run([sys.executable, "-c", SENTRY_APP, server.dsn], check=True, timeout=60)
    server.wait_for_digest()
    with server.api() as api:
        [issue] = api.get(
            "/api/0/projects/default/default/issues/", params={"query": "broken with flags on"}
        ).json()
        [event] = api.get(f"/api/0/issues/{issue['id']}/events/", params={"full": "1"}).json()
    assert event["contexts"]["flags"]["values"] == [
        {"flag": "new-checkout", "result": True},
        {"flag": "checkout-copy", "result": "short"},
    ]
    page = httpx.get(
        f"{server.url}/issues/{issue['id']}/",
        headers={"Authorization": f"Bearer {server.api_token}"},
    )
    assert 'id="feature-flags"' in page.text and "checkout-copy" in page.text

    # heliograph-sdk: the values this scope got ride on its errors.
    assert sdk.init(server.public_key, host=server.url, install_hooks=False)
    sdk.set_user(id="flagged-user")
    variant = sdk.get_feature_flag("checkout-copy")
    enabled = sdk.feature_enabled("rollout-30")
    try:
        raise RuntimeError("broken in a variant")
    except RuntimeError:
        event_id = sdk.capture_exception()
    assert sdk.flush(timeout=10)
    found = stored_event(server, event_id)
    values = {item["flag"]: item["result"] for item in found["contexts"]["flags"]["values"]}
    assert values == {"checkout-copy": variant, "rollout-30": enabled}


def test_llm_cost_and_errors_are_compared_per_variant(server: LiveServer) -> None:
    """posthog-python attaches each person's flags to their generations (flags=...)."""
    client = Posthog(server.public_key, host=server.url, secret_key=server.api_token,
                     sync_mode=True)  # fmt: skip
    expected: dict[str, int] = {}
    try:
        client.load_feature_flags()
        for n in range(60):
            distinct_id = f"buyer-{n}"
            flags = client.evaluate_flags(distinct_id, only_evaluate_locally=True)
            variant = flags.get_flag("checkout-copy")
            expected[variant] = expected.get(variant, 0) + 1
            client.capture(
                "$ai_generation", distinct_id=distinct_id, flags=flags,
                properties={"$ai_model": "gpt-4o-mini", "$ai_provider": "openai",
                            "$ai_input_tokens": 100, "$ai_output_tokens": 10,
                            "$ai_latency": 1.0, "$ai_is_error": variant == "long",
                            "$ai_trace_id": uuid.uuid4().hex},
            )  # fmt: skip
        client.flush()
    finally:
        client.shutdown()
    server.wait_for_digest()
    page = httpx.get(
        f"{server.url}/default/default/llm/",
        params={"range": "24h", "flag": "checkout-copy"},
        headers={"Authorization": f"Bearer {server.api_token}"},
    )
    assert page.status_code == 200
    section = page.text.split('id="by-flag"', 1)[1].split("</section>", 1)[0]
    for variant, count in expected.items():
        row = section.split(f'data-flag-value="{variant}"', 1)[1].split("</tr>", 1)[0]
        cells = re.findall(r'<td class="num[^"]*">([^<]*)', row)
        assert cells[0] == str(count), (variant, cells)
        assert ("err" in row) is (variant == "long")


def test_posthog_node_agrees_locally_and_remotely(server: LiveServer, tmp_path: Any) -> None:
    require("posthog-node")
    population = people(1000)
    (tmp_path / "people.json").write_text(json.dumps(population))
    result = subprocess.run(
        ["node", str(JS_DIR / "flags_node.mjs"), server.url, server.public_key,
         server.api_token, str(tmp_path / "people.json")],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    rows = json.loads(result.stdout)
    assert len(rows) == 1000
    for row, (distinct_id, properties) in zip(rows[:200], population, strict=False):
        answer = server_values(server, distinct_id, properties)
        assert row["local"] == answer["featureFlags"], distinct_id
    for row in rows[:20]:
        assert row["remote"] == row["local"], row["distinctId"]
    share = sum(row["local"]["rollout-30"] is True for row in rows) / len(rows)
    assert 0.27 <= share <= 0.33


POSTHOG_PAGE = """<!doctype html><html><head><title>posthog-js</title>
<script src="/posthog.js"></script>
<script>
  posthog.init("{key}", {api_host: "{host}", opt_out_useragent_filter: true,
                         person_profiles: "always", disable_session_recording: true,
                         advanced_disable_decide: false});
  posthog.identify("{person}", {plan: "pro", seats: 50, email: "ada@acme.io"});
  posthog.onFeatureFlags(function () {
    window.flags = {"rollout-30": posthog.getFeatureFlag("rollout-30"),
                    "checkout-copy": posthog.getFeatureFlag("checkout-copy"),
                    "beta-users": posthog.getFeatureFlag("beta-users"),
                    "payload": posthog.getFeatureFlagPayload("checkout-copy")};
  });
</script></head><body>posthog-js</body></html>"""


def test_posthog_js_in_chromium_gets_the_servers_values(server: LiveServer) -> None:
    bundle = require("posthog-js") / "dist" / "array.full.js"
    playwright = pytest.importorskip("playwright.sync_api")
    person = "js-person-1"
    page_html = (
        POSTHOG_PAGE.replace("{key}", server.public_key)
        .replace("{host}", server.url)
        .replace("{person}", person)
    )

    files = {"/": (page_html, HTML), "/posthog.js": (bundle.read_bytes(), JAVASCRIPT)}
    with customer_site(files) as site, playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page()
        page.goto(site)
        page.wait_for_function("window.flags && window.flags['checkout-copy'] !== undefined",
                               timeout=20000)  # fmt: skip
        seen = page.evaluate("window.flags")
        browser.close()
    expected = server_values(server, person, {"plan": "pro", "seats": 50, "email": "ada@acme.io"})[
        "featureFlags"
    ]
    assert {key: seen[key] for key in expected} == expected
    variant = expected["checkout-copy"]
    payloads = {"short": {"headline": "Buy"}, "long": {"headline": "Buy it now"}}
    assert seen["payload"] == payloads.get(variant)
