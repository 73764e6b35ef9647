"""Configuration: off by default, environment variables, strict booleans."""

from __future__ import annotations

import logging
import threading

import pytest

import heliograph_sdk
from heliograph_sdk import _hub
from heliograph_sdk._config import resolve
from heliograph_sdk._env import parse_bool


def sdk_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "heliograph-sdk"]


def test_disabled_by_default_starts_nothing() -> None:
    before = set(threading.enumerate())
    assert heliograph_sdk.init() is False
    assert not heliograph_sdk.is_enabled()
    heliograph_sdk.capture("event", {"a": 1})
    heliograph_sdk.set_user(id="u1")
    heliograph_sdk.add_breadcrumb("crumb")
    try:
        raise ValueError("nope")
    except ValueError:
        assert heliograph_sdk.capture_exception() is None
    with heliograph_sdk.trace("t"), heliograph_sdk.trace_generation("openai", "m") as gen:
        gen.set_tokens(1, 2)
    assert heliograph_sdk.flush(0.1) is True
    assert set(threading.enumerate()) == before
    assert not sdk_threads()


def test_without_init_and_without_key_nothing_starts() -> None:
    heliograph_sdk.capture("event")
    assert not sdk_threads()
    assert _hub.client is None


def test_environment_alone_turns_it_on(server, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HELIOGRAPH_API_KEY", "phc_env")
    monkeypatch.setenv("HELIOGRAPH_HOST", server.url + "/")
    monkeypatch.setenv("HELIOGRAPH_ENVIRONMENT", "staging")
    monkeypatch.setenv("HELIOGRAPH_RELEASE", "1.2.3")
    assert not sdk_threads()
    heliograph_sdk.capture("from_env")
    assert heliograph_sdk.flush(5)
    (event,) = server.named("from_env")
    assert event["properties"]["environment"] == "staging"
    assert event["properties"]["release"] == "1.2.3"
    assert server.requests[0].body["api_key"] == "phc_env"


def test_opt_out_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELIOGRAPH_API_KEY", "phc_env")
    monkeypatch.setenv("HELIOGRAPH_OPT_OUT", "yes")
    assert heliograph_sdk.init() is False
    heliograph_sdk.capture("x")
    assert not sdk_threads()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"HELIOGRAPH_ENVIRONMENT": "prod", "HELIOGRAPH_DEV": "1"}, "prod"),
        ({"HELIOGRAPH_DEV": "true", "HELIOGRAPH_CHANNEL": "beta"}, "development"),
        ({"HELIOGRAPH_DEV": "off", "HELIOGRAPH_CHANNEL": "beta"}, "beta"),
        ({}, "unknown"),
    ],
)
def test_environment_resolution(env: dict[str, str], expected: str) -> None:
    assert resolve(environ=env).environment == expected


def test_defaults() -> None:
    settings = resolve(environ={})
    assert settings.host == "http://127.0.0.1:8000"
    assert settings.identify == "id"
    assert settings.llm_payloads is False
    assert settings.llm_payload_max_chars == 30000
    assert settings.enabled is False


def test_explicit_arguments_beat_environment() -> None:
    env = {"HELIOGRAPH_API_KEY": "k1", "HELIOGRAPH_ENVIRONMENT": "a", "HELIOGRAPH_IDENTIFY": "full"}
    settings = resolve(api_key="k2", environment="b", identify="none", environ=env)
    assert (settings.api_key, settings.environment, settings.identify) == ("k2", "b", "none")


@pytest.mark.parametrize("word", ["1", "true", "YES", "On", " on "])
def test_true_words(word: str) -> None:
    assert parse_bool(word, name="X", default=False) is True


@pytest.mark.parametrize("word", ["0", "false", "No", "OFF"])
def test_false_words(word: str) -> None:
    assert parse_bool(word, name="X", default=True) is False


def test_bad_boolean_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    env = {"HELIOGRAPH_LLM_PAYLOADS": "maybe"}
    with caplog.at_level(logging.WARNING, logger="heliograph_sdk"):
        assert resolve(environ=env).llm_payloads is False
        assert resolve(environ=env).llm_payloads is False
    warnings = [r for r in caplog.records if "HELIOGRAPH_LLM_PAYLOADS" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING


def test_bad_identify_and_max_chars_warn_and_fall_back(caplog: pytest.LogCaptureFixture) -> None:
    env = {"HELIOGRAPH_IDENTIFY": "everything", "HELIOGRAPH_LLM_PAYLOAD_MAX_CHARS": "lots"}
    with caplog.at_level(logging.WARNING, logger="heliograph_sdk"):
        settings = resolve(environ=env)
    assert settings.identify == "id"
    assert settings.llm_payload_max_chars == 30000
    assert len(caplog.records) == 2


def test_unknown_tuning_argument_is_an_error() -> None:
    with pytest.raises(TypeError):
        resolve(environ={}, batchsize=3)
