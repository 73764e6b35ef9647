"""What digest, retention and alert delivery log at ERROR reaches the self-monitoring
sink, tagged with its role; floods are sampled and nothing feeds back on itself."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from heliograph import logs
from heliograph.alerts.delivery import AlertDelivery
from heliograph.alerts.rules import check_rule
from heliograph.digest import worker as worker_module
from heliograph.digest.worker import DigestWorker
from heliograph.selfmon_forward import ErrorForwarder, TokenBucket, install_forwarder
from heliograph.store import open_queue, open_store
from heliograph.store.base import DigestBatch, StoreUnavailable
from heliograph.store.contract import Store
from heliograph.store.retention import RetentionJob
from tests.conftest import free_port
from tests.contract.builders import error


@dataclass
class Sink:
    """Stands in for heliograph-sdk: remembers what would have been sent."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    also: Any = None  # called inside each capture (to log from within the sink)

    def capture_exception(
        self,
        exc: BaseException | None = None,
        *,
        level: str = "error",
        properties: Mapping[str, Any] | None = None,
        fingerprint: str | None = None,
    ) -> str | None:
        if self.also:
            self.also()
        self.sent.append({"exc": exc, "level": level, **(properties or {})})
        return "id"

    def capture_message(
        self,
        message: str,
        level: str = "info",
        *,
        properties: Mapping[str, Any] | None = None,
        fingerprint: str | None = None,
    ) -> str | None:
        if self.also:
            self.also()
        self.sent.append(
            {"message": message, "level": level, "fingerprint": fingerprint, **(properties or {})}
        )
        return "id"

    def wait(self, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.sent) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.sent


@pytest.fixture
def sink() -> Iterator[Sink]:
    """A forwarder on the root logger of a process that is digest worker 1."""
    previous = logs.identity()
    logs._identity = logs.ProcessIdentity("digest", 1)
    found = Sink()
    forwarder = install_forwarder(found)
    yield found
    logging.getLogger().removeHandler(forwarder)
    logs._identity = previous


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path}/heliograph.sqlite3")
    yield opened
    opened.close()


class FailingStore:
    """Every call fails as an unreachable database would."""

    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise StoreUnavailable("connection to postgresql://h:hunter2@db/h refused")

        return fail


def test_a_failed_retention_pass_is_reported_with_the_retention_role(sink: Sink) -> None:
    job = RetentionJob(FailingStore(), interval=0.05, first_delay=0.0)  # type: ignore[arg-type]
    job.start()
    try:
        [report, *_] = sink.wait()
    finally:
        job.stop()
    assert isinstance(report["exc"], StoreUnavailable)
    assert report["$tags"] == {"role": "retention", "worker": "1"}
    assert report["$logger"] == "heliograph.store.retention"
    assert report["$log_message"] == "retention pass failed; retrying at the next interval"


def test_a_failed_alert_pass_is_reported_with_the_alerts_role(sink: Sink) -> None:
    delivery = AlertDelivery(FailingStore(), base_url="http://h", smtp=None, every=0.05)  # type: ignore[arg-type]
    delivery.start()
    try:
        [report, *_] = sink.wait()
    finally:
        delivery.stop()
    assert isinstance(report["exc"], StoreUnavailable)
    assert report["$tags"] == {"role": "alerts", "worker": "1"}
    assert report["$logger"] == "heliograph.alerts.delivery"


def test_an_alert_given_up_on_is_reported_once_per_rule_as_a_message(
    sink: Sink, store: Store
) -> None:
    org = store.create_organization("acme", "Acme")
    project = store.create_project(org.id, "shop", "Shop")
    nowhere = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    raw = {"name": "new", "trigger": "new_issue", "actions": [{"type": "webhook", "url": nowhere}]}
    store.create_alert_rule(project.id, check_rule(raw), user_id=None)
    store.record(DigestBatch(errors=[error(project.id, g) for g in ("a", "b")]))
    with_retries = AlertDelivery(store, base_url="http://h", smtp=None, retries=(0.0,))
    assert with_retries.run_once() == 2
    assert sink.sent == []  # a retry is still to come: a warning, not an error
    assert with_retries.run_once(now=time.time() + 1) == 2
    [report] = sink.sent
    assert report["message"].startswith(
        f"2 webhook alert(s) of project {project.id} not delivered after the last attempt: "
    )
    assert report["level"] == "error" and report["$tags"]["role"] == "digest"  # test's thread
    assert report["fingerprint"] == (
        "log:heliograph.alerts.delivery:"
        "%d %s alert(s) of project %d not delivered after the last attempt: %s"
    )
    assert nowhere not in report["message"]


def test_a_digest_bug_is_reported_with_the_digest_role_and_no_payload(
    sink: Sink, tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def decode(kind: str, body: bytes, **kwargs: Any) -> Any:
        raise KeyError("a bug in a decoder")

    monkeypatch.setattr(worker_module, "decode_payload", decode)
    org = store.create_organization("acme", "Acme")
    project = store.create_project(org.id, "shop", "Shop")
    queue = open_queue(tmp_path / "data", 0)
    try:
        queue.append_nowait(project.id, "sentry", time.time(), b'{"secret": "payload body"}')
        worker = DigestWorker(queue, store)
        worker.start()
        try:
            [report] = sink.wait()
        finally:
            worker.stop()
    finally:
        queue.close()
    assert isinstance(report["exc"], KeyError)
    assert report["$tags"] == {"role": "digest", "worker": "1"}
    assert report["$log_message"].startswith("could not decode payload ")
    assert "payload body" not in repr(report)


def test_a_flood_is_sampled_and_the_next_report_counts_what_was_dropped(sink: Sink) -> None:
    forwarder = next(h for h in logging.getLogger().handlers if isinstance(h, ErrorForwarder))
    forwarder.bucket = TokenBucket(burst=3, per_minute=0.0)
    logger = logging.getLogger("heliograph.digest.worker")
    for n in range(10):
        logger.error("payload %d could not be stored: %s", n, "too big")
    assert len(sink.sent) == 3
    assert forwarder.dropped == 7
    forwarder.bucket = TokenBucket(burst=1, per_minute=0.0)
    logger.error("payload %d could not be stored: %s", 11, "too big")
    assert sink.sent[-1]["errors_not_reported_before"] == 7
    assert len({report["fingerprint"] for report in sink.sent}) == 1


def test_nothing_feeds_back_on_itself(sink: Sink) -> None:
    """An error logged while a report is sent is not reported; nor are the SDK's own."""
    inner = logging.getLogger("heliograph.digest.worker")
    sink.also = lambda: inner.error("failed while reporting")
    logging.getLogger("heliograph.store.retention").error("first")
    logging.getLogger("heliograph_sdk").error("could not send")
    logging.getLogger("httpx").error("connection refused")
    logging.getLogger("heliograph.digest.worker").warning("only a warning")
    assert [report["message"] for report in sink.sent] == ["first"]


def test_reports_from_other_threads_at_once_are_each_sent(sink: Sink) -> None:
    logger = logging.getLogger("heliograph.digest.worker")
    threads = [
        threading.Thread(target=logger.error, args=("from thread %d", n), name="digest")
        for n in range(5)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(sink.sent) == 5


def test_a_secret_in_a_logged_message_is_masked_in_the_report(sink: Sink) -> None:
    logging.getLogger("heliograph.x").error("cannot reach postgresql://h:hunter2@db/h")
    [report] = sink.sent
    assert report["message"] == "cannot reach postgresql://h:***@db/h"
    assert report["$log_message"] == report["message"]
