"""The door from the queue to digest: payload kinds decoded into events and outcomes."""

from __future__ import annotations

import orjson

from heliograph.digest.decoders import decode_payload


def test_sdk_client_reports_become_client_discard_outcomes() -> None:
    body = orjson.dumps(
        [
            {
                "event": "$client_report",
                "distinct_id": "anon",
                "properties": {"$dropped_events": {"queue_full": 7, "network_error": 2, "x": "no"}},
                "timestamp": "2026-01-01T00:00:00+00:00",
                "uuid": "5f0c7c2e-6a0e-4a7c-9c53-6c1b8c1f6d10",
            },
            {
                "event": "$pageview",
                "distinct_id": "user-1",
                "properties": {},
                "timestamp": "2026-01-01T00:00:00+00:00",
                "uuid": "6f0c7c2e-6a0e-4a7c-9c53-6c1b8c1f6d10",
            },
        ]
    )
    decoded = decode_payload("posthog", body, encoding=None, project_id=3, received_at=0.0)
    assert [e.name for e in decoded.events] == ["$pageview"]
    assert {(o.outcome, o.reason, o.quantity) for o in decoded.outcomes} == {
        ("client_discard", "queue_full", 7),
        ("client_discard", "network_error", 2),
    }
    assert all(o.project_id == 3 for o in decoded.outcomes)


def test_sentry_client_reports_and_other_items_are_counted() -> None:
    report = orjson.dumps(
        {"discarded_events": [{"reason": "ratelimit_backoff", "category": "error", "quantity": 4}]}
    )
    body = b"\n".join(
        [
            b"{}",
            b'{"type":"client_report"}',
            report,
            b'{"type":"session"}',
            b'{"sid":"a","status":"ok"}',
        ]
    )
    decoded = decode_payload("sentry_envelope", body, encoding=None, project_id=1, received_at=0.0)
    assert decoded.events == []
    assert {(o.category, o.outcome, o.reason, o.quantity) for o in decoded.outcomes} == {
        ("error", "client_discard", "ratelimit_backoff", 4),
        ("session", "accepted", "session", 1),
    }
