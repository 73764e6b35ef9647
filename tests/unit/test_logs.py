"""One line per event, in text or JSON, with secrets masked (``heliograph.logs``)."""

from __future__ import annotations

import io
import logging
import os
import re
import threading
from collections.abc import Iterator

import orjson
import pytest

from heliograph import logs
from heliograph.config import ConfigError, Settings
from heliograph.redact import redact

TEXT_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR|CRITICAL) "
    r"\S+ \[[a-z]+(-\d+)? pid=\d+\] .*$"
)


@pytest.fixture
def configured() -> Iterator[tuple[io.StringIO, str]]:
    """Yields a stream and the format name; configure with :func:`use`."""
    root = logging.getLogger()
    handlers, level, identity = list(root.handlers), root.level, logs.identity()
    quiet = {name: logging.getLogger(name).level for name in logs.QUIET_LOGGERS}
    stream = io.StringIO()
    yield stream, ""
    for name, quiet_level in quiet.items():
        logging.getLogger(name).setLevel(quiet_level)
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    logs._identity = identity


def use(stream: io.StringIO, log_format: str, role: str = "digest", worker: int | None = 0) -> None:
    logs.configure_logging(role, worker, log_format=log_format, level="INFO", stream=stream)


def fail() -> None:
    raise RuntimeError("boom\nwith postgresql://heli:hunter2@db/heliograph in it")


def test_text_lines_hold_one_event_each_with_the_traceback_folded(
    configured: tuple[io.StringIO, str],
) -> None:
    stream, _ = configured
    use(stream, "text")
    logger = logging.getLogger("heliograph.digest.worker")
    logger.info("digest worker %d of %d started", 0, 2)
    try:
        fail()
    except RuntimeError:
        logger.exception("could not decode payload %d\nsecond line", 7)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2, lines
    for line in lines:
        assert TEXT_LINE.match(line), line
    assert lines[0].endswith(
        f"INFO heliograph.digest.worker [digest-0 pid={os.getpid()}] digest worker 0 of 2 started"
    )
    error = lines[1]
    assert " ERROR heliograph.digest.worker [digest-0 " in error
    assert (
        "could not decode payload 7\\nsecond line | Traceback (most recent call last):\\n" in error
    )
    assert ", in fail\\n    raise RuntimeError(" in error
    assert "RuntimeError: boom\\nwith postgresql://heli:***@db/heliograph in it" in error
    assert "hunter2" not in error


def test_json_lines_parse_and_carry_the_documented_fields(
    configured: tuple[io.StringIO, str],
) -> None:
    stream, _ = configured
    use(stream, "json", role="digest", worker=1)
    logger = logging.getLogger("heliograph.store.retention")

    def retention() -> None:
        try:
            fail()
        except RuntimeError:
            logger.exception("retention pass failed; retrying at the next interval")

    thread = threading.Thread(target=retention, name="retention")
    thread.start()
    thread.join()
    logging.getLogger("heliograph.digest.process").warning("sentry_key=abcdef0123 seen")
    first, second = (orjson.loads(line) for line in stream.getvalue().splitlines())
    assert set(first) == {
        "ts", "level", "logger", "process", "role", "worker", "pid", "thread", "message", "exc",
    }  # fmt: skip
    assert first["level"] == "ERROR" and first["logger"] == "heliograph.store.retention"
    assert (first["process"], first["role"], first["worker"]) == ("digest-1", "retention", 1)
    assert first["thread"] == "retention"
    assert first["exc"].startswith("Traceback (most recent call last):\n")
    assert "hunter2" not in first["exc"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["ts"])
    assert "exc" not in second and second["role"] == "digest"
    assert second["message"] == "sentry_key=*** seen"


def test_uvicorn_records_go_through_the_same_handler(configured: tuple[io.StringIO, str]) -> None:
    stream, _ = configured
    uvicorn_error = logging.getLogger("uvicorn.error")
    uvicorn_error.addHandler(logging.NullHandler())
    uvicorn_error.propagate = False  # as uvicorn's own logging config leaves it
    use(stream, "json", role="acceptor", worker=1)
    uvicorn_error.warning("Invalid HTTP request received.")
    [line] = stream.getvalue().splitlines()
    entry = orjson.loads(line)
    assert entry["logger"] == "uvicorn.error" and entry["process"] == "acceptor-1"


def test_configuring_again_replaces_the_handler_and_keeps_others(
    configured: tuple[io.StringIO, str],
) -> None:
    stream, _ = configured
    other = logging.NullHandler()
    logging.getLogger().addHandler(other)
    use(stream, "text")
    use(stream, "json")
    logging.getLogger("heliograph.x").warning("once")
    assert len(stream.getvalue().splitlines()) == 1
    assert other in logging.getLogger().handlers
    logging.getLogger().removeHandler(other)


def test_http_clients_log_no_request_urls(configured: tuple[io.StringIO, str]) -> None:
    """httpx logs each request's URL at INFO; an alert's webhook URL is a secret."""
    stream, _ = configured
    use(stream, "text")
    logging.getLogger("httpx").info("HTTP Request: POST https://hooks.slack.com/services/T/B/X")
    logging.getLogger("httpx").warning("a warning still shows")
    [line] = stream.getvalue().splitlines()
    assert line.endswith("a warning still shows")


def test_the_roles_of_a_digest_process_s_threads() -> None:
    digest = logs.ProcessIdentity("digest", 0)
    assert digest.name == "digest-0"
    assert digest.role_of("retention") == "retention"
    assert digest.role_of("alert-delivery") == "alerts"
    assert digest.role_of("digest") == "digest"
    assert logs.ProcessIdentity("acceptor", 2).role_of("retention") == "acceptor"
    assert logs.ProcessIdentity("serve").name == "serve"


def test_log_settings_are_checked() -> None:
    settings = Settings.from_env({"HELIOGRAPH_LOG_FORMAT": "JSON", "HELIOGRAPH_LOG_LEVEL": "debug"})
    assert (settings.log_format, settings.log_level) == ("json", "DEBUG")
    assert Settings.from_env({}).log_format == "text"
    with pytest.raises(ConfigError, match="HELIOGRAPH_LOG_FORMAT"):
        Settings.from_env({"HELIOGRAPH_LOG_FORMAT": "logfmt"})
    with pytest.raises(ConfigError, match="HELIOGRAPH_LOG_LEVEL"):
        Settings.from_env({"HELIOGRAPH_LOG_LEVEL": "loud"})


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("postgresql://heli:s3cret@db:5432/h", "postgresql://heli:***@db:5432/h"),
        ("clickhouses://default:pw@ch:8443/events", "clickhouses://default:***@ch:8443/events"),
        ("http://0123456789abcdef0123456789abcdef@host/1", "http://***@host/1"),
        ("/store/?sentry_key=abc123&sentry_version=7", "/store/?sentry_key=***&sentry_version=7"),
        ("Sentry sentry_key=abc, sentry_version=7", "Sentry sentry_key=***, sentry_version=7"),
        ("Authorization: Bearer hgp_abcdefghijkl", "Authorization: Bearer ***"),
        ("{'authorization': 'Basic dXNlcjpwYXNz'}", "{'authorization': 'Basic ***'}"),
        ("host=db password=hunter2 user=h", "host=db password=*** user=h"),
        ("HELIOGRAPH_SMTP_PASSWORD=hunter2", "HELIOGRAPH_SMTP_PASSWORD=***"),
        ("key sk-ant-api03-aaaaaaaaaaaaaaaaaaaa", "key sk-***"),
        ("token hgp_abcdefghij used", "token hgp_*** used"),
        ("http://127.0.0.1:8000/issues/4/", "http://127.0.0.1:8000/issues/4/"),
        ("digest worker 0 of 2 started (pid 42)", "digest worker 0 of 2 started (pid 42)"),
        ("input_tokens=5 max_tokens=9", "input_tokens=5 max_tokens=9"),
    ],
)  # fmt: skip
def test_secret_shapes_are_masked(text: str, masked: str) -> None:
    assert redact(text) == masked
