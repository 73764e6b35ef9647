"""Security headers, cookie flags, settings validation and the config file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from heliograph.app import create_app
from heliograph.bootstrap import ensure_defaults
from heliograph.config import ConfigError, Settings, load_config_file
from heliograph.project_settings import SettingsError, parse_key, parse_settings
from heliograph.runtime import Runtime
from heliograph.web.security import CONTENT_SECURITY_POLICY, SecurityHeadersMiddleware


def _client(https: bool = False) -> TestClient:
    async def html(request: object) -> Response:
        return HTMLResponse("<p>hi</p>")

    async def cached_html(request: object) -> Response:
        return HTMLResponse("<p>hi</p>", headers={"Cache-Control": "max-age=60"})

    async def data(request: object) -> Response:
        return JSONResponse({"ok": True})

    async def script(request: object) -> Response:
        return PlainTextResponse("x", media_type="application/javascript")

    app = Starlette(
        routes=[
            Route("/page", html),
            Route("/cached", cached_html),
            Route("/api/1/envelope/", data, methods=["POST"]),
            Route("/static/heliograph.js", script),
            Route("/static/ui.js", script),
        ],
        middleware=[Middleware(SecurityHeadersMiddleware, https=https)],
    )
    return TestClient(app)


def test_html_pages_get_the_strict_policy() -> None:
    response = _client().get("/page")
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in response.headers
    assert _client().get("/cached").headers["cache-control"] == "max-age=60"


def test_ingest_and_assets_do_not_get_the_page_policy() -> None:
    client = _client()
    ingest = client.post("/api/1/envelope/")
    assert "content-security-policy" not in ingest.headers
    assert ingest.headers["x-content-type-options"] == "nosniff"
    snippet = client.get("/static/heliograph.js")
    assert snippet.headers["cross-origin-resource-policy"] == "cross-origin"
    assert snippet.headers["access-control-allow-origin"] == "*"
    own = client.get("/static/ui.js")
    assert own.headers["cross-origin-resource-policy"] == "same-origin"
    assert "access-control-allow-origin" not in own.headers


def test_hsts_only_over_https() -> None:
    assert (
        _client(https=True).get("/page").headers["strict-transport-security"].startswith("max-age=")
    )


def test_settings_are_validated_once_for_page_and_api() -> None:
    assert parse_settings(
        {"retention_days": "30", "rate_limit": "", "scrub_extra_keys": "Foo, bar\nbaz"},
        checkboxes=True,
    ) == {
        "retention_days": 30,
        "keep_llm_payloads": False,
        "rate_limit": None,
        "scrub_extra_keys": ("foo", "bar", "baz"),
        # An unticked box is off: a form that shows them sends nothing for them.
        "replay_enabled": False,
        "replay_unmask_text": False,
        "replay_record_media": False,
        "store_ip_addresses": False,
    }
    assert parse_settings({"keep_llm_payloads": True}) == {"keep_llm_payloads": True}
    for bad in (
        {"retention_days": 0},
        {"retention_days": True},
        {"payload_max_chars": "lots"},
        {"ai_policy": "whatever"},
        {"rate_limit": -1},
        {"scrub_safe_fields": [1, 2]},
        {"scrub_safe_fields": "two words"},
        {"name": ""},
        {"keep_llm_payloads": 1},
    ):
        with pytest.raises(SettingsError):
            parse_settings(bad)
    assert parse_key({"rate_limit": "0"}, creating=True) == {"label": "Key", "rate_limit": None}
    with pytest.raises(SettingsError):
        parse_key({"label": "x" * 101}, creating=False)


def test_settings_from_environment() -> None:
    settings = Settings.from_env(
        {
            "HELIOGRAPH_PROJECT_RATE_LIMIT": "50",
            "HELIOGRAPH_LOGIN_MAX_FAILURES": "3",
            "HELIOGRAPH_LOGIN_LOCKOUT_SECONDS": "60",
            "HELIOGRAPH_RETENTION_INTERVAL": "0",
            "HELIOGRAPH_PUBLIC_URL": "https://errors.example.com",
        }
    )
    assert (settings.project_rate_limit, settings.login_max_failures) == (50, 3)
    assert (settings.login_lockout_seconds, settings.retention_interval) == (60, 0)
    assert settings.https
    with pytest.raises(ConfigError):
        Settings.from_env({"HELIOGRAPH_PROJECT_RATE_LIMIT": "-1"})


def test_config_file_fills_the_environment_without_overriding_it(tmp_path: Path) -> None:
    path = tmp_path / "heliograph.env"
    path.write_text(
        "# secrets live here, not in the repository\n"
        "HELIOGRAPH_AI_API_KEY='sk-test-123'\n"
        "export HELIOGRAPH_PORT=9000\n\n"
        'HELIOGRAPH_HOST="0.0.0.0"\n'
    )
    os.chmod(path, 0o600)
    env = {"HELIOGRAPH_HOST": "127.0.0.2"}
    assert load_config_file(path, env) == 2
    assert env == {
        "HELIOGRAPH_HOST": "127.0.0.2",
        "HELIOGRAPH_AI_API_KEY": "sk-test-123",
        "HELIOGRAPH_PORT": "9000",
    }
    path.write_text("NOT_OURS=1\n")
    with pytest.raises(ConfigError, match=":1:"):
        load_config_file(path, {})
    with pytest.raises(ConfigError):
        load_config_file(tmp_path / "missing.env", {})


@pytest.mark.parametrize("public_url", ["https://errors.example.com", ""])
def test_session_cookie_flags(tmp_path: Path, public_url: str) -> None:
    settings = Settings(data_dir=tmp_path / "data", public_url=public_url)
    runtime = Runtime(settings)
    try:
        welcome = ensure_defaults(runtime.store, settings.base_url)
        assert welcome.login_url
        client = TestClient(create_app(settings, runtime), base_url="http://testserver")
        response = client.get(
            welcome.login_url.replace(settings.base_url, ""), follow_redirects=False
        )
        assert response.status_code == 303
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie
        assert ("; secure" in cookie) == bool(public_url)
        hsts = response.headers.get("strict-transport-security")
        assert (hsts is not None) == bool(public_url)
    finally:
        runtime.close()
