"""Log messages (``logger.error("... %s ...", arg)``) group by their template.

Payload shapes are the real SDKs': sentry-sdk's logging integration sends
``logentry`` with ``message`` (the template), ``params`` and ``formatted``;
older ones send no ``formatted``; ``capture_message`` sends a bare message.
"""

from __future__ import annotations

from typing import Any

from heliograph.digest.grouping import compute_grouping
from heliograph.digest.titles import event_culprit, event_title
from heliograph.model import Event
from heliograph.protocols.sentry_event import to_event


def _log(webhook: str, status: int, **extra: Any) -> Event:
    payload = {
        "level": "error",
        "logger": "shop.payments",
        "platform": "python",
        "logentry": {
            "message": "Payment webhook %s failed with status %d",
            "params": [webhook, status],
            "formatted": f"Payment webhook {webhook} failed with status {status}",
        },
        "transaction": "/webhooks/stripe",
        **extra,
    }
    return to_event(payload, project_id=1, event_id=None, received_at=1.7e9)


def test_the_template_is_kept_and_the_formatted_message_shown() -> None:
    event = _log("wh_1a2b", 500)
    assert event.message == "Payment webhook wh_1a2b failed with status 500"
    assert event.message_template == "Payment webhook %s failed with status %d"
    assert event_title(event) == "Payment webhook wh_1a2b failed with status 500"


def test_one_issue_per_log_call_whatever_its_arguments() -> None:
    hashes = {
        compute_grouping(_log(webhook, status)).hash
        for webhook, status in (("wh_1a2b", 500), ("wh_9z8y", 502), ("evt-alpha", 503))
    }
    assert len(hashes) == 1
    other = to_event(
        {"logentry": {"message": "Refund %s failed", "params": ["r1"]}},
        project_id=1,
        event_id=None,
        received_at=1.7e9,
    )
    assert compute_grouping(other).hash not in hashes


def test_params_without_formatted_are_formatted_and_still_group_by_template() -> None:
    a = to_event(
        {"logentry": {"message": "Job %s crashed", "params": ["a7"]}},
        project_id=1, event_id=None, received_at=1.7e9,
    )  # fmt: skip
    b = to_event(
        {"logentry": {"message": "Job %s crashed", "params": ["zz-top"]}},
        project_id=1, event_id=None, received_at=1.7e9,
    )  # fmt: skip
    assert a.message == "Job a7 crashed" and a.message_template == "Job %s crashed"
    assert compute_grouping(a).hash == compute_grouping(b).hash


def test_a_plain_message_has_no_template() -> None:
    for payload in (
        {"message": "Payment provider returned 503"},
        {"logentry": {"message": "Payment provider returned 503"}},
        {"logentry": {"formatted": "Payment provider returned 503"}},
        {"logentry": {"message": "Disk 100%% full", "params": []}},
    ):
        event = to_event(payload, project_id=1, event_id=None, received_at=1.7e9)
        assert event.message_template is None, payload


def test_formatted_that_differs_from_message_makes_message_the_template() -> None:
    event = to_event(
        {"logentry": {"message": "User {id} locked out", "formatted": "User 7 locked out"}},
        project_id=1, event_id=None, received_at=1.7e9,
    )  # fmt: skip
    assert event.message == "User 7 locked out"
    assert event.message_template == "User {id} locked out"


def test_a_log_message_without_a_stack_is_blamed_on_its_logger() -> None:
    assert event_culprit(_log("wh_1a2b", 500)) == "shop.payments"
    # With a stack (attach_stacktrace), the crash frame is the culprit as before.
    stacked = _log(
        "wh_1a2b",
        500,
        threads={"values": [{"stacktrace": {"frames": [
            {"function": "notify", "module": "shop.webhooks", "in_app": True}
        ]}}]},
    )  # fmt: skip
    assert event_culprit(stacked) == "shop.webhooks in notify"
