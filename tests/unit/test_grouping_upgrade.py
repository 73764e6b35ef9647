"""After the upgrade to grouping v2, issues made by v1 keep receiving their events."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from heliograph.digest.grouping import compute_grouping
from heliograph.digest.prepare import prepare_event
from heliograph.protocols.sentry_event import to_event
from heliograph.store.base import DigestBatch, GroupedEvent, IssueFilter
from tests.ingest_app import IngestApp, ingest_app
from tests.payloads import auth_header, envelope


def _log_call(webhook: str, status: int) -> dict[str, Any]:
    """``logger.error("Payment webhook %s failed with status %d", ...)`` as sentry-sdk sends it."""
    return {
        "event_id": uuid.uuid4().hex,
        "platform": "python",
        "level": "error",
        "logger": "shop.payments",
        "logentry": {
            "message": "Payment webhook %s failed with status %d",
            "params": [webhook, status],
            "formatted": f"Payment webhook {webhook} failed with status {status}",
        },
    }


@pytest.fixture
def app(tmp_path: Path) -> Iterator[IngestApp]:
    with ingest_app(tmp_path / "data") as found:
        yield found


def _send(app: IngestApp, event: dict[str, Any]) -> None:
    response = app.client.post(
        f"/api/{app.project_id}/envelope/",
        content=envelope(event),
        headers=auth_header(app.public_key),
    )
    assert response.status_code == 200, response.text


def _issues(app: IngestApp) -> dict[str, int]:
    issues, _ = app.runtime.store.list_issues(IssueFilter(app.project_id), limit=10, cursor=None)
    return {issue.group_hash: issue.times_seen for issue in issues}


def test_the_v1_and_v2_hashes_differ_only_where_v2_changed_the_rules() -> None:
    log = to_event(_log_call("wh_1", 500), project_id=1, event_id=None, received_at=0.0)
    grouping = compute_grouping(log)
    assert grouping.v1_hash is not None and grouping.v1_hash != grouping.hash
    plain = {**_log_call("wh_1", 500), "logentry": {"message": "Payment provider down"}}
    assert (
        compute_grouping(to_event(plain, project_id=1, event_id=None, received_at=0.0)).v1_hash
        is None
    )


def test_a_v1_issue_keeps_its_events_and_a_new_project_groups_by_v2(app: IngestApp) -> None:
    # An issue stored before the upgrade: grouped by v1 (by its formatted message).
    old = to_event(
        _log_call("wh_1", 502), project_id=app.project_id, event_id=None, received_at=1.0
    )
    prepared = prepare_event(old, app.runtime.store.get_project_by_id(app.project_id))
    assert isinstance(prepared, GroupedEvent) and prepared.v1_hash is not None
    v1_issue = GroupedEvent(old, prepared.v1_hash, "v1", prepared.title, prepared.culprit)
    app.runtime.store.record(DigestBatch(errors=[v1_issue]))

    _send(app, _log_call("wh_1", 502))  # the same call after the upgrade: v1 issue
    app.digest()
    assert _issues(app) == {prepared.v1_hash: 2}, "the event went to a new issue"

    # Other arguments, which v1 split off: one v2 issue for all of them.
    _send(app, _log_call("wh_2", 502))
    _send(app, _log_call("wh_3", 404))
    app.digest()
    counts = _issues(app)
    assert counts.pop(prepared.v1_hash) == 2
    assert list(counts.values()) == [2]
